"""A fake of Apache Livy's session 4 running statements (`responses` callbacks), for tests of
notebook runs through the API and its command-line client."""

from __future__ import annotations

import json
import re

import responses

from tests.support.livy_json import LIVY, error_output, ok_output, session_json, statement_json


class Livy:
    """Session 4, idle. A statement is finished when first read (``instant``; code with
    ``boom`` ends with an error), else running until cancelled. ``sent``: codes in order."""

    def __init__(self, mock, *, instant=True):
        self.sent: list[str] = []
        self.instant = instant
        self.cancelled: set[int] = set()
        mock.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
        mock.add_callback(responses.POST, f"{LIVY}/sessions/4/statements", callback=self._post,
                          content_type="application/json")
        mock.add_callback(responses.GET, re.compile(rf"{re.escape(LIVY)}/sessions/4/statements/\d+$"),
                          callback=self._get, content_type="application/json")
        mock.add_callback(responses.POST, re.compile(rf"{re.escape(LIVY)}/sessions/4/statements/\d+/cancel$"),
                          callback=self._cancel, content_type="application/json")

    def _post(self, request):
        self.sent.append(json.loads(request.body)["code"])
        return 201, {}, json.dumps(statement_json(len(self.sent) - 1, "waiting", self.sent[-1]))

    def _get(self, request):
        sid = int(request.url.rsplit("/", 1)[1])
        code = self.sent[sid]
        if sid in self.cancelled:
            return 200, {}, json.dumps(statement_json(sid, "cancelled", code))
        if not self.instant:
            return 200, {}, json.dumps(statement_json(sid, "running", code))
        output = (error_output("NameError", "name 'boom' is not defined", ["Traceback", "NameError"], sid)
                  if "boom" in code else ok_output(f"ran {code}", sid))
        return 200, {}, json.dumps(statement_json(sid, "available", code, output=output, progress=1.0))

    def _cancel(self, request):
        self.cancelled.add(int(request.url.rsplit("/", 2)[1]))
        return 200, {}, json.dumps({"msg": "canceled"})
