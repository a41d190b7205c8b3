"""Markdown cells rendered on the server: CommonMark plus GitHub's tables and strikethrough
(markdown-it-py, the Python port of markdown-it), then sanitised with nh3 as Livy's HTML
output is (:mod:`livy.output`).

A notebook's markdown is written by its owner and read by the people it is shared with, so it
is untrusted for them: raw HTML in it is allowed (as in Jupyter) but goes through nh3's
allow-list (no scripts, no event handlers, no ``javascript:`` URLs), images keep no ``src``
(a picture from another site would be a tracking pixel; the Content-Security-Policy blocks it
too), and links get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

#: The parser: configuration only, no per-user state (safe to share between requests).
_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _no_image_src(element: str, attribute: str, value: str) -> str | None:
    return None if element == "img" and attribute == "src" else value


def render_markdown(source: str) -> SafeString:
    """``source`` (a markdown cell) as sanitised HTML, safe to insert into a page."""
    return mark_safe(nh3.clean(_PARSER.render(source or ""), attribute_filter=_no_image_src))
