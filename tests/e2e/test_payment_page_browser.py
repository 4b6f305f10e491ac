"""The payment page in a real browser: headless Chromium pays demo orders at a local Stripe stand-in.

``vardekedja init``, ``vardekedja demo`` and ``vardekedja serve --local-stripe``
run as real processes in a temporary data folder; the test opens the payment
link the server prints, types a test card into localstripe's card element,
presses "Betala" and waits for the page to say "Betalt" and the API to say paid.

Chromium is Debian's ``chromium`` package driven by Playwright (never
``playwright install``). When it is missing and we are root, the set-up installs
it with apt-get; when it cannot be had the tests skip with the reason, unless
``VARDEKEDJA_REQUIRE_BROWSER=1``, which turns that into a failure (CI sets it).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from filelock import FileLock

from tests.environment import switched_on
from tests.payments_support import wait_until

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
REQUIRE_BROWSER = switched_on("VARDEKEDJA_REQUIRE_BROWSER")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
APT_UPDATE_SECONDS = 300
APT_INSTALL_SECONDS = 600
START_SECONDS = 30.0
PAGE_MS = 15_000
BUYER = "Botkyrkabyggen"  # the demo's housing company


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (VARDEKEDJA_REQUIRE_BROWSER is set, so this is a failure)")
    pytest.skip(reason)


def _install_chromium() -> str | None:
    """Install Debian's chromium with apt-get; return why not, or None when it is there."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and installing it needs root"
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install it with"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command, seconds in ((["apt-get", "update"], APT_UPDATE_SECONDS),
                             (["apt-get", "install", "-y", "chromium"], APT_INSTALL_SECONDS)):  # fmt: skip
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds, check=False)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` took more than {seconds}s"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` failed with {done.returncode}: {' | '.join(tail)}"
    return None if os.access(CHROMIUM, os.X_OK) else f"apt-get installed chromium but {CHROMIUM} is not there"


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of a usable Chromium, installed first if missing (root and apt-get only).

    The test workers of ``make test`` may all get here at once: one installs while the others wait for it,
    instead of racing apt-get for its lock."""
    with FileLock(Path(tempfile.gettempdir()) / "vardekedja-tests-chromium.lock"):
        problem = None if os.access(CHROMIUM, os.X_OK) else _install_chromium()
    if problem:
        _unavailable(f"no Chromium for the browser test: {problem}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright is not installed (it is in the test extras: pip install -e '.[test]')")
    return CHROMIUM


def _command(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("vardekedja")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from vardekedja.cli import main; main()", *args]


@dataclass
class Served:
    """``vardekedja serve --local-stripe`` running in a temporary data folder, and what it printed."""

    url: str
    payment_link: str
    buyer_key: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    operator_key: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # each demo organisation's API key, by its name

    @property
    def log(self) -> str:
        return "".join(self.output[-60:])

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.buyer_key}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10.0, **kwargs)


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"vardekedja {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM (uvicorn shuts down and the server stops its stand-in), then SIGKILL to the group we started."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the server's own children, if any outlived it
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def served(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("browser_data")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("STRIPE_", "VARDEKEDJA_"))}
    env.update({"VARDEKEDJA_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "200"})
    operator = re.search(r"^operator key\s+(vk_\S+)\s*$", _run(["init"], env), re.MULTILINE)
    assert operator, "`vardekedja init` printed no operator key"
    demo = _run(["demo"], env)
    keys = dict(re.findall(r"^  (\S.*?)\s{2,}(?:designer|workshop|area company|buyer|auditor)\s+(vk_\S+)\s*$", demo,
                           re.MULTILINE))  # fmt: skip
    assert BUYER in keys, f"`vardekedja demo` printed no key for {BUYER}:\n{demo}"

    # Port 0: the server picks a free one itself, and must then tell the stand-in and the link the real one.
    process = subprocess.Popen(
        _command("serve", "--host", "127.0.0.1", "--port", "0", "--local-stripe"), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    output: list[str] = []
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=read, name="serve-output", daemon=True).start()
    try:
        link = None
        deadline = time.monotonic() + START_SECONDS
        while link is None and time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            found = re.search(r"pay a demo order:\s+(http://127\.0\.0\.1:\d+/pay/\S+)", line)
            link = found.group(1) if found else None
        assert link, f"the server printed no payment link within {START_SECONDS:.0f}s:\n{''.join(output)}"
        url = link.split("/pay/")[0]
        assert not url.endswith(":0"), link

        def healthy() -> bool:
            try:
                return httpx.get(url + "/healthz", timeout=1.0).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=START_SECONDS, interval=0.2, what="the server to answer /healthz")
        yield Served(url, link, keys[BUYER], process, output, operator.group(1), keys)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser_context(chromium: str, served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")),  # a fresh user-data-dir
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS, timeout=START_SECONDS * 1000,
            locale="sv-SE",  # a Swedish buyer's browser: the page follows Accept-Language (the journeys pay in English)
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any, served: Served, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab; on failure its screenshot goes to the test's tmp folder and the server log to the report."""
    tab = browser_context.new_page()
    tab.set_default_timeout(PAGE_MS)
    console: list[str] = []
    tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    failed_before = request.session.testsfailed
    try:
        yield tab
    finally:
        # The call's report is counted before teardown: a failed test has raised testsfailed by now.
        if request.session.testsfailed > failed_before:
            shot = tmp_path / "payment_page_failure.png"
            tab.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}\nbrowser console:\n" + "\n".join(console) + f"\nserver:\n{served.log}")
        tab.close()


