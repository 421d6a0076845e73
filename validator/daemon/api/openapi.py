"""The OpenAPI 3.1 description of the API, built from the same route table the app is built from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from validator.daemon.api.errors import ERROR_CODES

JsonSchema = dict[str, Any]

ERROR_SCHEMA: JsonSchema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(ERROR_CODES)},
                "message": {"type": "string"},
            },
        }
    },
}


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """What OpenAPI says about one route."""

    method: str
    path: str
    operation_id: str
    summary: str
    response: JsonSchema
    request: JsonSchema | None = None
    errors: tuple[str, ...] = field(default=())


def build_openapi(routes: Sequence[RouteDoc], version: str, max_request_bytes: int) -> dict[str, Any]:
    """The OpenAPI document for `routes`."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        responses: dict[str, Any] = {
            "200": {"description": "success", "content": {"application/json": {"schema": route.response}}}
        }
        for code in route.errors:
            responses[str(ERROR_CODES[code])] = {
                "description": f"error (codes include {code})",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "responses": responses,
        }
        if route.request is not None:
            operation["requestBody"] = {
                "required": True,
                "description": f"JSON, at most {max_request_bytes} bytes",
                "content": {"application/json": {"schema": route.request}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tessera node API", "version": version},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
