"""Pages that htmx refreshes a region of: one test for "a region, not the whole page", one spelling of the template."""

from __future__ import annotations

from django.http import HttpRequest


def wants_partial(request: HttpRequest) -> bool:
    """An htmx request asks for a region of the page; a boosted one (a link or form htmx took over) for all of it."""
    return bool(request.htmx and not request.htmx.boosted)


def page_or_partial(request: HttpRequest, template: str, partial: str) -> str:
    """The template to render: the named partial of ``template`` for an htmx region request, else the whole page."""
    return f"{template}#{partial}" if wants_partial(request) else template