def _order_id(payment_link: str) -> UUID:
    found = re.search(r"/pay/([0-9a-f-]{36})#", payment_link)
    assert found, payment_link
    return UUID(found.group(1))


CARD_FIELDS = {
    "sv": ("Kortnummer", "Utgångsmånad (MM)", "Utgångsår (ÅÅ eller ÅÅÅÅ)", "CVC", "Postnummer"),
    "en": ("Card number", "Expiry month (MM)", "Expiry year (YY or YYYY)", "CVC", "Postal code"),
}


def _enter_card(page: Any, number: str, year: str = "34", language: str = "sv") -> None:
    """Type into localstripe's card element, each input found by the name the page gives it in its language."""
    for label, value in zip(CARD_FIELDS[language], (number, "12", year, "123", "14551"), strict=True):
        field_ = page.get_by_label(label, exact=True)
        field_.fill("")
        field_.press_sequentially(value)


def _open(page: Any, served: Served, link: str) -> None:
    page.goto(link if link.startswith("http") else served.url + link)
    page.locator("#pay:enabled").wait_for()
    assert page.locator("#total").inner_text() != "…"


def _new_payment_link(served: Served) -> str:
    """A fresh order from the demo buyer, checked out through the API: its payment page URL."""
    catalogue = served.api("GET", "/v1/catalogue", params={"municipality": "Botkyrka", "limit": 100})
    assert catalogue.status_code == 200, catalogue.text
    site = {"name": "Alby gård", "street": "Albyvägen 1", "postal_code": "145 59", "municipality": "Botkyrka"}
    for design in catalogue.json()["items"]:
        placed = served.api("POST", "/v1/orders", json={"delivery_site": site, "install": True,
                                                         "lines": [{"design_id": design["id"], "quantity": 1}]})  # fmt: skip
        if placed.status_code == 201:
            checkout = served.api("POST", f"/v1/orders/{placed.json()['id']}/checkout")
            assert checkout.status_code == 200, checkout.text
            return str(checkout.json()["payment_url"])
    raise AssertionError(f"no demo design can be made and installed in Botkyrka: {catalogue.text}")


def _paid_through_the_api(served: Served, order_id: UUID) -> dict[str, Any]:
    def paid() -> dict[str, Any] | None:
        order = served.api("GET", f"/v1/orders/{order_id}").json()
        return order if order.get("status") == "paid" else None

    return wait_until(paid, timeout=10, interval=0.2, what=f"order {order_id} to be paid")


