"""The OpenAPI 3 document, generated from the route table.

Each handler method documents itself: YAML after a ``---`` line in its
docstring (apispec's convention). A method that serves both a collection path
and an item path (``/api/jobs`` and ``/api/jobs/{job_id}``) splits its YAML
into ``single:`` and ``multiple:`` sections.
"""

import json
import re
import shlex
from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.yaml_utils import load_yaml_from_docstring

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
#: Shared error responses (the ``Error`` envelope), by the name docstrings use.
ERROR_RESPONSES = {
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "Conflict": 409,
    "TooLarge": 413,
}
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def openapi_path(pattern: str) -> str | None:
    """A route pattern as an OpenAPI path: ``/api/x/(?P<x_id>[^/]+)`` -> ``/api/x/{x_id}``.

    Parameters
    ----------
    pattern : str
        A Tornado route pattern.

    Returns
    -------
    str or None
        None when the pattern keeps regex syntax besides named groups (not
        documentable).
    """
    path = _NAMED_GROUP.sub(lambda m: "{" + m.group(1) + "}", pattern).rstrip("$")
    return None if re.search(r"[()\[\]*+?\\]", path) else path


def with_response_descriptions(operation: dict) -> dict:
    """Give every response a description (OpenAPI requires one): default to the status phrase.

    Parameters
    ----------
    operation : dict
        One operation's YAML, changed in place.

    Returns
    -------
    dict
        ``operation``.
    """
    for code, response in operation.get("responses", {}).items():
        if isinstance(response, dict) and "description" not in response:
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
    base_url: str = "http://127.0.0.1:5000",
    path_examples: dict[str, str] | None = None,
) -> dict:
    """The OpenAPI document as a dict.

    Parameters
    ----------
    title, version, description : str
        The document's ``info``.
    routes : list of (pattern, handler class)
        Only patterns starting with ``/api`` are documented, from each method's
        docstring (YAML after ``---``).
    schemas : dict
        Component name -> marshmallow schema class or instance.
    security_description : str
        How to send the token (the ``token`` security scheme).
    base_url : str, optional
        Where the curl examples send their requests.
    path_examples : dict, optional
        Path parameter name -> the value the curl examples show for it ("ID" otherwise).

    Returns
    -------
    dict
        An OpenAPI 3.0.3 document; each operation's description ends with a curl
        example (``add_curl_examples``).

    Raises
    ------
    yaml.YAMLError
        A handler's docstring holds YAML that does not parse.
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
    # Docstrings name these instead of spelling out each error response.
    for name, code in ERROR_RESPONSES.items():
        spec.components.response(
            name,
            {
                "description": HTTPStatus(code).phrase,
                "content": {"application/json": {"schema": "Error"}},
            },
        )

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
                doc = doc.get("single" if is_item else "multiple") or {}
            if doc:
                operations[method] = with_response_descriptions(doc)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", path)
        ]
        if operations:
            spec.path(path=path, operations=operations, parameters=parameters or None)
    document = spec.to_dict()
    add_curl_examples(document, base_url, path_examples or {})
    return document


TYPE_EXAMPLES = {
    "string": "text",
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "object": {},
}


def example_body(schema: dict, components: dict) -> dict:
    """A small request body for an example: the required properties, else the first one.

    Parameters
    ----------
    schema : dict
        The body's JSON schema, or a ``$ref`` to one in ``components``.
    components : dict
        The document's component schemas, by name.

    Returns
    -------
    dict
        Property -> its ``example``, or a value of its type.
    """
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    properties = schema.get("properties", {})
    names = schema.get("required") or list(properties)[:1]
    return {
        name: properties[name].get("example", TYPE_EXAMPLES.get(properties[name].get("type")))
        for name in names
    }


def curl_example(
    method: str,
    path: str,
    operation: dict,
    components: dict,
    base_url: str,
    path_examples: dict[str, str],
) -> str:
    """A curl command calling ``operation`` (``method`` on ``path``) with an example body.

    Parameters
    ----------
    method : str
        Lower case, as in the document.
    path : str
        An OpenAPI path; each ``{name}`` becomes ``path_examples[name]`` or "ID".
    operation : dict
    components : dict
    base_url : str
    path_examples : dict of str to str

    Returns
    -------
    str
        One shell line (the token as ``$TOKEN`` when the operation needs one).
    """
    url = base_url + re.sub(r"{(\w+)}", lambda m: path_examples.get(m.group(1), "ID"), path)
    parts = ["curl -s"]
    if method != "get":
        parts.append(f"-X {method.upper()}")
    if operation.get("security"):
        parts.append('-H "Authorization: token $TOKEN"')
    parts.append(url)
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        parts.append(f"-d {shlex.quote(json.dumps(example_body(body['schema'], components)))}")
    return " ".join(parts)


def add_curl_examples(document: dict, base_url: str, path_examples: dict[str, str]) -> None:
    """End every operation's description with a curl command that calls it (in place).

    Also sets each operation's ``x-codeSamples`` to that command.

    Parameters
    ----------
    document : dict
        The OpenAPI document.
    base_url : str
    path_examples : dict of str to str
    """
    components = document.get("components", {}).get("schemas", {})
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            command = curl_example(method, path, operation, components, base_url, path_examples)
            operation["x-codeSamples"] = [{"lang": "Shell", "label": "curl", "source": command}]
            example = f"Example:\n\n```\n{command}\n```"
            description = operation.get("description", "").rstrip()
            operation["description"] = f"{description}\n\n{example}" if description else example
