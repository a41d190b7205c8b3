"""Validate HTTP exchanges with Fabric's Livy API against its official Swagger 2.0 description.

The description itself is checked with openapi-spec-validator; bodies are checked with
jsonschema (Draft 4, the dialect of Swagger 2.0 schemas). Schemas are applied strictly: an
object schema that lists ``properties`` and says nothing of ``additionalProperties`` accepts
no other property, so a request with a field Fabric does not define (say ``kind`` or
``pyFiles`` on a session) fails, and so does a fake response with a field Fabric never sends.

One deliberate exception, :data:`RESPONSE_SCHEMA_OVERRIDES`: the description gives
``SessionResponse`` as the 200 schema of *listing* sessions, while the list shape it also
defines (``LivySparkActivityList``: ``items``, ``totalCountOfMatchedItems``, ``pageSize``) is
what a list returns; list answers are checked against that.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft4Validator
from openapi_spec_validator import validate as validate_spec
from openapi_spec_validator.validation import OpenAPIV2SpecValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_PATH = Path(__file__).with_name("fabric-livy-swagger.json")
BASE_URI = "urn:fabric-livy-swagger"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
RESPONSE_SCHEMA_OVERRIDES = {("LivyApiSession_ListSparkSessionsAsync", "200"): "LivySparkActivityList"}


def _merge_all_of(definitions: dict[str, Any]) -> dict[str, Any]:
    """Fold ``allOf: [{$ref}]`` into the schema's own ``properties``/``required`` (Swagger's
    way of extending a definition), so the merged schema can be strict as a whole."""
    merged = {}
    for name, schema in definitions.items():
        if "allOf" in schema:
            schema = dict(schema)
            properties = dict(schema.get("properties", {}))
            required = list(schema.get("required", []))
            for part in schema.pop("allOf"):
                base = definitions[part["$ref"].rsplit("/", 1)[1]] if "$ref" in part else part
                properties = {**base.get("properties", {}), **properties}
                required += [r for r in base.get("required", []) if r not in required]
            schema["properties"], schema["required"] = properties, required
        merged[name] = schema
    return merged


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema and "allOf" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    regex: re.Pattern
    spec: dict

    @property
    def operation_id(self) -> str:
        return self.spec["operationId"]


class SwaggerContract:
    """The Fabric Livy API description, ready to check requests and responses.

    ``check_request`` and ``check_response`` raise ``AssertionError`` with every problem found.
    """

    def __init__(self, path: Path = SPEC_PATH):
        spec = json.loads(path.read_text())
        validate_spec(spec, cls=OpenAPIV2SpecValidator)
        self.spec = spec
        strict = copy.deepcopy(spec)
        strict["definitions"] = _strict(_merge_all_of(strict["definitions"]))
        self.registry = Registry().with_resource(BASE_URI, Resource.from_contents(strict, default_specification=DRAFT4))
        self.operations: list[Operation] = []
        for template, ops in spec["paths"].items():
            pieces = re.split(r"\{[^}]+\}", template)
            pattern = "([^/]+)".join(re.escape(piece) for piece in pieces)
            regex = re.compile(f"^{pattern}$", re.IGNORECASE)  # Fabric paths are case-insensitive
            for method, op in ops.items():
                if method != "parameters":
                    self.operations.append(Operation(method.upper(), template, regex, op))

    # ------------------------------------------------------------------------ lookup
    def operation(self, method: str, url: str) -> tuple[Operation, dict[str, str]]:
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.netloc == self.spec["host"], f"not a Fabric API URL: {url}"
        for op in self.operations:
            match = op.regex.match(parts.path)
            if op.method == method.upper() and match:
                names = re.findall(r"\{([^}]+)\}", op.template)
                return op, dict(zip(names, match.groups(), strict=True))
        raise AssertionError(f"{method} {parts.path} is not an operation of the Fabric Livy API")

    def _validate(self, schema: dict, instance: Any, what: str) -> None:
        validator = Draft4Validator(schema, registry=self.registry, format_checker=Draft4Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)
            raise AssertionError(f"{what} does not match the Fabric Livy swagger: {details}")

    def _ref(self, schema: dict) -> dict:
        if "$ref" in schema:
            return {"$ref": BASE_URI + schema["$ref"]}
        return json.loads(json.dumps(schema).replace('"#/definitions/', f'"{BASE_URI}#/definitions/'))

    # ------------------------------------------------------------------------ checks
    def check_request(self, method: str, url: str, body: bytes | str | None) -> Operation:
        """Path (and its uuid parameters), query parameters and JSON body of a request."""
        op, path_params = self.operation(method, url)
        params = op.spec.get("parameters", [])
        for p in params:
            if p["in"] == "path":
                value = path_params.get(p["name"])
                assert value, f"{op.operation_id}: path parameter {p['name']} missing"
                if p.get("format") == "uuid":
                    assert UUID.match(value), f"{op.operation_id}: {p['name']}={value!r} is not a uuid"
        allowed_query = {p["name"] for p in params if p["in"] == "query"}
        query = parse_qs(urlsplit(url).query)
        unknown = set(query) - allowed_query
        assert not unknown, f"{op.operation_id}: query parameters {sorted(unknown)} are not in the swagger"
        body_param = next((p for p in params if p["in"] == "body"), None)
        data = json.loads(body) if body else None
        if body_param is None:
            assert data in (None, {}), f"{op.operation_id} takes no body, got {data!r}"
        else:
            assert data is not None or not body_param.get("required"), f"{op.operation_id}: body required"
            if data is not None:
                self._validate(self._ref(body_param["schema"]), data, f"{op.operation_id} request body")
        return op

    def check_response(self, method: str, url: str, status: int, body: bytes | str | None) -> Operation:
        """Status and JSON body of a response: a documented status, or ``default`` (ErrorResponse)."""
        op, _ = self.operation(method, url)
        responses = op.spec["responses"]
        key = str(status) if str(status) in responses else "default"
        if 200 <= status < 300:
            assert str(status) in responses, f"{op.operation_id} never answers {status} (swagger: {sorted(responses)})"
        spec = responses[key]
        data = json.loads(body) if body else None
        if override := RESPONSE_SCHEMA_OVERRIDES.get((op.operation_id, key)):
            schema = {"$ref": f"{BASE_URI}#/definitions/{override}"}
        elif "schema" in spec:
            schema = self._ref(spec["schema"])
        else:
            assert data is None, f"{op.operation_id} {status} has no body in the swagger"
            return op
        assert data is not None, f"{op.operation_id} {status} must have a JSON body"
        self._validate(schema, data, f"{op.operation_id} {status} response")
        return op