def test_the_demo_payment_link_pays_with_a_test_card_in_the_browser(page: Any, served: Served) -> None:
    order_id = _order_id(served.payment_link)
    assert served.api("GET", f"/v1/orders/{order_id}").json()["status"] == "placed"
    _open(page, served, served.payment_link)

    _enter_card(page, "4242424242424242")
    page.get_by_role("button", name="Betala").click()

    page.locator("#message.paid").filter(has_text="Betalt").wait_for()
    order = _paid_through_the_api(served, order_id)
    assert order["paid_ore"] == order["total_ore"]
    page.reload()
    page.locator("#message.paid").filter(has_text="redan betald").wait_for()


def test_a_declined_card_shows_the_error_and_another_card_then_pays(page: Any, served: Served) -> None:
    link = _new_payment_link(served)
    _open(page, served, link)

    _enter_card(page, "4000000000000341")
    page.get_by_role("button", name="Betala").click()
    page.locator("#message.error").filter(has_text="Kortet nekades").wait_for()  # in the page's language
    assert "declined" not in page.locator("#message").inner_text()
    assert page.locator("#pay").is_enabled()

    _enter_card(page, "4242424242424242")  # another card, on the same page and the same payment intent
    page.get_by_role("button", name="Betala").click()

    page.locator("#message.paid").filter(has_text="Betalt").wait_for()
    order = _paid_through_the_api(served, _order_id(link))
    assert [entry["kind"] for entry in order["timeline"]].count("payment_failed") == 1


def test_a_card_that_needs_3d_secure_pays_after_completing_authentication(page: Any, served: Served) -> None:
    link = _new_payment_link(served)
    _open(page, served, link)

    _enter_card(page, "4000002500003155")
    page.get_by_role("button", name="Betala").click()
    page.get_by_role("button", name="Complete authentication").click()

    page.locator("#message.paid").filter(has_text="Betalt").wait_for()
    _paid_through_the_api(served, _order_id(link))


def test_a_four_digit_expiry_year_pays_with_the_local_stand_in(page: Any, served: Served) -> None:
    link = _new_payment_link(served)
    _open(page, served, link)

    _enter_card(page, "4242424242424242", year="2034")
    page.get_by_role("button", name="Betala").click()

    page.locator("#message.paid").filter(has_text="Betalt").wait_for()
    _paid_through_the_api(served, _order_id(link))


def test_the_card_fields_show_their_whole_placeholders_and_the_demo_lists_its_test_cards(page: Any,
                                                                                        served: Served) -> None:  # fmt: skip
    _open(page, served, _new_payment_link(served))

    # A placeholder is cut off when its text, in the input's font, is wider than the input's text area.
    cut_off = page.evaluate("""() => [...document.querySelectorAll('#card input')].filter((input) => {
        const style = getComputedStyle(input), probe = document.createElement('span');
        Object.assign(probe.style, {font: style.font, whiteSpace: 'pre', position: 'absolute', visibility: 'hidden'});
        probe.textContent = input.placeholder;
        document.body.appendChild(probe);
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        const wide = probe.getBoundingClientRect().width > room + 1;
        probe.remove();
        return wide;
    }).map((input) => input.placeholder)""")
    assert cut_off == []
    test_cards = page.locator("#test-cards")
    test_cards.wait_for(state="visible")  # fails after the page timeout if the list is hidden
    for number in ("4242424242424242", "4000000000000341", "4000002500003155"):
        assert number in test_cards.inner_text()


def test_a_payment_link_that_is_not_one_says_so_in_swedish(page: Any, served: Served) -> None:
    link = _new_payment_link(served)
    page.goto(served.url + link.split("#")[0].removeprefix(served.url) + "#pi_unknown_secret_nothing")

    page.locator("#message.error").filter(has_text="Betalningen finns inte").wait_for()
