"""``consentstream receipt verify``: check a deletion receipt's Ed25519 signature.

With ``--public-key`` it checks as a third party would, with only the published PEM; without,
with the key this deployment signs with (``CONSENTSTREAM_RECEIPT_SIGNING_KEY``). The API's
``POST /v1/receipts/verify`` runs the same check
(:func:`consentstream.receipt_signing.verify_file`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.markup import escape

from consentstream.receipt_signing import ReceiptSigner, load_public_pem, verify_file
from services.api.config import ApiSettings

receipt_app = typer.Typer(no_args_is_help=True, help="Deletion receipts.")
errors = Console(stderr=True)

ReceiptFile = Annotated[
    Path, typer.Argument(help="The signed receipt (JSON, as downloaded).", dir_okay=False)
]
PublicKey = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="PEM file of the public key (GET /v1/receipts/public-key); default: this"
        " deployment's key.",
        dir_okay=False,
    ),
]


def _refuse(message: str, code: int) -> typer.Exit:
    errors.print(f"[bold red]{escape(message)}[/]", highlight=False)
    return typer.Exit(code)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise _refuse(f"cannot read {path}: {exc.strerror}", 2) from None
    except orjson.JSONDecodeError as exc:
        raise _refuse(f"{path} is not JSON: {exc}", 2) from None
    if not isinstance(value, dict):
        raise _refuse(f"{path} is not a signed receipt (a JSON object)", 2)
    return value


def _public_key(path: Path | None) -> Ed25519PublicKey:
    if path is None:
        secret = ApiSettings().receipt_signing_key.get_secret_value()
        return ReceiptSigner(secret).public
    try:
        return load_public_pem(path.read_bytes())
    except OSError as exc:
        raise _refuse(f"cannot read {path}: {exc.strerror}", 2) from None
    except ValueError as exc:
        raise _refuse(f"{path}: {exc}", 2) from None


@receipt_app.command("verify")
def verify(file: ReceiptFile, public_key: PublicKey = None) -> None:
    """Check a signed deletion receipt; exit 1 (with the reason) when it does not verify."""
    signed = _read_json(file)
    verdict = verify_file(signed, _public_key(public_key))
    if not verdict.valid:
        raise _refuse(f"invalid receipt: {verdict.reason}", 1)
    typer.echo(f"valid: {verdict.reason} (key {verdict.key_id}, Ed25519)")
