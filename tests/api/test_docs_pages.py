"""/docs and /redoc work offline: every asset they load is served by Patron itself, from
files inside the installed packages, and nothing names another host."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest

PAGES = ("/docs", "/redoc")


class References(HTMLParser):
    """Every URL a page refers to (`src`, `href`, ReDoc's `spec-url`), and its inline
    scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        for name, value in attrs:
            if name in ("src", "href", "spec-url", "action") and value:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def references(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("page", PAGES)
def test_the_page_refers_to_no_other_host(anon: httpx.Client, page: str) -> None:
    response = anon.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    found = references(response.text)
    assert found.urls, "the page loads nothing: the parser missed its assets"
    for url in found.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url}"
        assert url.startswith("/"), url
    for script in found.scripts:
        assert "http://" not in script and "https://" not in script and "//" + "cdn" not in script


@pytest.mark.parametrize("page", PAGES)
def test_every_asset_of_the_page_is_served(anon: httpx.Client, page: str) -> None:
    for url in references(anon.get(page).text).urls:
        response = anon.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 0, url
        if url.endswith(".js"):
            assert "javascript" in response.headers["content-type"], url
        if url.endswith(".css"):
            assert response.headers["content-type"].startswith("text/css"), url


def test_swagger_ui_loads_the_document_and_asks_no_validator(anon: httpx.Client) -> None:
    html = anon.get("/docs").text
    [script] = [s for s in references(html).scripts if "SwaggerUIBundle" in s]
    assert "'/openapi.json'" in script
    assert '"validatorUrl": null' in script


def test_redoc_is_the_vendored_bundle_with_its_licences(anon: httpx.Client) -> None:
    bundle = anon.get("/static/redoc/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle.text.startswith("/*! For license information please see")
    assert "MIT" in anon.get("/static/redoc/LICENSE").text
    assert anon.get("/static/redoc/redoc.standalone.js.LICENSE.txt").status_code == 200


def test_the_root_leads_to_the_docs(anon: httpx.Client) -> None:
    response = anon.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/docs"
