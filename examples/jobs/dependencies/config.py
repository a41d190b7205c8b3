"""Reading a job's config file, sent with ``spark-submit --files`` (Livy: ``files``)."""

from __future__ import annotations

import json
import os
from typing import Any

from pyspark import SparkFiles


def load_config(name: str) -> dict[str, Any]:
    """The JSON object in the file ``name`` sent with ``--files``: Spark copies it to every
    node, and ``SparkFiles.get`` gives its local path. A path that exists as given (a run
    without ``--files``) is read directly. Raises ``FileNotFoundError`` naming both places."""
    candidates = [SparkFiles.get(os.path.basename(name)), name]
    for path in candidates:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                config = json.load(handle)
            if not isinstance(config, dict):
                raise ValueError(f"{path} must hold a JSON object")
            return config
    raise FileNotFoundError(f"config {name!r} not found (looked at {', '.join(candidates)}): send it with --files")
