"""The OpenAPI description validates as OpenAPI 3 and the docs page works without a CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


def test_openapi_json_validates_as_openapi_3(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    schema = response.json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["BearerAuth"] == {"type": "http", "scheme": "bearer",
                                                                      "description": schema["components"]["securitySchemes"]["BearerAuth"]["description"]}
    run = schema["paths"]["/api/v1/statements"]["post"]
    assert "202" in run["responses"] and "422" in run["responses"]
    assert {p["name"] for p in run["parameters"]} == {"wait"}


def test_docs_page_loads_only_this_servers_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    for source in sources:
        assert finders.find(source.removeprefix("/static/")), source
    # No inline script but the JSON data block, which the CSP does not execute.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs, _ in scripts)
    assert "script-src 'self'" in response["Content-Security-Policy"]
