"""The shell scripts' answers on a machine that lacks something: each runs from a copy in a
temporary folder (its checkout), so nothing of this checkout is touched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _copy_script(checkout: Path, *relative: str) -> Path:
    for name in relative:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, checkout / name)
    return checkout / relative[0]


def _path_without(tmp_path: Path, *commands: str) -> str:
    """A PATH with every command of the usual folders but ``commands``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for entry in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
            if entry.name not in commands and not (bin_dir / entry.name).exists():
                (bin_dir / entry.name).symlink_to(entry)
    python = shutil.which("python3")
    if python and not (bin_dir / "python3").exists():
        (bin_dir / "python3").symlink_to(python)
    return str(bin_dir)


def _livy_sh(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = _copy_script(tmp_path / "checkout", "scripts/livy/livy.sh", "scripts/livy/requirements-spark.txt")
    environ = {k: v for k, v in os.environ.items() if k not in ("LIVY_HOME", "LIVY_DIST")}
    environ.update({"PATH": _path_without(tmp_path, "java", "curl"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
                    "LIVY_PORT": "18997", **env})
    return subprocess.run(["bash", str(script), "up"], env=environ, capture_output=True, text=True, timeout=60)


def test_livy_sh_without_a_distribution_exits_4_even_without_java_and_curl(tmp_path):
    done = _livy_sh(tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "no Apache Livy distribution (none in the cache, and curl is not installed" in done.stderr


def test_livy_sh_needs_java_once_it_has_a_distribution(tmp_path):
    (tmp_path / "apache-livy.zip").write_bytes(b"")
    done = _livy_sh(tmp_path, LIVY_DIST=str(tmp_path / "apache-livy.zip"))
    assert done.returncode == 1 and "java not found" in done.stderr, done.stdout + done.stderr
    assert not (tmp_path / "checkout" / ".livy").exists()  # stopped before unpacking anything


def _root_with_postgres_user() -> bool:
    return os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _root_with_postgres_user(), reason="needs root and Debian's postgres user")
def test_postgres_sh_keeps_the_cluster_where_the_postgres_user_can_reach_it():
    """A checkout the postgres user cannot enter (under /root, mode 0700) gets its cluster in
    /var/tmp, named after the checkout path; any other keeps .pgdata/. (`url` creates nothing.)"""
    outer = Path(tempfile.mkdtemp(prefix="livy-web-pgtest-"))
    try:
        open_checkout, closed_checkout = outer / "open", outer / "closed" / "checkout"
        for checkout in (open_checkout, closed_checkout):
            _copy_script(checkout, "scripts/postgres.sh")
        outer.chmod(0o755)
        (outer / "closed").chmod(0o700)
        environ = {k: v for k, v in os.environ.items() if k != "PG_DATA"}
        answers = {}
        for checkout in (open_checkout, closed_checkout):
            done = subprocess.run(["bash", str(checkout / "scripts/postgres.sh"), "url"], env=environ,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 3, done.stdout + done.stderr  # no cluster yet
            answers[checkout] = done.stderr
        assert f"no cluster in {open_checkout}/.pgdata yet" in answers[open_checkout]
        digest = hashlib.sha256(str(closed_checkout).encode()).hexdigest()[:12]
        assert f"no cluster in /var/tmp/livy-web-pg-{digest} yet" in answers[closed_checkout]
        assert not Path(f"/var/tmp/livy-web-pg-{digest}").exists()
    finally:
        shutil.rmtree(outer)
