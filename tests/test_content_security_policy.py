"""The Content-Security-Policy every answer carries, and the source that keeps to it.

tests/browser/test_csp.py opens every page in Chromium and fails on any violation; this file needs no browser:
it checks the header and scans the templates, our JavaScript and the Python that writes HTML for what the policy
refuses (inline scripts, inline event handlers, style attributes and <style> elements).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    # As HTML writes attributes (name="..."), not as Python assigns a variable named style.
    "inline event handler": re.compile(r"""\son[a-z]+=["'\\]""", re.IGNORECASE),
    "style attribute": re.compile(r"""\sstyle=["'\\]""", re.IGNORECASE),
    "<style> element": re.compile(r"<style\b", re.IGNORECASE),
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}
DJANGO_COMMENTS = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.DOTALL)


def _sources() -> list[Path]:
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("static/js/**/*.js")]
    for app in ("projects", "labeling", "evaluation", "serving", "portability"):
        files += [path for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts]
    return sorted(files)


def test_every_answer_carries_a_policy_without_inline_code_or_eval(owner_client):
    policy = owner_client.get(reverse("projects:project_list"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert owner_client.get("/api/v1/projects/")["Content-Security-Policy"] == policy


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(ROOT)))
def test_no_source_holds_what_the_policy_refuses(path):
    text = DJANGO_COMMENTS.sub("", path.read_text())
    found = [
        f"{what} on line {text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}"
        for what, pattern in FORBIDDEN.items()
        for match in pattern.finditer(text)
    ]
    assert found == []
