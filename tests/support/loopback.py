"""A threaded HTTP server on 127.0.0.1 that runs in the background of a test or a benchmark:
the fake Livy of the race tests and the counting proxy of ``make bench-livy`` are both one."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackServer:
    """Serves ``handler`` on ``host:port`` (port 0: a free one) in a daemon thread. Start with
    :meth:`start` or ``with``; :attr:`url` is its base URL; :meth:`stop` shuts it down and
    waits up to 5 s for the thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, name: str, host: str = "127.0.0.1",
                 port: int = 0, **serve_options: Any):
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs=serve_options, name=name,
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
