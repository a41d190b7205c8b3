"""scripts/livy/livy.sh puts the Jobs page's upload folder (and LIVY_BATCH_LOCAL_DIRS) into
the local Livy's livy.file.local-dir-whitelist, with the app's default, so uploaded job
files are files Livy accepts. Runs a copy of the script in a temporary checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from livy.batches import upload_root

ROOT = Path(__file__).resolve().parents[2]


def _conf(checkout: Path, **env: str) -> str:
    (checkout / "scripts/livy").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts/livy/livy.sh", checkout / "scripts/livy/livy.sh")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LIVY_BATCH_")}
    environ.update({"LIVY_PORT": "18996", **env})
    done = subprocess.run(["bash", str(checkout / "scripts/livy/livy.sh"), "conf"], env=environ,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _whitelist(conf: str) -> list[str]:
    line = next(x for x in conf.splitlines() if x.startswith("livy.file.local-dir-whitelist"))
    return line.split("=", 1)[1].strip().split(",")


def test_default_upload_folder_is_the_apps_default(tmp_path, settings):
    checkout = tmp_path / "checkout"
    conf = _conf(checkout)
    assert _whitelist(conf) == [f"{checkout}/.livy/batch-uploads/"]
    assert (checkout / ".livy/batch-uploads").is_dir()
    assert "livy.cache-log.size = 2000" in conf
    # The app resolves the same default against its project folder.
    settings.BASE_DIR = checkout
    assert str(upload_root()) == f"{checkout}/.livy/batch-uploads"


def test_values_from_dotenv_like_the_app(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".env").write_text(f'LIVY_BATCH_UPLOAD_DIR="{tmp_path}/up"\nLIVY_BATCH_LOCAL_DIRS=/data/jobs, /opt/libs/\n')
    assert _whitelist(_conf(checkout)) == [f"{tmp_path}/up/", "/data/jobs/", "/opt/libs/"]


def test_environment_wins_over_dotenv(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".env").write_text("LIVY_BATCH_UPLOAD_DIR=from-dotenv\n")
    assert _whitelist(_conf(checkout, LIVY_BATCH_UPLOAD_DIR="uploads")) == [f"{checkout}/uploads/"]
