"""The API's OpenAPI document (`/openapi.json`) and the pages that show it (`/docs`,
`/redoc`). See docs/api.md."""

from typing import Any

from fastapi import FastAPI

from patron.openapi.document import build
from patron.openapi.pages import install_pages


def install_openapi(app: FastAPI) -> None:
    """Serve the document, built once on first request, and the pages. Call it after every
    route is included."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    install_pages(app)
