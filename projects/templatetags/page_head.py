"""The head of a page: its heading with the page's actions beside it, in one toolbar.

A base template cannot tell whether a page filled a block, so the head cannot be a block of ``base.html`` without every
page that has none rendering an empty toolbar; a block tag wraps only the pages that ask for it. Its markup stays in
``partials/page_head.html``.
"""

from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_block_tag
def page_head(content: SafeString, heading: str) -> str:
    """``{% page_head "Models" %}<a class="button" ...>Training</a>{% endpage_head %}``: the content is the actions."""
    return render_to_string("partials/page_head.html", {"heading": heading, "actions": content})
