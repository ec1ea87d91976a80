"""OpenAPI 3 generated from the code: each API view declares its operation once.

``@operation(...)`` records the summary, who may call it, the request and response
models (pydantic) and the error codes on the view function; ``build_openapi`` walks
the URL map, so the document can never list a route that does not exist or miss one
that does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask
from pydantic import BaseModel

from ..models.base import MAX_ID
from .schemas import ErrorBody

ERROR_STATUS = {
    "bad_request": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
    "slot_taken": 409, "slot_blocked": 409, "invalid_transition": 409, "too_large": 413,
    "validation_error": 422, "rule_violation": 422, "rate_limited": 429,
}


@dataclass
class Operation:
    summary: str
    who: str
    response: type[BaseModel] | None = None
    status: int = 200
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[str, ...] = ()
    public: bool = False
    paginated: bool = False
    creates: bool = False
    upload: bool = False  # multipart/form-data with a "file" part
    description: str = ""
    example: dict | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def operation(**kwargs: Any) -> Callable:
    """Attach an ``Operation`` to an API view function."""
    op = Operation(**kwargs)

    def decorate(fn: Callable) -> Callable:
        fn.openapi = op  # type: ignore[attr-defined]
        return fn

    return decorate


def _path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _schema(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error_response(code_list: list[str]) -> dict:
    return {
        "description": "Error: " + ", ".join(f"`{c}`" for c in code_list),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def build_openapi(app: Flask) -> dict:
    """The OpenAPI document for every ``api.*`` route that carries an ``Operation``."""
    components: dict[str, Any] = {}
    _schema(ErrorBody, components)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, "openapi", None)
        if op is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(_path(rule.rule), {})[method.lower()] = _operation_object(
                rule, method, op, components)
    return {
        # 3.1: its schemas are JSON Schema 2020-12, which is what pydantic writes (``type: null``,
        # numeric ``exclusiveMaximum``); 3.0 would need its own dialect.
        "openapi": "3.1.0",
        "info": {
            "title": "PilotBase API",
            "version": "1",
            "description": "JSON API v1 of PilotBase. Authenticate with `Authorization: Bearer <token>`; "
                           "create a token on your profile page.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {p[len("/api/v1"):] or "/": v for p, v in paths.items()},
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation_object(rule, method: str, op: Operation, components: dict) -> dict:
    out: dict[str, Any] = {
        "operationId": rule.endpoint.split(".", 1)[1],
        "summary": op.summary,
        "description": (op.description + "\n\n" if op.description else "") + f"Who: {op.who}.",
        "tags": list(op.tags),
        "parameters": [],
        "responses": {},
    }
    if op.public:
        out["security"] = []
    for arg in rule.arguments:
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID} if "int:" in rule.rule else {"type": "string"}
        out["parameters"].append({"name": arg, "in": "path", "required": True, "schema": schema})
    if op.query is not None:
        for name, info in op.query.model_json_schema().get("properties", {}).items():
            out["parameters"].append({"name": name, "in": "query", "required": False,
                                      "schema": {k: v for k, v in info.items() if k != "title"}})
    if op.paginated:
        out["parameters"] += [
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
            {"name": "per_page", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
        ]
    if op.creates:
        out["parameters"].append({"name": "Idempotency-Key", "in": "header", "required": False,
                                  "schema": {"type": "string", "maxLength": 200}})
    if op.request is not None:
        out["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": _schema(op.request, components)}}}
    if op.upload:
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    if op.response is not None:
        content = {"schema": _schema(op.response, components)}
        if op.example is not None:
            content["example"] = op.example
        out["responses"][str(op.status)] = {"description": "OK", "content": {"application/json": content}}
    else:  # a JSON document with no model of its own (the OpenAPI document): still a documented success
        out["responses"][str(op.status)] = {"description": "OK",
                                            "content": {"application/json": {"schema": {"type": "object"}}}}
    by_status: dict[int, list[str]] = {}
    codes = list(op.errors) + ([] if op.public else ["unauthorized"]) + ["rate_limited"]
    if op.request is not None:
        codes += ["bad_request", "validation_error"]
    if op.query is not None or op.paginated:
        codes.append("validation_error")
    for code in dict.fromkeys(codes):
        by_status.setdefault(ERROR_STATUS[code], []).append(code)
    for status, code_list in sorted(by_status.items()):
        out["responses"][str(status)] = _error_response(code_list)
    return out
