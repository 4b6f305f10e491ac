"""The web UI in a real browser: Debian's Chromium drives a real server process seeded with the demo.

Every page is checked with axe-core (no serious or critical violation), at
desktop width and at 360 px; the buyer's way from searching to the cart is
walked in English by pointer and by keyboard alone; htmx's partial updates
run under the Content-Security-Policy without a single violation. Screenshots
of each page go to ``VARDEKEDJA_SCREENSHOTS`` when it is set (the README's come
from ``docs/screenshots``), else to a temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.server import ServerProcess, free_port, vardekedja
from tests.e2e.test_payment_page_browser import CHROMIUM_ARGS, chromium  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

SERIOUS = ("serious", "critical")
PAGE_MS = 15_000


@pytest.fixture(scope="module")
def server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("web_data")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("STRIPE_", "VARDEKEDJA_"))}
    env.update({"VARDEKEDJA_DATA_DIR": str(data_dir), "NO_COLOR": "1"})
    for step in (["init"], ["demo"]):
        done = subprocess.run([vardekedja(), *step], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    with ServerProcess([vardekedja(), "serve", "--port", str(port)], env=env, port=port,
                       log=data_dir / "serve.log") as process:  # fmt: skip
        process.wait_until_ready()
        yield process


@pytest.fixture(scope="module")
def web_browser(chromium: str) -> Iterator[Any]:  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("VARDEKEDJA_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")


def first_design(server: ServerProcess) -> str:
    html = httpx.get(server.url + "/catalogue", timeout=10).text
    found = re.search(r'href="/designs/([0-9a-f-]{36})"', html)
    assert found is not None
    return found.group(1)


def _page(browser: Any, width: int = 1280, language: str = "sv") -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="sv-SE" if language == "sv" else "en-GB")
    page = context.new_page()
    page.set_default_timeout(PAGE_MS)
    page.problems = []  # type: ignore[attr-defined]
    page.on("console", lambda message: page.problems.append(message.text) if message.type == "error" else None)
    return page


def _accessible(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in SERIOUS]  # fmt: skip


def _fill_cart(page: Any, server: ServerProcess, design: str) -> None:
    page.goto(f"{server.url}/designs/{design}")
    page.get_by_role("button", name=re.compile("Lägg i varukorgen|Add to cart")).click()
    page.wait_for_url(f"{server.url}/cart")


@pytest.mark.parametrize("width", [1280, 360])
def test_every_page_passes_axe_and_is_photographed(web_browser: Any, server: ServerProcess, shots: Path, width: int) -> None:
    design = first_design(server)
    page = _page(web_browser, width)
    _fill_cart(page, server, design)
    pages = {"home": "/", "catalogue": "/catalogue", "design": f"/designs/{design}?municipality=Botkyrka",
             "cart": "/cart", "patterns": "/patterns", "not-found": "/no-such-page",
             "catalogue-en": "/catalogue?lang=en&q=b"}  # fmt: skip
    problems = {}
    for name, path in pages.items():
        page.goto(server.url + path)
        found = _accessible(page)
        if found:
            problems[path] = found
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=name != "patterns")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{path} is {scroll} px wide at {width} px"
    assert not problems, problems
    assert not [p for p in page.problems if "Content Security Policy" in p or "Refused" in p], page.problems


def test_the_buyer_finds_a_design_and_fills_the_cart_in_english_at_360_px(web_browser: Any, server: ServerProcess) -> None:
    from playwright.sync_api import expect

    page = _page(web_browser, 360, "en")
    page.goto(server.url + "/?lang=en")
    page.get_by_label("Search").fill("bänk")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/catalogue\?q="))
    page.get_by_role("link", name="Parkbänk Fittja").click()
    expect(page.get_by_text("SEK 8,305.00").first).to_be_visible()  # waits for the design page the click opens
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(server.url + "/cart")
    row = page.get_by_role("row", name=re.compile("Parkbänk Fittja"))
    assert "SEK 24,915.00" in row.inner_text()
    for name in ("Delivery site name", "Street", "Postal code", "Municipality", "Install"):
        assert page.get_by_label(name).count() == 1, name
    expect(page.get_by_role("button", name="Place order")).to_be_visible()


def test_the_cart_can_be_filled_by_keyboard_alone(web_browser: Any, server: ServerProcess) -> None:
    page = _page(web_browser, 1280, "en")
    page.goto(f"{server.url}/designs/{first_design(server)}?lang=en")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "quantity":
            break
    else:
        pytest.fail("the quantity field cannot be reached with Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Add to cart"
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + "/cart")
    assert page.locator("input[name=quantity]").first.input_value() == "2"


def test_htmx_updates_the_results_under_the_content_security_policy(web_browser: Any, server: ServerProcess) -> None:
    page = _page(web_browser)
    page.goto(server.url + "/catalogue")
    page.evaluate("document.body.dataset.loadedOnce = 'yes'")  # survives only if the page is not reloaded
    page.get_by_label("Sök").fill("odlings")
    from playwright.sync_api import expect

    expect(page.locator("#results .card")).to_have_count(1)  # polls from outside the page (the CSP forbids eval)
    assert page.evaluate("document.body.dataset.loadedOnce") == "yes"
    assert "q=odlings" in page.url  # the address follows, so the result can be shared and reloaded
    assert not page.problems, page.problems
