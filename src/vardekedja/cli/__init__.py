"""The ``vardekedja`` command."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from vardekedja import cli_bookkeeping, cli_projections
from vardekedja.cli.settings import load_settings
from vardekedja.cli_impact import impact_app
from vardekedja.settings import Settings

if TYPE_CHECKING:
    from vardekedja.runtime import Runtime

app = typer.Typer(
    help="Värdekedja: an event-sourced marketplace for public-space furniture.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


@app.callback()
def root() -> None:
    """Settings come from the environment: VARDEKEDJA_DATA_DIR, VARDEKEDJA_DATABASE_URL, …"""


@app.command()
def init(
    name: str = typer.Option("Värdekedja operator", help="The operator organisation's name."),
    org_number: str = typer.Option("559900-0006", help="The operator's organisation number."),
    municipality: str = typer.Option("Stockholm", help="The operator's home municipality."),
    new_key: bool = typer.Option(False, "--new-key", help="Issue a further operator key when one exists."),
) -> None:
    """Create the data folder and audit signing key, and print an operator API key.

    Safe to run again: the data and keys are kept, and no further operator key is
    issued unless --new-key asks for one (the key printed the first time keeps
    working). With VARDEKEDJA_OPERATOR_KEY set, that key is registered instead
    and nothing secret is printed.
    """
    from vardekedja.application import Marketplace
    from vardekedja.audit.keys import ensure_signing_key
    from vardekedja.domain.errors import DomainError

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key_path, created = ensure_signing_key(settings.data_dir)
    console.print(f"data folder      {settings.data_dir.resolve()}")
    console.print(f"signing key      {key_path} ({'created' if created else 'kept'})")
    marketplace = Marketplace(settings.event_store_env(), platform_fee_rate=settings.fee_rate)
    try:
        env_key = settings.operator_key.get_secret_value() if settings.operator_key else None
        existing = marketplace.operators()
        if existing and env_key is None and not new_key:
            issued = None
        else:
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
    elif issued is None:
        console.print(f"operator         {existing[0]} (registered before; its key from then still works, "
                      "and --new-key issues another)", highlight=False, soft_wrap=True)  # fmt: skip
    else:
        console.print(f"operator         {issued.organisation_id}")
        # Plain output, never wrapped, so the key can be copied whole.
        typer.echo(f"operator key     {issued.api_key}")
        console.print("                 (shown once; keep it safe)")


DEMO_KEYS_FILE = "demo-keys.json"


@app.command()
def demo(
    local_stripe: bool = typer.Option(
        False, "--local-stripe", help="Pay the demo's orders at the local Stripe stand-in kept in the data folder "
        "(the one `serve --local-stripe` starts) and open the parties' payout accounts there, so money moves."),
    web: str = typer.Option("http://127.0.0.1:8000", help="The web UI's address, printed with the demo's sign-ins."),
) -> None:  # fmt: skip
    """Seed demo data: Stockholm-suburb designers, workshops, area companies, a housing company and orders.

    Prints each demo organisation's role and API key, and a person of each to sign in to the web UI as.
    Safe to run again: the data are kept, and the keys and passwords printed last time (kept in the data
    folder, readable by you alone) are printed again while they work.
    """
    import json

    from vardekedja.application import Marketplace
    from vardekedja.demo import seed
    from vardekedja.personal_data import PersonalData

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    kept_path = settings.data_dir / DEMO_KEYS_FILE
    try:
        kept = json.loads(kept_path.read_text(encoding="utf-8")) if kept_path.exists() else {}
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    if local_stripe and settings.stripe_secret_key is None:
        from vardekedja.cli_demo import seed_at_local_stripe

        _need_localstripe()
        result = seed_at_local_stripe(settings, kept, settings.data_dir / "media")
        if result.seeded:
            console.print("the demo's orders are paid by card at the local Stripe stand-in, and its designers, "
                          "workshops and area companies can receive money there (kept in the data folder)")  # fmt: skip
    else:
        if local_stripe:
            console.print("STRIPE_SECRET_KEY is set: the demo's payments are not sent to that Stripe account")
        keys = PersonalData.for_settings(settings)  # what the demo seals stays readable
        marketplace = Marketplace(settings.event_store_env(), platform_fee_rate=settings.fee_rate, personal_data=keys)
        try:
            result = seed(marketplace, kept, pictures=settings.data_dir / "media")
        finally:
            marketplace.close()
            keys.dispose()
    _keep_private(kept_path, json.dumps({key.org_number: key.api_key for key in result.keys}, indent=2))
    reused = sum(key.reused for key in result.keys)
    console.print("demo data " + ("seeded" if result.seeded else
                                  f"already there; {reused} of {len(result.keys)} keys reused"))  # fmt: skip
    width = max((len(key.name) for key in result.keys), default=0) + 2
    typer.echo(f"  {'organisation':{width}}{'role':14}API key")
    for key in result.keys:
        typer.echo(f"  {key.name:{width}}{key.role.label:14}{key.api_key}")
    for state, order_id in result.orders.items():
        typer.echo(f"  order {state:14} {order_id}")
    _demo_sign_ins(settings, web)


DEMO_SIGN_INS_FILE = "demo-sign-ins.json"


def _demo_sign_ins(settings: Settings, web: str) -> None:
    """Give each demo organisation a person with a password (kept, and reused while it works) and print them."""
    import json

    from vardekedja.cli_demo import demo_people

    kept_path = settings.data_dir / DEMO_SIGN_INS_FILE
    try:
        kept = json.loads(kept_path.read_text(encoding="utf-8")) if kept_path.exists() else {}
    except (OSError, ValueError):
        kept = {}
    people = demo_people(settings, kept if isinstance(kept, dict) else {})
    _keep_private(kept_path, json.dumps({person.email: person.password for person in people}, indent=2))
    typer.echo(f"\nThe web UI: {web.rstrip('/')}/  Sign in there as any of these people (demo passwords, "
               "for this demo only):")  # fmt: skip
    width = max((len(person.organisation) for person in people), default=0) + 2
    email_width = max((len(person.email) for person in people), default=0) + 2
    typer.echo(f"  {'organisation':{width}}{'role':14}{'email':{email_width}}password")
    for person in people:
        typer.echo(f"  {person.organisation:{width}}{person.role.label:14}{person.email:{email_width}}{person.password}")


def _need_localstripe() -> None:
    import importlib.util

    if importlib.util.find_spec("localstripe") is None:
        errors.print("[red]--local-stripe needs localstripe: pip install 'vardekedja[demo]' (make run does)[/red]")
        raise typer.Exit(2)


def _keep_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (it holds API keys)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on (0 picks a free one)."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes; one projector among them is active."),
    local_stripe: bool = typer.Option(
        False, "--local-stripe", help="Start a local Stripe stand-in (localstripe) unless STRIPE_SECRET_KEY is set."
    ),
) -> None:
    """Serve the HTTP API with uvicorn (uvloop and httptools); interactive docs at /docs."""
    import uvicorn

    settings = load_settings()  # refuse bad settings before any worker starts
    stand_in = None
    if local_stripe and settings.stripe_secret_key is None:
        _need_localstripe()
        if port == 0:  # the stand-in must be told where to send webhooks, so the port is chosen now
            from vardekedja.local_stripe import free_port

            port = free_port()
        stand_in = _start_local_stripe(host, port)
    elif local_stripe:
        console.print("STRIPE_SECRET_KEY is set: using that Stripe account, not a local stand-in")
    try:
        _run_uvicorn(uvicorn, host, port, workers)
    finally:
        if stand_in is not None:
            stand_in.stop()


def _start_local_stripe(host: str, port: int) -> Any:
    """Start localstripe on a free loopback port, point the settings at it, print a demo payment link."""
    from vardekedja.cli_demo import stand_in_state
    from vardekedja.local_stripe import LocalStripe

    stand_in = LocalStripe(state=stand_in_state(load_settings())).start()  # what the demo paid there is kept
    try:
        _use_local_stripe(stand_in, host, port)
    except BaseException:
        stand_in.stop()
        raise
    return stand_in


def _use_local_stripe(stand_in: Any, host: str, port: int) -> None:
    from vardekedja.local_stripe import PUBLISHABLE_KEY, SECRET_KEY

    os.environ.update({
        "STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": stand_in.webhook_secret, "STRIPE_API_BASE": stand_in.base,
    })  # fmt: skip
    stand_in.register_webhook(f"http://{host}:{port}/v1/payments/stripe/webhook")
    console.print(f"local Stripe stand-in on {stand_in.base} (webhooks to this server)")
    link = _demo_payment_link()
    if link:
        url = load_settings().public_url(link, f"http://{host}:{port}")
        typer.echo(f"pay a demo order:  {url}   (test cards are listed on the page)")


def _demo_payment_link() -> str | None:
    """Check out the newest placed order of the demo buyer, if there is one."""
    from vardekedja.demo import BUYER_ORG_NUMBER, place_demo_order
    from vardekedja.projections.orders import OrdersView
    from vardekedja.runtime import Runtime

    runtime = Runtime(load_settings())
    try:
        buyer = next((item.organisation_id for item in runtime.marketplace.listed().listings.values()
                      if item.org_number == BUYER_ORG_NUMBER), None)  # fmt: skip
        if buyer is None:
            return None
        runtime.projector.catch_up()
        with runtime.database.reader.connect() as connection:
            page = runtime.view(OrdersView).list(connection, buyer_id=buyer, status="placed", limit=1)
        order_id = page.items[0]["id"] if page.items else place_demo_order(runtime.marketplace, buyer)
        if order_id is None:
            return None
        _, intent = runtime.marketplace.checkout(buyer, order_id)
        return f"/pay/{order_id}#{intent.client_secret}"
    finally:
        runtime.close()


def _run_uvicorn(uvicorn: Any, host: str, port: int, workers: int) -> None:
    from vardekedja.api.server import uvicorn_options

    uvicorn.run("vardekedja.web:serve_app", factory=True, host=host, port=port, workers=workers,
                **uvicorn_options(load_settings()))  # fmt: skip


projections_app = typer.Typer(help="Inspect and rebuild the read models.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")


def _runtime() -> Runtime:
    from vardekedja.runtime import Runtime

    return Runtime(load_settings())


@app.command()
def project(
    poll_interval: float = typer.Option(1.0, min=0.01, help="Seconds between polls when nothing wakes it."),
    batch_size: int | None = typer.Option(
        None, min=1, help="Events per batch (one transaction per view); default 5000. Smaller batches commit more often."
    ),
) -> None:
    """Run the projector on its own, following the event store until stopped (Ctrl-C or SIGTERM).

    Only one projector is active per database; a second one waits for the
    first to stop. On PostgreSQL it is woken by notifications; on SQLite it polls.
    """
    runtime = _runtime()
    if batch_size is not None:
        runtime.projector.batch_size = batch_size
    _stop_on_signals(runtime.stop)
    try:
        behind = runtime.marketplace.position - runtime.projector.position
        if behind > 0:
            console.print(f"catching up on {behind:,} events")
        console.print("projector running; Ctrl-C stops it")
        runtime.follow(
            poll_interval=poll_interval,
            on_wait=lambda: console.print("another projector is active; waiting for it to stop"),
        )
    finally:
        runtime.close()
    console.print("projector stopped")


def _stop_on_signals(stop: Callable[[], None]) -> None:
    import signal

    def handler(signum: int, _frame: object) -> None:
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@projections_app.command("status")
def projections_status() -> None:
    """Each projection's position and how many events it is behind, and any event one could not apply."""
    from rich.table import Table

    from vardekedja.projections import faults

    runtime = _runtime()
    try:
        head = runtime.marketplace.position
        positions = runtime.database.positions(runtime.views_list)
        with runtime.database.reader.connect() as connection:
            positions[runtime.chain.name] = runtime.chain.position(connection)
            found = faults.all_faults(connection)
    finally:
        runtime.close()
    table = Table("projection", "position", "lag", "state")
    states = {f.projection: f.action for f in found}
    for name, position in positions.items():
        table.add_row(name, f"{position:,}", f"{head - position:,}", states.get(name, "ok"))
    console.print(table)
    console.print(f"event store head: {head:,}")
    cli_projections.report(console, found)


@projections_app.command("rebuild")
def projections_rebuild(
    name: str | None = typer.Argument(None, help="One projection; all of them when left out."),
) -> None:
    """Rebuild from the event store beside the live tables, then swap them in at once."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from vardekedja.projections import PROJECTIONS, faults
    from vardekedja.projections.rebuild import rebuild

    names = [name] if name else list(PROJECTIONS)
    unknown = [n for n in names if n not in PROJECTIONS]
    if unknown:
        errors.print(f"[red]no projection {unknown[0]!r}; there are: {', '.join(PROJECTIONS)}[/red]")
        raise typer.Exit(2)
    runtime = _runtime()
    try:
        # A bar on a terminal only; written to a file or a pipe, one line per projection.
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        ) as progress:  # fmt: skip
            for projection in names:
                task = progress.add_task(projection, total=max(runtime.marketplace.position, 1))

                def advance(done: int, head: int, task: Any = task) -> None:
                    progress.update(task, completed=done, total=max(head, 1))

                position = rebuild(runtime.marketplace, runtime.database, projection, progress=advance)
                progress.update(task, completed=position, total=max(position, 1))
                console.print(f"rebuilt {projection} up to position {position:,}")
        with runtime.database.reader.connect() as connection:
            found = [f for f in faults.all_faults(connection) if f.projection in names]
    finally:
        runtime.close()
    cli_projections.report(console, found)


cli_projections.register(projections_app, _runtime, console, errors)
app.add_typer(impact_app, name="impact")

audit_app = typer.Typer(help="Export, verify and replay the audited event history.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


app.add_typer(cli_bookkeeping.commands(_runtime, console), name="bookkeeping")

# The audit commands live in cli/audit.py; importing it registers them on audit_app.
from vardekedja.cli import audit as _audit  # noqa: E402, F401, I001


def main() -> None:
    app()


if __name__ == "__main__":
    main()
