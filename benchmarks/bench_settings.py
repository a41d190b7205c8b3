"""The app's settings (:mod:`myapp.settings`, unchanged) with two differences for benchmarks:

* ``STATIC_ROOT`` comes from ``BENCH_STATIC_ROOT``, so ``collectstatic`` for a benchmark's
  gunicorn (DEBUG=false serves static files with WhiteNoise from STATIC_ROOT) writes into a
  temporary folder and never into the checkout's shared ``staticfiles/``;
* with ``BENCH_SERVER_TIMING`` set (``bench_livy.py --server-timing``), the diagnostic
  middleware :mod:`benchmarks.server_timing` comes first in MIDDLEWARE.
"""

import os
from pathlib import Path

from myapp.settings import *  # noqa: F403
from myapp.settings import MIDDLEWARE

STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])
if os.environ.get("BENCH_SERVER_TIMING"):
    MIDDLEWARE = ["benchmarks.server_timing.ServerTiming", *MIDDLEWARE]
