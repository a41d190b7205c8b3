"""``.env.example`` and the README's configuration table are generated from the field
descriptions of ``myapp/config.py`` (``manage.py config_docs``), and kept current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from myapp import config_docs
from myapp.config import AppConfig

ROOT = Path(__file__).resolve().parents[2]
#: The names the developers' guide promises keep working.
GUIDE_NAMES = {"DJANGO_SECRET", "TENANT_ID", "CLIENT_ID", "CLIENT_SECRET", "REDIRECT_URI", "LOGOUT_URI", "ROLES",
               "GRAPH_USER_ENDPOINT", "GRAPH_MEMBER_ENDPOINT", "LIVY_BACKEND", "LIVY_BASE_ENDPOINT",
               "LIVY_REQUESTS_TIMEOUT", "LIVY_SESSION_NAME_PREFIX", "LIVY_SPARK_CONF", "LIVY_SPARK_DEPENDENCIES"}


def _manage(*args, cwd=ROOT):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["LIVY_DOTENV"] = "0"
    return subprocess.run([sys.executable, "manage.py", "config_docs", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_committed_files_are_what_the_fields_give():
    assert config_docs.stale(ROOT) == [], "run: python manage.py config_docs --write"


def test_every_variable_has_one_row_with_its_description():
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| .* \|$", readme, re.MULTILINE)
    assert rows == list(AppConfig.model_fields)
    assert GUIDE_NAMES <= set(rows)
    for name, field in AppConfig.model_fields.items():
        assert field.description, f"{name} has no description"
        first_words = field.description.split("(")[0].split(";")[0][:40].replace("<", "&lt;").replace(">", "&gt;")
        assert first_words in readme, name


def test_check_fails_on_a_hand_edited_copy_and_write_repairs_it(tmp_path):
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env.example")
    example = tmp_path / ".env.example"
    example.write_text(example.read_text().replace("LIVY_RUN_WAIT=2", "LIVY_RUN_WAIT=5"))
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text().replace("| `LIVY_TABLE_ROWS` | `100` |", "| `LIVY_TABLE_ROWS` | `50` |"))

    result = _manage("--check", "--root", str(tmp_path))
    assert result.returncode == 1
    assert ".env.example, README.md not generated from myapp/config.py" in result.stderr
    assert "config_docs --write" in result.stderr

    result = _manage("--write", "--root", str(tmp_path))
    assert result.returncode == 0 and "wrote .env.example" in result.stdout
    assert example.read_text() == (ROOT / ".env.example").read_text()
    assert readme.read_text() == (ROOT / "README.md").read_text()
    assert _manage("--check", "--root", str(tmp_path)).returncode == 0


def test_a_readme_without_the_markers_is_an_error_not_a_silent_append(tmp_path):
    (tmp_path / "README.md").write_text("# no table here\n")
    result = _manage("--check", "--root", str(tmp_path))
    assert result.returncode == 1 and "markers" in result.stderr


def test_the_test_command_checks_the_generated_docs_before_pytest():
    script = (ROOT / "scripts/test.sh").read_text()
    assert script.index("manage.py config_docs --check") < script.index(".venv/bin/python -m pytest")
