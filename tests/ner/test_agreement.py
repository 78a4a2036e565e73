"""ner.agreement: the numbers on the agreement page, checked by hand-countable cases."""

from __future__ import annotations

import pytest

from ner.agreement import (
    AgreementError,
    AnnotatedDoc,
    agreement_report,
    cohen_kappa,
    conflict_groups,
    document_agreement,
    only_tagged_by,
    pair_agreement,
    span_votes,
)
from ner.metrics import Counts
from ner.types import Span

TEXT = "Alice Smith of Contoso met Bob in Paris."
TOKENS = ((0, 5), (6, 11), (12, 14), (15, 22), (23, 26), (27, 30), (31, 33), (34, 39), (39, 40))
ALICE = Span(0, 11, "Person")
CONTOSO = Span(15, 22, "Org")
BOB = Span(27, 30, "Person")
PARIS = Span(34, 39, "Place")


def doc(name: str = "d", tokens: bool = True, **layers: list[Span]) -> AnnotatedDoc:
    return AnnotatedDoc(name=name, layers=layers, tokens=TOKENS if tokens else None)


def test_perfect_agreement_scores_one_everywhere():
    same = [ALICE, CONTOSO, BOB, PARIS]
    pair = pair_agreement([doc(ann=same, ben=list(same))], "ann", "ben")
    assert (pair.overall.tp, pair.overall.fp, pair.overall.fn) == (4, 0, 0)
    assert pair.f1 == 1.0
    assert pair.type_f1("Person") == 1.0
    assert pair.kappa == 1.0


def test_no_shared_span_scores_zero():
    pair = pair_agreement([doc(ann=[ALICE, CONTOSO], ben=[BOB, PARIS])], "ann", "ben")
    assert (pair.overall.tp, pair.overall.fp, pair.overall.fn) == (0, 2, 2)
    assert pair.f1 == 0.0
    assert pair.kappa is not None and pair.kappa < 0.2


def test_both_tagging_nothing_is_agreement_not_zero():
    pair = pair_agreement([doc(ann=[], ben=[])], "ann", "ben")
    assert pair.f1 == 1.0
    assert pair.kappa == 1.0  # every token "O" on both sides
    assert pair.per_type == {}


def test_partial_agreement_counts_exact_matches_only():
    # ben agrees on Alice and Paris, cuts Contoso's span differently and calls Bob a place.
    ann = [ALICE, CONTOSO, BOB, PARIS]
    ben = [ALICE, Span(15, 26, "Org"), Span(27, 30, "Place"), PARIS]
    pair = pair_agreement([doc(ann=ann, ben=ben)], "ann", "ben")
    assert (pair.overall.tp, pair.overall.fp, pair.overall.fn) == (2, 2, 2)
    assert pair.f1 == pytest.approx(0.5)


def test_per_type_scores_each_type_alone():
    ann = [ALICE, BOB, PARIS]
    ben = [ALICE, Span(27, 30, "Place"), PARIS]
    pair = pair_agreement([doc(ann=ann, ben=ben)], "ann", "ben")
    assert pair.type_f1("Person") == pytest.approx(2 * 1 / (2 * 1 + 0 + 1))  # Alice matched, Bob missed
    assert pair.type_f1("Place") == pytest.approx(2 * 1 / (2 * 1 + 1 + 0))  # Paris matched, Bob extra
    assert pair.type_f1("Org") is None  # neither used it


def test_agreement_is_symmetric():
    ann = [ALICE, CONTOSO, BOB]
    ben = [ALICE, PARIS]
    forward = pair_agreement([doc(ann=ann, ben=ben)], "ann", "ben")
    backward = pair_agreement([doc(ann=ann, ben=ben)], "ben", "ann")
    assert forward == backward
    swapped = pair_agreement([doc(ann=ben, ben=ann)], "ann", "ben")
    assert swapped.f1 == forward.f1
    assert swapped.kappa == pytest.approx(forward.kappa)
    assert (swapped.overall.fp, swapped.overall.fn) == (forward.overall.fn, forward.overall.fp)


