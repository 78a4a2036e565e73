"""Error pages inside the layout, one log line per refusal, and a favicon (browsers ask for one on every page)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from projects.roles import Role

ROOT = Path(__file__).resolve().parent.parent


def _in_layout(body: str) -> bool:
    return 'class="topbar"' in body and f'href="{reverse("projects:project_list")}"' in body


def test_a_missing_page_is_shown_in_the_layout(owner_client, project):
    response = owner_client.get(f"/projects/{project.name}/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert _in_layout(body)
    assert "There is nothing here" in body and "Your projects" in body


def test_a_refused_page_says_why_in_the_layout(client, project, member_of):
    client.force_login(member_of(project, Role.VIEWER))
    response = client.get(reverse("projects:project_edit", args=[project.name]))
    body = response.content.decode()
    assert response.status_code == 403
    assert _in_layout(body)
    assert "You can't do this here" in body
    assert f"Your role in {project.name} does not allow this" in body


def test_a_server_error_is_shown_in_the_layout():
    # Django renders 500.html without the request (nothing that could fail again), so the page must not need one.
    response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert _in_layout(body)
    assert "Something went wrong on our side" in body


def test_each_refusal_is_one_log_line_without_a_traceback(client, project, member_of, caplog):
    client.force_login(member_of(project, Role.VIEWER))
    url = reverse("projects:project_edit", args=[project.name])
    with caplog.at_level(logging.INFO):
        assert client.get(url).status_code == 403
        assert client.get(f"/projects/{project.name}/no-such-page/").status_code == 404
    lines = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert lines == [
        (
            "WARNING",
            f"Forbidden (Permission denied): {url} (Your role in {project.name} does not allow this (edit_project).)",
        ),
        ("WARNING", f"Not Found: /projects/{project.name}/no-such-page/"),
    ]
    assert all(record.exc_info is None for record in caplog.records)
    assert "Traceback" not in caplog.text


def test_every_page_names_its_icon_and_the_icon_is_served(owner_client):
    body = owner_client.get(reverse("projects:project_list")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in body
    redirect = owner_client.get("/favicon.ico")
    assert redirect.status_code == 302 and redirect["Location"] == "/static/favicon.svg"
    icon = owner_client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(icon.streaming_content)


def test_a_refusal_is_printed_once_when_debugging_too(tmp_path):
    # Under DEBUG, Django's own console handler used to print each record beside the root's: two tracebacks.
    code = (
        "import django; django.setup()\n"
        "from django.contrib.auth.models import AnonymousUser\n"
        "from django.core.exceptions import PermissionDenied\n"
        "from django.core.handlers.exception import response_for_exception\n"
        "from django.test import RequestFactory\n"
        "request = RequestFactory().get('/projects/x/settings/')\n"
        "request.user = AnonymousUser()\n"
        "print(response_for_exception(request, PermissionDenied('Your role does not allow this.')).status_code)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "NERLAB_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.local", "NERLAB_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "403", result.stderr
    assert result.stderr.strip().splitlines() == [
        "Forbidden (Permission denied): /projects/x/settings/ (Your role does not allow this.)"
    ]
