"""`/docs` (Swagger UI) and `/redoc` (ReDoc), from files inside the installed packages, so the
reference works on a machine with no internet access and loads nothing from a third party.

Swagger UI comes from the `swagger-ui-bundle-v2` package (its dist folder, kept up to date by
its maintainers); ReDoc, which no PyPI package ships on its own, is vendored in
`patron/static/redoc` (see the README there).
"""

import importlib

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

SWAGGER_UI = "/static/swagger-ui"
REDOC = "/static/redoc"
FAVICON = f"{SWAGGER_UI}/favicon-32x32.png"

SWAGGER_UI_PARAMETERS = {
    # No badge asking a public validator about the document.
    "validatorUrl": None,
    "displayRequestDuration": True,
    "defaultModelsExpandDepth": 0,
}


def swagger_ui_dir() -> str:
    bundle = importlib.import_module("swagger_ui_bundle")  # the package has no type hints
    return str(bundle.swagger_ui_path)


def install_pages(app: FastAPI) -> None:
    app.mount(SWAGGER_UI, StaticFiles(directory=swagger_ui_dir()), name="swagger-ui")
    app.mount(REDOC, StaticFiles(packages=[("patron", "static/redoc")]), name="redoc")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=title,
            redoc_js_url=f"{REDOC}/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
