"""OpenAPI 3.1 documents built from the route tables the HTTP servers are built from (the node API in
`validator.daemon.api`, the light client's status API in `sampling.client.status_routes`), so a document
cannot drift from its server. Each API passes its own error codes and their HTTP statuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JsonSchema = dict[str, Any]


def error_schema(codes: Mapping[str, int]) -> JsonSchema:
    """`{"error": {"code": ..., "message": ...}}` with `code` one of `codes`."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(codes)},
                    "message": {"type": "string"},
                    "row": {"type": "integer", "description": "an upload's first bad row, if any"},
                    "column": {"type": "integer", "description": "the first bad cell's column, if any"},
                },
            }
        },
    }


DATA_ROOT_PATTERN = "^(0x)?[0-9a-fA-F]{64}$"
PEER_ID_PATTERN = "^[1-9A-HJ-NP-Za-km-z]{46,60}$"
"""A libp2p peer id as text (base58btc of an identity or SHA-256 multihash: `12D3KooW...`, `Qm...`)."""

PATH_PARAMETERS: dict[str, JsonSchema] = {
    "data_root": {
        "type": "string",
        "pattern": DATA_ROOT_PATTERN,
        "description": "a data root: 64 hex digits, with or without 0x",
    },
}
"""The schema of every path parameter a route may name (`{data_root}`)."""

JSON = "application/json"
TOO_MANY_REQUESTS = 429


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
    request_media: str = JSON
    response_media: str = JSON
    links: dict[str, str] = field(default_factory=dict)
    """Operations a success answer leads to, by operation id, with `data_root` from its body."""
    other_requests: dict[str, JsonSchema] = field(default_factory=dict)
    """Further request bodies the route takes, by media type (beside `request_media`)."""


def _path_parameters(path: str) -> list[JsonSchema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    unknown = [name for name in names if name not in PATH_PARAMETERS]
    if unknown:
        raise ValueError(f"{path}: no schema for path parameters {unknown}")
    return [{"name": n, "in": "path", "required": True, "schema": PATH_PARAMETERS[n]} for n in names]


def _error_responses(codes: Sequence[str], statuses: Mapping[str, int]) -> dict[str, Any]:
    """One response per HTTP status, naming every error code the route answers with it."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(statuses[code], []).append(code)
    responses: dict[str, Any] = {}
    for status, names in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": "error: " + ", ".join(names),
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status == TOO_MANY_REQUESTS:
            response["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        responses[str(status)] = response
    return responses


def build_openapi(
    routes: Sequence[RouteDoc],
    version: str,
    max_request_bytes: int,
    error_codes: Mapping[str, int],
    title: str,
) -> dict[str, Any]:
    """The OpenAPI document for `routes`: path parameters with their patterns, each request's and
    response's media type, and every error status a route answers with (`error_codes`: the API's
    codes and their HTTP statuses)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        success: dict[str, Any] = {
            "description": "success",
            "content": {route.response_media: {"schema": route.response}},
        }
        if route.links:
            success["links"] = {
                target: {"operationId": target, "parameters": {"data_root": expression}}
                for target, expression in route.links.items()
            }
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "responses": {"200": success, **_error_responses(route.errors, error_codes)},
        }
        parameters = _path_parameters(route.path)
        if parameters:
            operation["parameters"] = parameters
        if route.request is not None:
            media = [route.request_media, *route.other_requests]
            operation["requestBody"] = {
                "required": True,
                "description": f"{' or '.join(media)}, at most {max_request_bytes} bytes",
                "content": {
                    route.request_media: {"schema": route.request},
                    **{kind: {"schema": schema} for kind, schema in route.other_requests.items()},
                },
            }
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": {"Error": error_schema(error_codes)}},
    }
