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
    success_status: int = 200
    """The status of a success (202 for a request accepted and still being worked on)."""
    success_headers: dict[str, tuple[str, JsonSchema]] = field(default_factory=dict)
    """Headers a success carries (`Location` of a created resource): (description, schema) by name."""
    error_details: dict[str, dict[str, JsonSchema]] = field(default_factory=dict)
    """Fields an error code's error object carries beside `code` and `message`, by code (each
    required there)."""
    other_requests: dict[str, JsonSchema] = field(default_factory=dict)
    """Further request bodies the route takes, by media type (beside `request_media`)."""
    query: dict[str, tuple[str, JsonSchema]] = field(default_factory=dict)
    """Optional query parameters: (description, schema) by name."""
    headers: dict[str, tuple[str, JsonSchema]] = field(default_factory=dict)
    """Optional request headers: (description, schema) by name."""


def _path_parameters(path: str) -> list[JsonSchema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
    unknown = [name for name in names if name not in PATH_PARAMETERS]
    if unknown:
        raise ValueError(f"{path}: no schema for path parameters {unknown}")
    return [{"name": n, "in": "path", "required": True, "schema": PATH_PARAMETERS[n]} for n in names]


_ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _error_body(names: Sequence[str], details: Mapping[str, dict[str, JsonSchema]]) -> JsonSchema:
    """The schema of the error bodies of one status: `Error`, with the fields its codes add to the
    error object."""
    extra = [details[name] for name in names if name in details]
    if not extra:
        return _ERROR_REF
    fields = {name: schema for one in extra for name, schema in one.items()}
    error: JsonSchema = {"type": "object", "properties": fields}
    if len(extra) == len(names):  # every code of this status adds them (else they are optional)
        error["required"] = sorted(fields)
    return {"allOf": [_ERROR_REF, {"type": "object", "required": ["error"], "properties": {"error": error}}]}


def _error_responses(
    codes: Sequence[str], statuses: Mapping[str, int], details: Mapping[str, dict[str, JsonSchema]]
) -> dict[str, Any]:
    """One response per HTTP status, naming every error code the route answers with it."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(statuses[code], []).append(code)
    responses: dict[str, Any] = {}
    for status, names in sorted(by_status.items()):
        response: dict[str, Any] = {
            "description": "error: " + ", ".join(names),
            "content": {JSON: {"schema": _error_body(names, details)}},
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
            "description": "accepted" if route.success_status == 202 else "success",
            "content": {route.response_media: {"schema": route.response}},
        }
        if route.success_headers:
            success["headers"] = {
                name: {"description": description, "required": True, "schema": schema}
                for name, (description, schema) in route.success_headers.items()
            }
        if route.links:
            success["links"] = {
                target: {"operationId": target, "parameters": {"data_root": expression}}
                for target, expression in route.links.items()
            }
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "responses": {
                str(route.success_status): success,
                **_error_responses(route.errors, error_codes, route.error_details),
            },
        }
        parameters = _path_parameters(route.path)
        for place, named in (("query", route.query), ("header", route.headers)):
            parameters += [
                {"name": name, "in": place, "required": False, "description": text, "schema": schema}
                for name, (text, schema) in named.items()
            ]
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
