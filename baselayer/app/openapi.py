"""The OpenAPI 3 document, generated from the route table.

Each handler method documents itself: YAML after a ``---`` line in its
docstring (apispec's convention). A method that serves both a collection path
and an item path (``/api/jobs`` and ``/api/jobs/{job_id}``) splits its YAML
into ``single:`` and ``multiple:`` sections.
"""

import re
from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.yaml_utils import load_yaml_from_docstring

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def openapi_path(pattern: str) -> str | None:
    """``/api/jobs/(?P<job_id>[^/]+)`` -> ``/api/jobs/{job_id}``; None if not documentable."""
    path = _NAMED_GROUP.sub(lambda m: "{" + m.group(1) + "}", pattern).rstrip("$")
    return None if re.search(r"[()\[\]*+?\\]", path) else path


def with_response_descriptions(operation: dict) -> dict:
    """OpenAPI requires a description on every response: default to the status phrase."""
    for code, response in operation.get("responses", {}).items():
        if "description" not in response:
            response["description"] = HTTPStatus(int(code)).phrase
    return operation


def build_spec(
    *,
    title: str,
    version: str,
    description: str,
    routes,
    schemas: dict,
    security_description: str,
) -> dict:
    """The OpenAPI document as a dict.

    Parameters
    ----------
    routes : list of (pattern, handler class)
        Only patterns starting with ``/api`` are documented.
    schemas : dict
        Component name -> marshmallow schema class or instance.
    """
    spec = APISpec(
        title=title,
        version=version,
        openapi_version="3.0.3",
        info={"description": description},
        plugins=[MarshmallowPlugin()],
    )
    spec.components.security_scheme(
        "token",
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": security_description,
        },
    )
    for name, schema in sorted(schemas.items()):
        spec.components.schema(name, schema=schema)

    for pattern, handler in routes:
        path = openapi_path(pattern)
        if not path or not path.startswith("/api"):
            continue
        is_item = "{" in path.rsplit("/", 1)[-1] or path.endswith("}")
        operations = {}
        for method in HTTP_METHODS:
            func = handler.__dict__.get(method)
            if func is None or not func.__doc__:
                continue
            doc = load_yaml_from_docstring(func.__doc__) or {}
            if "single" in doc or "multiple" in doc:
                doc = doc.get("single" if is_item else "multiple")
            if doc:
                operations[method] = with_response_descriptions(doc)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        if operations:
            spec.path(path=path, operations=operations, parameters=parameters or None)
    return spec.to_dict()
