"""Settings as the command line reads them: from the environment, refused in words when they are wrong."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console

from vardekedja.settings import Settings

errors = Console(stderr=True)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            errors.print(f"[red]setting {where}: {problem['msg']}[/red]")
        raise typer.Exit(2) from None
    if settings.operator_key is not None:  # refused here, before a server starts or anything is written
        from vardekedja.application.api_keys import key_parts
        from vardekedja.domain.errors import RuleViolationError

        try:
            key_parts(settings.operator_key.get_secret_value())
        except RuleViolationError as error:
            errors.print(f"[red]setting VARDEKEDJA_OPERATOR_KEY: {error}[/red]")
            raise typer.Exit(2) from None
    return settings
