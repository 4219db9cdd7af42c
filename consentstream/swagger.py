"""Swagger UI on ``/docs`` from the project's own copy of swagger-ui-dist (no CDN).

Both apps call :func:`install_docs`; ``make ui`` copies the files into ``web-ui/dist/swagger``.
Without them ``/docs`` still answers, with a page that says how to build them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

WEB_UI_DIST = Path(__file__).resolve().parents[1] / "web-ui" / "dist"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI, dist: Path = WEB_UI_DIST) -> None:
    """Serve Swagger UI's files under /docs/assets and the docs page on /docs."""
    swagger = dist / "swagger"
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger, check_dir=False), name="docs-assets")
    title = f"{app.title} - docs"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not (swagger / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(
                "<p>Swagger UI is not built: run <code>make ui</code>.</p>", status_code=503
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )
