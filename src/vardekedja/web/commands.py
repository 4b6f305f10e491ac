"""Running a command from a page: on the server's command thread, as the API does, then waiting for the views.

The round's outcome says where the command's last event stands (the head, if it
recorded nothing). A page that redirects after a command waits for the views to
reach that position, so the page it lands on shows what was done.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from fastapi.responses import RedirectResponse

from vardekedja.api.problems import status_of
from vardekedja.application import Marketplace
from vardekedja.domain.errors import DomainError
from vardekedja.runtime import Runtime
from vardekedja.web.domain_words import reason
from vardekedja.web.errors import PageError

WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Done:
    value: Any
    position: int  # the global position of the command's last event (the head if it recorded none)


async def run_command(runtime: Runtime, run: Callable[[Marketplace], Any]) -> Done:
    outcome = await runtime.commands.run(functools.partial(run, runtime.marketplace))
    return Done(outcome.value, outcome.position)


async def until_shown(runtime: Runtime, position: int) -> None:
    """Wait (on a worker thread, at most a moment) until the views have processed ``position``."""
    await to_thread.run_sync(runtime.wait_for, position, WAIT_SECONDS)


async def act(gettext: Callable[[str], str], runtime: Runtime, run: Callable[[Marketplace], Any]) -> Done:
    """Run the command and wait for the views; a rule it breaks becomes an error page that says which."""
    try:
        done = await run_command(runtime, run)
    except DomainError as error:
        said = gettext("That could not be done: %(reason)s") % {"reason": reason(gettext, error)}
        raise PageError(status_of(error), said) from None
    await until_shown(runtime, done.position)
    return done


async def run_then_show(page: Any, runtime: Runtime, run: Callable[[Marketplace], Any], to: str) -> RedirectResponse:
    """Run a command, wait until the views have it, and send the browser to ``to`` (Post/Redirect/Get)."""
    await act(page.gettext, runtime, run)
    return RedirectResponse(to, status_code=303)
