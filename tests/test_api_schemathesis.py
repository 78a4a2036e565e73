"""schemathesis against the OpenAPI schema: every operation, through the WSGI app, signed in with an API key.

Its default checks must all pass: no server error, only documented status codes and content types, answers that
match their schemas, and requests that break the schema refused. Generation is bounded (SCHEMATHESIS_EXAMPLES per
operation, deterministic) so that the suite stays a few minutes on two cores; raise it for a longer hunt.
"""

from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from projects.roles import Role
from projects.services import api_key_create
from tests.labeling.factories import DocumentFactory, SpanFactory
from tests.projects.factories import EntityTypeFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
schema.config.generation.update(
    max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", 15)),
    deterministic=True,
    # HTTP APIs ignore headers and query parameters they do not know (proxies and clients add their own), so a
    # request carrying extra ones is not invalid data that should have been refused.
    allow_extra_parameters=False,
)

# schemathesis's default checks: server errors, status codes, content types, response schemas, and requests that
# break the schema and should have been refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def existing(db):
    """A project with data, so that generated requests reach more than 404s; its owner's API key."""
    user = UserFactory(username="owner")
    project = ProjectFactory(name="contracts")
    MembershipFactory(project=project, user=user, role=Role.OWNER)
    member = UserFactory(username="bob")
    MembershipFactory(project=project, user=member, role=Role.ANNOTATOR)
    person = EntityTypeFactory(project=project, name="Person")
    document = DocumentFactory(project=project)
    span = SpanFactory(document=document, entity_type=person, start=28, end=39)
    DocumentFactory(project=project, split="test")
    api_key, raw = api_key_create(user=user, name="schemathesis")
    ids = {
        "project_name": [project.name],
        "document_id": [document.pk],
        "entity_type_id": [person.pk],
        "span_id": [span.pk],
        "api_key_id": [api_key.pk],
        "username": [member.username],
    }
    # As Django's test client does: the test's transaction holds the connection, so requests must not close it.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Api-Key {raw}"}, ids
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_api_meets_its_schema(case, existing):
    headers, ids = existing
    for name, value in (case.path_parameters or {}).items():
        known = ids.get(name)
        if known and isinstance(value, type(known[0])):
            # Three requests in four name what exists; the fourth keeps the generated name, for the 404 answers.
            choice = zlib.crc32(str(value).encode()) % (len(known) * 4)
            if choice < len(known) * 3:
                case.path_parameters[name] = known[choice % len(known)]
    case.call_and_validate(headers=headers, checks=CHECKS)
