"""Every error on an API path is application/problem+json (RFC 9457), never an HTML page, a
stack trace or a 500 for bad input."""

from __future__ import annotations

import logging

import pytest

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.django_db


def _is_problem(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in response.content.decode("utf-8", "replace")
    return body


@pytest.mark.parametrize("body,content_type", [
    (b'{"code": ', "application/json"),  # invalid JSON
    (b'{"code": "\xff\xfe"}', "application/json"),  # not UTF-8
    (b"\xff\xfe\xfd", "application/json; charset=utf-8"),
])
def test_unreadable_bodies_are_400(bearer, token_of, body, content_type):
    problem = _is_problem(bearer(token_of("editor")).post("/api/v1/statements", body, content_type=content_type), 400)
    assert problem["type"].endswith("/invalid-request")


@pytest.mark.parametrize("body,field", [
    ({"code": 12}, "code"),  # wrong type
    ({"code": "1", "kind": "cobol"}, "kind"),  # not a kind
    ({"code": "1", "sessionId": 3}, "sessionId"),  # unknown field
    ({}, "code"),  # missing
    ({"code": ""}, "code"),  # empty
    ([1, 2], "body"),  # not an object
    ({"code": "x" * 200_001}, "code"),  # longer than a statement may be
])
def test_invalid_fields_are_422_naming_the_field(bearer, token_of, body, field):
    problem = _is_problem(bearer(token_of("editor")).post("/api/v1/statements", body), 422)
    assert problem["type"].endswith("/validation-failed")
    assert any(field in [str(p) for p in error["loc"]] for error in problem["errors"]), problem


@pytest.mark.parametrize("query", ["wait=soon", "wait=-1", "limit=0", "limit=101", "cursor=abc"])
def test_invalid_query_parameters_are_422(bearer, token_of, query):
    path = "/api/v1/statements?" if not query.startswith("wait") else "/api/v1/statements/1?"
    _is_problem(bearer(token_of("editor")).get(path + query), 422)


def test_oversized_body_is_413(bearer, token_of, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    _is_problem(bearer(token_of("editor")).post("/api/v1/statements", {"code": "x" * 2000}), 413)


def test_unknown_path_and_wrong_method_are_problems(bearer, token_of):
    client = bearer(token_of("editor"))
    _is_problem(client.get("/api/v1/nothing-here"), 404)
    _is_problem(client.get("/api/v2/sessions"), 404)
    response = client.delete("/api/v1/statements")
    _is_problem(response, 405)


def test_another_users_object_is_404(bearer, token_of):
    _is_problem(bearer(token_of("editor")).get("/api/v1/sessions/999999"), 404)


def test_no_token_is_401_with_a_bearer_challenge(bearer):
    response = bearer(None).get("/api/v1/sessions")
    problem = _is_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in response["WWW-Authenticate"]
    assert problem["type"].endswith("/token-required")


@pytest.mark.parametrize("header", ["Bearer lwt_not-a-real-token", "Bearer eyJhbGciOi.x.y", "Basic dXNlcjpwdw==",
                                    "Bearer ", "Bearer garbage"])
def test_refused_tokens_are_401_invalid_token(client, db, header):
    response = client.get("/api/v1/sessions", headers={"Authorization": header})
    _is_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_browser_session_does_not_authenticate_the_api(client, people):
    client.force_login(people["admin"])
    _is_problem(client.get("/api/v1/sessions"), 401)
    # ... so a cross-site form POST riding on the cookie cannot run code either.
    _is_problem(client.post("/api/v1/statements", {"code": "1"}), 401)


def test_an_unexpected_error_is_a_500_problem_without_the_trace(bearer, token_of, monkeypatch, caplog):
    from api import services

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(services, "run", boom)
    token = token_of("editor")
    with caplog.at_level(logging.ERROR):
        problem = _is_problem(bearer(token).post("/api/v1/statements", {"code": "1"}), 500)
    assert "internal detail" not in problem["detail"]
    assert "RuntimeError" in caplog.text  # logged, for the operator
    assert token not in caplog.text


def test_api_answers_are_not_cached(bearer, token_of):
    response = bearer(token_of("editor")).get("/api/v1/sessions")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_throttled_per_token_with_retry_after(bearer, token_of, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"API_THROTTLE_RATE": "3/min"})
    first, second = bearer(token_of("editor")), bearer(token_of("editor"))
    assert [first.get("/api/v1/sessions").status_code for _ in range(3)] == [200, 200, 200]
    response = first.get("/api/v1/sessions")
    problem = _is_problem(response, 429)
    assert 1 <= int(response["Retry-After"]) <= 60 and problem["type"].endswith("/throttled")
    assert second.get("/api/v1/sessions").status_code == 200  # another token has its own count


@pytest.mark.parametrize("charset", ["rot13", "base64", "no-such-charset"])
def test_an_unreadable_charset_is_a_problem_before_django(charset):
    """myapp/wsgi.py answers these before Django builds the request: on /api/ as a problem."""
    from myapp.wsgi import reject_unreadable_charset

    def never(environ, start_response):  # pragma: no cover - must not be reached
        raise AssertionError("the request reached Django")

    seen = {}

    def start_response(status, headers):
        seen.update(status=status, headers=dict(headers))

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/statements", "QUERY_STRING": "wait=1",
               "CONTENT_TYPE": f"application/json; charset={charset}"}
    body = b"".join(reject_unreadable_charset(never)(environ, start_response))
    import json

    assert seen["status"] == "400 Bad Request" and seen["headers"]["Content-Type"] == PROBLEM
    assert json.loads(body)["status"] == 400
