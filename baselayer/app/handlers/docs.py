"""The API's own documentation: the OpenAPI document and the page at ``/``.

The page is Swagger UI from the swagger-ui-bundle package, served locally, so
it renders with no network; above it, the README's usage section.
"""

import json
from pathlib import Path

import markdown
import swagger_ui_bundle
import tornado.web

from .base import BaseHandler, deny_framing

SWAGGER_UI_PATH = swagger_ui_bundle.swagger_ui_path
TEMPLATE = Path(__file__).parent.parent / "templates" / "docs.html"


def readme_section(readme: Path, heading: str) -> str:
    """The markdown under ``## heading`` in the README (up to the next ``## ``).

    Parameters
    ----------
    readme : Path
    heading : str
        Matched case-insensitively.

    Returns
    -------
    str
        Empty when the README or the section is missing.
    """
    try:
        lines = readme.read_text().splitlines()
    except FileNotFoundError:
        return ""
    out, inside = [], False
    for line in lines:
        if line.startswith("## "):
            if inside:
                break
            inside = line[3:].strip().lower() == heading.lower()
            continue
        if inside:
            out.append(line)
    return "\n".join(out)


class OpenAPIHandler(BaseHandler):
    """``GET /api/openapi.json``: the OpenAPI document (built once at start-up); anyone."""

    auth_required = False

    def get(self):
        """Answer the OpenAPI document as JSON (the document itself, not in the envelope)."""
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(self.settings["openapi_spec"]))


class DocsHandler(tornado.web.RequestHandler):
    """``GET /``: the browsable docs page (HTML, not the JSON envelope); anyone.

    With the ``ui_url`` setting, the page links to the app's browser UI there.
    """

    def set_default_headers(self) -> None:
        """Not framed: its "Try it out" takes a token (``deny_framing``)."""
        deny_framing(self)

    def get(self):
        """Render the page: the README's usage section above Swagger UI."""
        spec = self.settings["openapi_spec"]
        self.render(
            str(TEMPLATE),
            title=spec["info"]["title"],
            version=spec["info"]["version"],
            usage_html=self.settings["docs_usage_html"],
            ui_url=self.settings.get("ui_url"),
        )


def docs_settings(spec: dict, readme: Path, usage_heading: str = "Usage") -> dict:
    """Tornado settings the docs handlers read; built once at start-up.

    Parameters
    ----------
    spec : dict
        The OpenAPI document.
    readme : Path
    usage_heading : str, optional
        The README section shown above the API reference.

    Returns
    -------
    dict
        ``openapi_spec`` (the document) and ``docs_usage_html`` (the section as HTML).
    """
    usage = readme_section(readme, usage_heading)
    return {
        "openapi_spec": spec,
        "docs_usage_html": markdown.markdown(usage, extensions=["fenced_code", "tables"]),
    }


def docs_routes() -> list:
    """The docs' routes: the page, the OpenAPI document and Swagger UI's static files.

    Returns
    -------
    list of tuple
        Tornado route entries ``(pattern, handler class[, kwargs])``.
    """
    return [
        (r"/", DocsHandler),
        (r"/api/openapi.json", OpenAPIHandler),
        (
            r"/static/swagger-ui/(.*)",
            tornado.web.StaticFileHandler,
            {"path": SWAGGER_UI_PATH},
        ),
    ]
