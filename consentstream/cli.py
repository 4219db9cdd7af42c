"""The ``consentstream`` command line: local stack, keys, privacy operations."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="consentstream: consent and cookie tracking.")


def main() -> None:
    """Entry point of the console script."""
    app()