def test_an_annotator_cannot_be_compared_with_themself():
    with pytest.raises(AgreementError, match="themself"):
        pair_agreement([doc(ann=[ALICE])], "ann", "ann")


def test_report_pools_pairs_and_orders_documents_worst_first():
    docs = [
        doc("calm", ann=[ALICE], ben=[ALICE], cy=[ALICE]),
        doc("stormy", ann=[ALICE, PARIS], ben=[BOB], cy=[ALICE]),
        doc("alone", ann=[ALICE]),  # one layer: nothing to compare
    ]
    report = agreement_report(docs)
    assert report.annotators == ("ann", "ben", "cy")
    assert [d.name for d in report.documents] == ["stormy", "calm"]
    assert report.documents[0].lowest_f1 == 0.0
    assert report.documents[1].lowest_f1 == 1.0
    # ann-cy: calm 1 tp; stormy Alice tp, Paris only ann -> tp 2, fn 1
    ann_cy = report.pair("cy", "ann")
    assert ann_cy is not None and (ann_cy.overall.tp, ann_cy.overall.fn, ann_cy.overall.fp) == (2, 1, 0)
    assert ann_cy.documents == 2
    total = sum((p.overall for p in report.pairs), start=Counts())
    assert report.overall == total
    assert set(report.per_type) == {"Person", "Place"}
    assert report.kappa is not None


def test_report_leaves_out_pairs_without_a_shared_document():
    report = agreement_report([doc("one", ann=[ALICE], ben=[ALICE]), doc("two", cy=[BOB], dan=[BOB])])
    assert [(p.first, p.second) for p in report.pairs] == [("ann", "ben"), ("cy", "dan")]
    assert report.pair("ann", "cy") is None


def test_kappa_needs_tokens():
    assert pair_agreement([doc(tokens=False, ann=[ALICE], ben=[ALICE])], "ann", "ben").kappa is None


def test_cohen_kappa_textbook_value():
    # 50 items: both yes 20, both no 15, a-yes/b-no 5, a-no/b-yes 10 -> po 0.7, pe 0.5 -> kappa 0.4
    a = ["yes"] * 20 + ["no"] * 15 + ["yes"] * 5 + ["no"] * 10
    b = ["yes"] * 20 + ["no"] * 15 + ["no"] * 5 + ["yes"] * 10
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None
    with pytest.raises(AgreementError):
        cohen_kappa(["a"], [])


def test_document_agreement_lists_every_pair():
    result = document_agreement(doc(ann=[ALICE], ben=[ALICE], cy=[]))
    assert [(p.first, p.second, p.f1) for p in result.pairs] == [
        ("ann", "ben", 1.0),
        ("ann", "cy", 0.0),
        ("ben", "cy", 0.0),
    ]


def test_votes_say_who_tagged_what_and_what_only_one_tagged():
    layers = {"ann": [ALICE, PARIS], "ben": [ALICE, BOB]}
    votes = span_votes(layers)
    assert [(v.span, sorted(v.annotators)) for v in votes] == [
        (ALICE, ["ann", "ben"]),
        (BOB, ["ben"]),
        (PARIS, ["ann"]),
    ]
    assert votes[0].unanimous(layers) and not votes[1].unanimous(layers)
    assert only_tagged_by(layers) == {"ann": [PARIS], "ben": [BOB]}


def test_conflict_groups_cluster_overlapping_spans():
    layers = {"ann": [ALICE, Span(15, 22, "Org")], "ben": [Span(0, 5, "Person"), Span(6, 22, "Org")], "cy": [PARIS]}
    groups = conflict_groups(span_votes(layers))
    assert [[v.span for v in group] for group in groups] == [
        [Span(0, 5, "Person"), ALICE, Span(6, 22, "Org"), Span(15, 22, "Org")],  # chained by overlap
        [PARIS],
    ]
