"""``.env.example`` and the README's configuration table, generated from :class:`myapp.config.AppConfig`.

The field descriptions (and ``examples``) in ``myapp/config.py`` are the one written copy of
what each variable means; ``python manage.py config_docs --write`` renders them into
``.env.example`` (every variable with its default, a comment above it) and into the table
between :data:`TABLE_BEGIN` and :data:`TABLE_END` in ``README.md``. ``--check`` (run by
``scripts/test.sh``) fails when either file differs from what the fields give. No Django here.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from myapp.config import AppConfig

#: Where each group of variables starts in ``.env.example``: first field -> heading.
SECTIONS = {
    "DJANGO_SECRET": "Django",
    "SECURE_SSL_REDIRECT": 'Security (README, "Security")',
    "TENANT_ID": "Entra ID sign-in (leave TENANT_ID and CLIENT_ID empty for local accounts only)",
    "LIVY_BACKEND": "Livy",
    "FABRIC_AUTH": "Fabric (LIVY_BACKEND=fabric)",
}
ENV_HEADER = """\
# Configuration of the Livy web front end. Copy to .env (scripts/run.sh does, with a fresh
# DJANGO_SECRET). Real environment variables win over this file. Durations are in seconds.
# An invalid security setting (DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, SECURE_*, secrets) stops
# the server at start; any other invalid value is reported by `python manage.py check`. Both name
# the variable.
# Generated from myapp/config.py by `python manage.py config_docs --write`: edit the descriptions there.
"""
TABLE_BEGIN = "<!-- config-table: generated from myapp/config.py by `python manage.py config_docs --write` -->"
TABLE_END = "<!-- config-table end -->"
WIDTH = 100


def env_text(value: Any) -> str:
    """A default as it is written in an environment variable: ``true``/``false``, comma lists,
    JSON objects, numbers without a useless ``.0``, empty for None or an empty secret."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _help(name: str, quote: str = "") -> str:
    field = AppConfig.model_fields[name]
    text = (field.description or "").strip()
    if field.examples and str(field.examples[0]) != env_text(field.default):
        text += f" Example: {quote}{name}={field.examples[0]}{quote}"
    return text


def env_example() -> str:
    """The whole text of ``.env.example``."""
    out = [ENV_HEADER]
    for name, field in AppConfig.model_fields.items():
        if name in SECTIONS:
            heading = f"# --- {SECTIONS[name]} "
            out.append("\n" + heading + "-" * max(3, WIDTH - len(heading)) + "\n")
        # A placeholder such as <workspace id> is never cut in two.
        text = re.sub(r"<[^<>]*>", lambda m: m.group().replace(" ", "\0"), _help(name))
        for line in textwrap.wrap(text, WIDTH - 2, break_on_hyphens=False, break_long_words=False):
            out.append(f"# {line}\n".replace("\0", " "))
        out.append(f"{name}={env_text(field.default)}\n")
    return "".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def readme_table() -> str:
    """The configuration table of the README (one row per variable), between its markers."""
    rows = [TABLE_BEGIN, "| variable | default | meaning |", "|---|---|---|"]
    for name, field in AppConfig.model_fields.items():
        default = env_text(field.default)
        shown = f"`{_cell(default)}`" if default else "empty"
        rows.append(f"| `{name}` | {shown} | {_cell(_help(name, quote='`'))} |")
    rows.append(TABLE_END)
    return "\n".join(rows) + "\n"


def render_readme(text: str) -> str:
    """``text`` (the README) with its table replaced by :func:`readme_table`. Raises
    ``ValueError`` when the markers are missing."""
    start, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {TABLE_BEGIN!r} ... {TABLE_END!r} markers around its configuration table")
    after = text.index("\n", end) + 1 if "\n" in text[end:] else len(text)
    return text[:start] + readme_table() + text[after:]


def expected(root: Path) -> dict[Path, str]:
    """What ``.env.example`` and ``README.md`` under ``root`` should hold."""
    readme = root / "README.md"
    return {root / ".env.example": env_example(), readme: render_readme(readme.read_text(encoding="utf-8"))}


def stale(root: Path) -> list[Path]:
    """The generated files under ``root`` that differ from what the fields give."""
    return [path for path, text in expected(root).items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def write(root: Path) -> list[Path]:
    """Regenerate the files under ``root``; returns those that changed."""
    changed = stale(root)
    for path, text in expected(root).items():
        if path in changed:
            path.write_text(text, encoding="utf-8")
    return changed
