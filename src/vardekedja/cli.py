"""The ``vardekedja`` command."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console

from vardekedja.settings import Settings

app = typer.Typer(
    help="Värdekedja: an event-sourced marketplace for public-space furniture.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

SIGNING_KEY_FILE = "audit-signing-key.pem"


@app.callback()
def root() -> None:
    """Settings come from the environment: VARDEKEDJA_DATA_DIR, VARDEKEDJA_DATABASE_URL, …"""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            errors.print(f"[red]setting {where}: {problem['msg']}[/red]")
        raise typer.Exit(2) from None


def ensure_signing_key(data_dir: Path) -> tuple[Path, bool]:
    """Create the Ed25519 key that signs audit checkpoints, once; never overwrite it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = data_dir / SIGNING_KEY_FILE
    if path.exists():
        return path, False
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Written to a private temporary file and linked into place, so that a crash
    # never leaves a half-written key and a second init never replaces it.
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        return path, False
    finally:
        temporary.unlink()
    return path, True


@app.command()
def init(
    name: str = typer.Option("Värdekedja operator", help="The operator organisation's name."),
    org_number: str = typer.Option("559900-0006", help="The operator's organisation number."),
    municipality: str = typer.Option("Stockholm", help="The operator's home municipality."),
) -> None:
    """Create the data folder and audit signing key, and print an operator API key.

    Safe to run again: the data and key are kept, and a further operator key is
    issued. With VARDEKEDJA_OPERATOR_KEY set, that key is registered instead
    and nothing secret is printed.
    """
    from vardekedja.application import Marketplace
    from vardekedja.domain.errors import DomainError

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_path, created = ensure_signing_key(settings.data_dir)
    console.print(f"data folder      {settings.data_dir.resolve()}")
    console.print(f"signing key      {key_path} ({'created' if created else 'kept'})")
    marketplace = Marketplace(settings.event_store_env(), platform_fee_rate=settings.fee_rate)
    try:
        env_key = settings.operator_key.get_secret_value() if settings.operator_key else None
        issued = marketplace.ensure_operator(
            name=name, org_number=org_number, municipality=municipality, api_key=env_key
        )
    except DomainError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    finally:
        marketplace.close()
    console.print(f"event store      {'PostgreSQL' if settings.uses_postgres else 'SQLite'}")
    if env_key is not None:
        console.print("operator key     from VARDEKEDJA_OPERATOR_KEY" + (" (registered)" if issued else ""))
    elif issued is not None:
        console.print(f"operator         {issued.organisation_id}")
        # Plain output, never wrapped, so the key can be copied whole.
        typer.echo(f"operator key     {issued.api_key}")
        console.print("                 (shown once; keep it safe)")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
