"""The OpenAPI documents, as OpenAPI 3.0, which OGC API - Features' oas30 class and older GIS
clients expect.

FastAPI writes 3.1 (JSON Schema 2020-12); the few constructs it uses that 3.0 lacks are
rewritten: a union with null becomes `nullable`, a list of `examples` becomes one `example`,
numeric exclusive bounds become a bound with a boolean flag, `const` becomes a one-value `enum`,
a `$ref` with siblings moves into `allOf`, and a file (`contentMediaType`) becomes
`format: binary`. Error responses are described as they are sent, as problem details
(`application/problem+json`); under /ogc a bad parameter is a 400, so no 422 is listed there.

`/openapi.json` describes the whole service. `/ogc/api` describes the OGC API alone, its paths
relative to its landing page (`/collections/{collectionId}/items`) as OGC clients such as GDAL
look them up, with an items path per collection that lists the collection's queryables as query
parameters: what a client may leave to the server to filter."""

import copy
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import OGC_ROOT, PROBLEM_JSON

VERSION = "3.0.3"
# How links announce the documents: OpenAPI's media type with the version they are written in.
MEDIA_TYPE = "application/vnd.oai.openapi+json;version=" + ".".join(VERSION.split(".")[:2])
PROBLEM = {"$ref": "#/components/schemas/ProblemOut"}
ITEMS = "/collections/{collectionId}/items"


def _to_30(node: Any, in_schema: bool = False) -> Any:
    if isinstance(node, list):
        return [_to_30(item, in_schema) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for union in ("anyOf", "oneOf"):
        options = node.get(union)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [o for o in options if o != {"type": "null"}]
            del node[union]
            node["nullable"] = True
            if len(rest) == 1:
                node.update({k: v for k, v in rest[0].items() if k not in node or k == "$ref"})
                if "$ref" in node:  # 3.0 ignores siblings of $ref: wrap it
                    node["allOf"] = [{"$ref": node.pop("$ref")}]
            else:
                node[union] = rest
    if node.get("type") == "null":
        node.pop("type")
        node["nullable"] = True
    if in_schema and isinstance(node.get("examples"), list):
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), (int, float)) and not isinstance(node.get(bound), bool):
            node[plain] = node.pop(bound)
            node[bound] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if in_schema and node.get("type") == "string" and "contentMediaType" in node:
        node.pop("contentMediaType")
        node["format"] = "binary"
    if "$ref" in node and len(node) > 1:  # 3.0 ignores siblings of $ref: wrap it
        node["allOf"] = [{"$ref": node.pop("$ref")}]
    return {
        key: _to_30(
            value,
            in_schema
            or key
            in (
                "schema",
                "schemas",
                "properties",
                "items",
                "allOf",
                "anyOf",
                "oneOf",
                "additionalProperties",
            ),
        )
        for key, value in node.items()
    }


def _under_ogc(path: str) -> bool:
    return path == OGC_ROOT or path.startswith(OGC_ROOT + "/")


def _describe_errors(schema: dict) -> None:
    """Problem responses under the media type they are sent with, and no 422 under /ogc, where
    the error handlers answer a bad parameter with 400."""
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            responses = operation.get("responses", {})
            if _under_ogc(path):
                responses.pop("422", None)
            for status, response in responses.items():
                content = response.get("content", {})
                if status[0] in "45" and any(c.get("schema") == PROBLEM for c in content.values()):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM}}


def ogc_definition(document: dict, root_url: str, queryables: Mapping[str, Mapping[str, dict]]) -> dict:
    """The OGC API's own document, derived from the whole service's `document`: the paths under
    /ogc made relative to the landing page at `root_url`, and an items path for each collection
    with its `queryables` (collection id -> name -> JSON Schema) as query parameters."""
    paths = {
        path[len(OGC_ROOT) :] or "/": item for path, item in document["paths"].items() if _under_ogc(path)
    }
    items = paths[ITEMS]["get"]
    for collection_id, properties in queryables.items():
        operation = copy.deepcopy(items)
        operation["operationId"] = f"{items['operationId']}_{collection_id}"
        operation["summary"] = f"Features of {collection_id}"
        operation["parameters"] = [p for p in operation["parameters"] if p["in"] != "path"] + [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"{schema.get('title', name)}: the features whose `{name}` is this value.",
                "schema": schema,
            }
            for name, schema in properties.items()
        ]
        operation["responses"].pop("404", None)  # the collection exists
        paths[f"/collections/{collection_id}/items"] = {"get": operation}
    return {
        "openapi": document["openapi"],
        "info": {
            "title": f"{document['info']['title']}: OGC API - Features",
            "version": document["info"]["version"],
            "description": "The OGC API - Features part of the service, relative to its landing page; "
            "`/openapi.json` describes the whole service.",
        },
        "servers": [{"url": root_url}],
        "paths": paths,
        "components": document["components"],
    }


def install(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema = _to_30(schema)
            schema["openapi"] = VERSION
            _describe_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
