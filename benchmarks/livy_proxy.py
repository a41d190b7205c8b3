"""A counting HTTP proxy for Livy: listens on 127.0.0.1, forwards every request to a Livy
server (``http://127.0.0.1:8998`` by default) and records each one (times, method, path
pattern, status, Livy's own time), so a benchmark can say how many Livy requests the app made
and which ones.

Point the app's ``LIVY_BASE_ENDPOINT`` at :attr:`CountingProxy.url`. Each forwarded request
opens its own upstream connection (a POST is never re-sent on a stale kept-alive one); the
app's side of the proxy keeps its connections alive as Livy would, with TCP_NODELAY and each
answer sent in one write (else every answer waits ~40 ms for a delayed ACK). The proxy's own
cost per request (about 1 ms on loopback) is :attr:`Record.total_ms` minus
:attr:`Record.upstream_ms` plus the extra connection.

Use from Python::

    with CountingProxy() as proxy:
        mark = proxy.mark()
        ...                               # the app talks to proxy.url
        proxy.counts(proxy.since(mark))   # Counter({"GET /sessions/{n}/statements/{n}": 3, ...})

or on its own: ``python benchmarks/livy_proxy.py [--port 8999] [--upstream URL]`` prints each
request as it passes and the totals on Ctrl+C.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.loopback import LoopbackServer  # noqa: E402

#: Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "proxy-connection"}
_NUMBER = re.compile(r"/\d+(?=/|$)")


def pattern(method: str, path: str) -> str:
    """``GET /sessions/{n}/statements/{n}`` for ``GET /sessions/3/statements/7?x=1``."""
    return f"{method} {_NUMBER.sub('/{n}', path.split('?', 1)[0]) or '/'}"


@dataclass(frozen=True)
class Record:
    """One forwarded request. Times are epoch seconds (``time.time()``, comparable with a
    browser's ``Date.now()`` on the same machine); ``upstream_ms`` is Livy's part of it."""

    start: float
    end: float
    method: str
    path: str
    pattern: str
    status: int
    upstream_ms: float
    #: ``state`` of Livy's JSON answer (a session or statement), if it had one.
    state: str | None = None

    @property
    def total_ms(self) -> float:
        return (self.end - self.start) * 1000


class CountingProxy(LoopbackServer):
    """Start with :meth:`start` (or ``with``); :attr:`url` is the base URL to give the app."""

    def __init__(self, upstream: str = "http://127.0.0.1:8998", host: str = "127.0.0.1", port: int = 0,
                 timeout: float = 120.0, echo: bool = False):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.echo = echo
        self._lock = threading.Lock()
        self._records: list[Record] = []
        super().__init__(self._handler_class(), name="livy-counting-proxy", host=host, port=port,
                         poll_interval=0.2)

    # ------------------------------------------------------------------ what passed
    def mark(self) -> int:
        """A position in the record list (pass it to :meth:`since`)."""
        with self._lock:
            return len(self._records)

    def since(self, mark: int = 0, until: int | None = None) -> list[Record]:
        with self._lock:
            return list(self._records[mark:until])

    def between(self, start: float, end: float) -> list[Record]:
        """Requests that arrived between two epoch times."""
        with self._lock:
            return [r for r in self._records if start <= r.start <= end]

    @staticmethod
    def counts(records: Iterable[Record]) -> Counter[str]:
        return Counter(r.pattern for r in records)

    # ------------------------------------------------------------------ forwarding
    def _record(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)
        if self.echo:
            print(f"{record.status} {record.method} {record.path} {record.total_ms:.1f} ms {record.state or ''}", flush=True)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep the app's connections alive, as Livy does
            # The whole answer in one write, and no Nagle: headers and body written apart wait
            # for the client's delayed ACK (~40 ms on Linux) before the body leaves.
            wbufsize = 1 << 20
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

            def _forward(self) -> None:
                start = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
                headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout)
                sent = time.perf_counter()
                try:
                    upstream.connect()
                    upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    upstream.request(self.command, proxy.upstream_prefix + self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    status, reason, answer_headers = answer.status, answer.reason, answer.getheaders()
                except OSError as exc:
                    status, reason, answer_headers = 502, "Bad Gateway", [("Content-Type", "text/plain")]
                    data = f"counting proxy: Livy did not answer: {exc}".encode()
                finally:
                    upstream.close()
                upstream_ms = (time.perf_counter() - sent) * 1000
                self.send_response(status, reason)
                for name, value in answer_headers:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()
                proxy._record(Record(start, time.time(), self.command, self.path, pattern(self.command, self.path),
                                     status, upstream_ms, _state(data, dict((k.lower(), v) for k, v in answer_headers))))

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _forward

        return Handler


def _state(body: bytes, headers: dict[str, str]) -> str | None:
    """The ``state`` field of a JSON object answer (small ones only), else None."""
    if len(body) > 1_000_000:
        return None
    if headers.get("content-encoding", "").lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            return None
    if not body.startswith(b"{"):
        return None
    try:
        value = json.loads(body).get("state")
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--upstream", default="http://127.0.0.1:8998")
    args = parser.parse_args()
    proxy = CountingProxy(args.upstream, port=args.port, echo=True).start()
    print(f"counting proxy on {proxy.url} -> {args.upstream} (Ctrl+C prints the totals)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
        for name, count in proxy.counts(proxy.since()).most_common():
            print(f"{count:6d}  {name}")


if __name__ == "__main__":
    main()
