"""The OpenAPI document and the docs page at ``/``."""

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from shell_service.routes import ROUTES

README = Path(__file__).resolve().parents[2] / "README.md"
METHODS = ("get", "post", "put", "patch", "delete")


def route_to_openapi_path(pattern: str) -> str:
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


@pytest.fixture(scope="module")
def spec(server):
    response = requests.get(server.url + "/api/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


@pytest.fixture(scope="module")
def docs_page(server):
    response = requests.get(server.url + "/", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    return response.text


def test_openapi_document_declares_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]


def test_openapi_document_needs_no_token(anon_api):
    assert anon_api.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "pattern", [pattern for pattern, _ in ROUTES if pattern.startswith("/api")]
)
def test_every_api_route_is_documented(spec, pattern):
    path = route_to_openapi_path(pattern)
    assert path in spec["paths"], sorted(spec["paths"])
    operations = [m for m in METHODS if m in spec["paths"][path]]
    assert operations, spec["paths"][path]
    for method in operations:
        operation = spec["paths"][path][method]
        assert operation.get("summary"), (path, method)
        assert operation.get("responses"), (path, method)


def test_documented_paths_all_exist_in_the_route_table(spec):
    routed = {route_to_openapi_path(pattern) for pattern, _ in ROUTES}
    assert set(spec["paths"]) <= routed, set(spec["paths"]) - routed


def test_every_operation_needing_a_token_documents_401(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation and operation.get("security"):
                assert "401" in {str(code) for code in operation["responses"]}, (path, method)


def test_job_create_body_is_documented_from_the_validating_schema(spec):
    job_create = spec["components"]["schemas"]["JobCreate"]
    assert {"id", "code"} <= set(job_create["properties"])
    assert "code" in job_create["required"]
    assert "id" not in job_create.get("required", [])
    operation = spec["paths"]["/api/jobs"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/JobCreate")


def test_token_auth_scheme_is_documented(spec):
    scheme = spec["components"]["securitySchemes"]["token"]
    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"


class AssetCollector(HTMLParser):
    """Every URL a page makes the browser load: script src, link href, img src."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def page_assets(page: str) -> list[str]:
    collector = AssetCollector()
    collector.feed(page)
    return collector.urls


def test_docs_page_shows_the_title(docs_page, cfg):
    assert f"<title>{cfg['app.title']}" in docs_page
    assert cfg["app.title"] in docs_page


def test_docs_page_loads_only_local_assets(docs_page):
    assets = page_assets(docs_page)
    assert assets, "the docs page should load Swagger UI"
    for url in assets:
        assert not re.match(r"^([a-z]+:)?//", url, re.I), url
    # Inline scripts must not fetch from the network either.
    assert not re.search(r"https?://", _scripts(docs_page))


def _scripts(page: str) -> str:
    return "\n".join(re.findall(r"<script[^>]*>(.*?)</script>", page, re.S))


def test_docs_page_assets_are_served(docs_page, server):
    for url in page_assets(docs_page):
        response = requests.get(server.url + url, timeout=30)
        assert response.status_code == 200, url
        assert response.content, url


def test_docs_page_points_swagger_ui_at_the_openapi_document(docs_page):
    assert "/api/openapi.json" in docs_page


def readme_usage_code_lines() -> list[str]:
    """Lines of the code blocks in README.md's "## Usage" section."""
    text = README.read_text() if README.exists() else ""
    match = re.search(r"^## Usage\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not match:
        return []
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", match.group(1), re.M | re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_docs_page_includes_the_readme_usage_section(docs_page):
    lines = readme_usage_code_lines()
    assert lines, "README.md has no '## Usage' section with examples"
    page_text = html.unescape(docs_page)
    missing = [line for line in lines if line not in page_text]
    assert not missing, missing
    assert "Authorization: token" in page_text
