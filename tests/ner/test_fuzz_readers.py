"""Every reader in ner.formats, fed 1,000 hostile files each: it returns documents or raises FormatError, nothing else
(no RecursionError, TypeError, KeyError... that would be a 500 on the import page)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from ner.formats import FORMATS, FormatError
from ner.types import LabeledDoc
from tests.ner.fuzz_inputs import READER_EXAMPLES, SAMPLE_DOCS, files_like


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_a_reader_answers_any_input_with_documents_or_a_format_error(format_name):
    spec = FORMATS[format_name]
    read = []

    @settings(max_examples=READER_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(files_like(spec.writer(SAMPLE_DOCS)))  # shaped like the format's own files
    def read_anything(raw: bytes) -> None:
        read.append(raw)
        try:
            docs = spec.reader(raw, file_name="fuzz" + spec.extension)
        except FormatError as error:
            assert error.problems, "a FormatError names at least one problem"
            return
        assert all(isinstance(doc, LabeledDoc) for doc in docs)

    read_anything()
    assert len(read) >= READER_EXAMPLES
