"""The fuzz strategies themselves: an input drawn once must not change what later draws are made of."""

from __future__ import annotations

from tests.ner.fuzz_inputs import _edited


def test_an_edit_inside_a_value_put_by_an_earlier_edit_leaves_that_value_as_it_was():
    # WRONG's [[]] is one object for every example: the second edit used to write into it, and with itself as the
    # value it became [[...]], which every later draw then failed to serialise ("Circular reference detected").
    nested: list[list[object]] = [[]]
    template = {"documents": [{"id": "1"}]}
    document = _edited(template, [(("documents",), False, nested), (("documents", 0), False, nested)])
    assert nested == [[]]
    assert document == {"documents": [[[]]]}
