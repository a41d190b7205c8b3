"""Markdown cells rendered on the server (markdown-it-py) and sanitised with nh3."""

from __future__ import annotations

from livy.notebooks.markdown import render_markdown


def test_commonmark_with_tables_and_strikethrough():
    html = render_markdown("# Sales\n\nSome **bold** and ~~old~~ text.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h1>Sales</h1>" in html
    assert "<strong>bold</strong>" in html and "<s>old</s>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_code_blocks_are_escaped():
    html = render_markdown("```python\nif a < b: print('<b>')\n```")
    assert "<pre><code>if a &lt; b: print('&lt;b&gt;')" in html


def test_scripts_handlers_and_javascript_links_are_removed():
    html = render_markdown("Hi <span onclick=\"steal()\">there</span>\n\n<script>alert(1)</script>\n\n"
                           "[click](javascript:alert(1)) [ok](https://spark.apache.org/)")
    assert "<script" not in html and "alert(1)</" not in html and "onclick" not in html
    assert 'href="javascript' not in html  # markdown-it refuses the link: it stays text
    assert '<a href="https://spark.apache.org/" rel="noopener noreferrer">ok</a>' in html
    assert "<span>there</span>" in html


def test_images_keep_no_source():
    html = render_markdown("![chart](https://tracker.example/pixel.png)")
    assert "tracker.example" not in html and 'alt="chart"' in html


def test_empty_source():
    assert render_markdown("") == ""
