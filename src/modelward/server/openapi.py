"""The served OpenAPI schema: FastAPI's, the bodies read by hand, and one typed path per served model.

The predict, feedback and admin bodies are read by hand (see :mod:`modelward.server.bodies`),
so their schemas are declared here. Beyond the generic ``/v1/models/{model}/predict``, every
model served under its default alias gets a path of its own, ``/v1/models/NAME/predict``,
whose body names the model's input columns with their JSON types (numbers, integers,
categories, booleans, date-times). A client generator, or a fuzzer such as schemathesis, then
sends real column names with values across each type's whole range, not random keys. The
model paths follow hot reload: they are rebuilt whenever the served table changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from modelward.registry import ModelVersion
from modelward.server.context import MAX_CONTEXT_KEY_CHARS, MAX_CONTEXT_KEYS, MAX_CONTEXT_VALUE_CHARS
from modelward.server.validation import Column, Validator

__all__ = ["install_openapi", "model_request_schema"]

_GENERIC = "/v1/models/{model}/predict"


def install_openapi(
    app: FastAPI,
    bodies: Sequence[type[BaseModel]],
    served: Callable[[], Mapping[str, ModelVersion]],
    max_rows: int,
) -> None:
    """Serve FastAPI's schema plus ``bodies`` and one path per model of ``served()``.

    ``served()`` maps each model served under its default alias to the version serving it.
    """
    base: dict[str, Any] = {}
    cached: dict[str, Any] = {"key": None, "schema": None}

    def openapi() -> dict[str, Any]:
        if not base:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            _, defs = models_json_schema(
                [(model, "validation") for model in bodies], ref_template="#/components/schemas/{model}"
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            base.update(schema)
        models = served()
        key = tuple(sorted((name, version.version) for name, version in models.items()))
        if cached["key"] != key:
            schema = copy.deepcopy(base)
            for name, version in sorted(models.items()):
                _add_model_path(schema, name, version.signature, max_rows)
            cached.update(key=key, schema=schema)
        result: dict[str, Any] = cached["schema"]
        return result

    app.openapi = openapi  # type: ignore[method-assign]


def _add_model_path(schema: dict[str, Any], name: str, signature: Mapping[str, Any], max_rows: int) -> None:
    generic = schema["paths"].get(_GENERIC, {}).get("post")
    if generic is None:
        return
    component = f"PredictRequest_{name}"
    schema["components"]["schemas"][component] = model_request_schema(signature, max_rows)
    operation = copy.deepcopy(generic)
    operation["operationId"] = f"predict_{name}"
    operation["summary"] = f"Predict with {name} (its champion); the body names its input columns"
    operation["parameters"] = [p for p in operation.get("parameters", []) if p.get("name") != "model"]
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }
    schema["paths"][f"/v1/models/{name}/predict"] = {"post": operation}


def model_request_schema(signature: Mapping[str, Any], max_rows: int) -> dict[str, Any]:
    """The JSON schema of a ``dataframe_records`` body for a model with ``signature``.

    >>> sig = {"inputs": [{"name": "age", "type": "numeric", "dtype": "int64", "nullable": False}]}
    >>> model_request_schema(sig, 100)["properties"]["dataframe_records"]["items"]["properties"]
    {'age': {'type': 'integer'}}
    """
    columns = Validator(signature).columns
    row = {
        "type": "object",
        "properties": {c.name: _column_schema(c) for c in columns},
        "required": [c.name for c in columns],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "dataframe_records": {"type": "array", "items": row, "minItems": 1, "maxItems": max_rows},
            "return": {"type": "array", "items": {"enum": ["proba", "explanations"]}},
            "routing_key": {"type": "string"},
            "context": {  # one object for every row (the list form is in the generic schema)
                "type": "object",
                "maxProperties": MAX_CONTEXT_KEYS,
                "propertyNames": {
                    "minLength": 1,
                    "maxLength": MAX_CONTEXT_KEY_CHARS,
                    "not": {"enum": [c.name for c in columns]},
                },
                "additionalProperties": {
                    "anyOf": [
                        {"type": "string", "maxLength": MAX_CONTEXT_VALUE_CHARS},
                        {"type": ["number", "boolean", "null"]},
                    ]
                },
            },
        },
        "required": ["dataframe_records"],
        "additionalProperties": False,
    }


def _column_schema(column: Column) -> dict[str, Any]:
    out: dict[str, Any]
    if column.kind == "numeric":
        out = {"type": "integer" if column.integer else "number"}
    elif column.kind == "boolean":
        out = {"type": "boolean"}
    elif column.kind == "datetime":
        out = {"type": "string", "format": "date-time"}
    elif column.kind == "categorical" and column.categories is not None:
        out = {"enum": sorted(column.categories, key=str)}
    elif column.kind == "categorical":
        out = {"type": ["string", "integer"]}
    else:
        out = {"type": "string"}
    if column.nullable:
        out = {"anyOf": [out, {"type": "null"}]}
    return out
