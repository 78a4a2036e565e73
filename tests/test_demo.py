from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from labeling.models import Document, Span
from projects.models import Membership, Project


@pytest.mark.django_db
def test_load_demo_creates_a_tagged_project_once_and_prints_a_login():
    out = StringIO()
    call_command("load_demo", "--password", "s3cret-demo-pass", stdout=out)
    project = Project.objects.get(name="LoanAgreements")
    assert "password 's3cret-demo-pass'" in out.getvalue()
    assert Membership.objects.get(project=project).role == "owner"
    assert Document.objects.filter(project=project).count() == 113
    assert Document.objects.filter(project=project, split="test").count() == 24
    assert Span.objects.filter(document__project=project).count() == 1393
    assert set(project.entity_types.values_list("name", flat=True)) == {"Person", "Organization", "Location"}
    first = Document.objects.filter(project=project).order_by("id").first()
    span = first.spans.order_by("start").first()
    assert first.text[span.start : span.end] == "SILICON VALLEY BANK"

    again = StringIO()
    call_command("load_demo", stdout=again)
    assert "already exists" in again.getvalue()
    assert Document.objects.filter(project=project).count() == 113
