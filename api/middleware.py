"""Every answer on an API path (``/api/``) is JSON: errors that arise outside the API's own
views (an unknown URL, a wrong method, a request Django refuses before the view, a body
too large) become problems (:mod:`api.problems`) instead of HTML pages, and no API answer
is stored by a cache (``Cache-Control: no-store``)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from api.problems import is_problem, problem

API_PREFIX = "/api/"
#: Pages served on API paths that are not JSON (the interactive docs).
NOT_JSON = ("/api/v1/docs",)
_DETAILS = {
    400: "The request cannot be read.",
    404: "There is no such API path.",
    405: "This API path does not take this method.",
}


class ApiProblemMiddleware:
    """On ``/api/`` paths: an error answer that is not a problem yet (HTML 404, 405, a 400
    from Django or another middleware) becomes one with the same status (``Allow``,
    ``Retry-After`` and ``WWW-Authenticate`` kept); every answer gets ``no-store``. The docs
    page (:data:`NOT_JSON`) is left as it is."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX):
            return response
        if response.status_code >= 400 and not is_problem(response) and not request.path.startswith(NOT_JSON):
            status = response.status_code
            kept = {name: response[name] for name in ("Allow", "Retry-After", "WWW-Authenticate") if name in response}
            response = problem(status, _DETAILS.get(status, ""), request=request, headers=kept)
        add_never_cache_headers(response)
        return response
