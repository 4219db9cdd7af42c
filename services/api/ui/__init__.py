"""The staff pages on the API: marketing dashboard (/ui/) and privacy console (/ui/privacy).

Server-rendered from Jinja2 templates; every number and action goes through the same route
functions as the JSON API, so the pages have no second query path. :func:`install` wires them in.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..config import ApiSettings
from . import console, dashboard, signin
from .deps import PageRefused, SignInNeeded, sign_in_url
from .web import PageHeaders, error_page


def install(app: FastAPI, settings: ApiSettings) -> None:
    """Mount the pages, their assets and their error handling on the API app."""

    async def on_sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return RedirectResponse(sign_in_url(exc.back_to), status_code=303)

    async def on_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return error_page(request, 403, exc.title, exc.message)

    app.add_exception_handler(SignInNeeded, on_sign_in_needed)
    app.add_exception_handler(PageRefused, on_refused)
    app.mount(
        "/ui/static",
        StaticFiles(directory=settings.ui_assets_dir, check_dir=False),
        name="ui-static",
    )
    for module in (signin, dashboard, console):
        app.include_router(module.router)
    app.add_middleware(PageHeaders)
