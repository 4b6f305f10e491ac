"""Each role's way through the web UI, signed in, in a real browser against ``vardekedja serve --local-stripe``.

One server for the module (the payment test's ``served``: init, the demo, and a
local Stripe stand-in) and one Chromium. The people are invited through the API
with the keys ``init`` and ``demo`` print, open their invite in the browser,
choose a password, and then sign in at ``/login`` by the fixed accessible names
("Email", "Password", "Sign in"). Every page a signed-in person sees is checked
with axe-core (no serious or critical violation), and no page may log an error
to the console (a Content-Security-Policy violation is one). Each role's main
page is photographed into ``VARDEKEDJA_SCREENSHOTS`` when it is set.

What a journey needs from another role (a paid order for the workshop, a
delivered piece for the area company, a sale for the designer) is done through
the API with the demo's keys, so each journey stands on its own.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.api.support import org_number
from tests.e2e.test_payment_page_browser import CARD_FIELDS, Served, _enter_card, chromium, served  # noqa: F401 - the fixtures
from tests.e2e.test_web_browser import _accessible, shots, web_browser  # noqa: F401 - the fixtures
from tests.payments_support import wait_until

pytestmark = pytest.mark.slow

PAGE_MS = 15_000
PASSWORD = "kvarnstugan mot ängen 17"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
WORKSHOP, AREA_COMPANY, DESIGNER = "Fittja Snickeri & Smide", "Botkyrka Områdesföretag", "Studio Allmänning"
BUYER, AUDITOR = "Botkyrkabyggen", "Revisionsbyrån Granskning"
SITE = {"name": "Alby gård", "street": "Albyvägen 1", "postal_code": "145 59", "municipality": "Botkyrka"}
_serial = itertools.count(1)


@dataclass
class Person:
    email: str
    organisation: str


class Api:
    """The JSON API with a demo organisation's key (or the operator's)."""

    def __init__(self, server: Served, key: str) -> None:
        self.server, self.key = server, key

    def __call__(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        answer = httpx.request(method, self.server.url + path, headers={"Authorization": f"Bearer {self.key}"},
                               timeout=15.0, **kwargs)  # fmt: skip
        assert answer.status_code == expect, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None


@dataclass
class Tab:
    """A browser tab whose every page is checked: axe-core, and nothing logged as an error."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)
    inaccessible: dict[str, list[str]] = field(default_factory=dict)

    def goto(self, path: str) -> Any:
        """Open ``path`` and check it; Playwright's answer to the navigation."""
        answer = self.page.goto(self.base + path)
        self.checked()
        return answer

    def checked(self) -> None:
        """Run axe-core on the page as it is now; what it finds is kept and failed on at the end."""
        self.page.wait_for_load_state()
        found = _accessible(self.page)
        if found:
            self.inaccessible.setdefault(urlsplit(self.page.url).path, []).extend(found)

    def click(self, role: str, name: str | re.Pattern[str], *, within: Any = None) -> None:
        """Click and wait for the page the click leads to (every form here answers with a redirect)."""
        with self.page.expect_navigation():
            (within or self.page).get_by_role(role, name=name).click()
        self.checked()

    def path(self) -> str:
        return urlsplit(self.page.url).path

    def assert_clean(self) -> None:
        assert not self.inaccessible, self.inaccessible
        assert not self.problems, self.problems


@pytest.fixture
def tabs(web_browser: Any, served: Served, request: pytest.FixtureRequest) -> Iterator[Callable[..., Tab]]:  # noqa: F811
    """New tabs in fresh browser contexts (no cookies shared), closed after the test."""
    contexts = []

    def open_tab(*, width: int = 1280, language: str = "sv") -> Tab:
        context = web_browser.new_context(viewport={"width": width, "height": 900},
                                          locale="sv-SE" if language == "sv" else "en-GB")  # fmt: skip
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(PAGE_MS)
        tab = Tab(page, served.url)
        page.on("console", lambda message: tab.problems.append(f"{message.text} ({message.location.get('url')}, on {page.url})")
                if message.type == "error" else None)  # fmt: skip
        page.on("pageerror", lambda error: tab.problems.append(str(error)))
        return tab

    failed_before = request.session.testsfailed
    yield open_tab
    if request.session.testsfailed > failed_before:  # the server's side of what went wrong
        print(f"server:\n{served.log}")
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def operator(served: Served) -> Api:  # noqa: F811
    return Api(served, served.operator_key)


def api_of(server: Served, organisation: str) -> Api:
    return Api(server, server.keys[organisation])


def invite(server: Served, operator: Api, organisation_key: str, name: str, language: str = "sv") -> tuple[str, str]:
    """A person invited into the organisation whose key this is, through the API: their email and invite link."""
    organisation_id = Api(server, organisation_key)("GET", "/v1/me")["id"]
    email = f"person{next(_serial)}@{re.sub(r'[^a-z]', '', name.lower())[:20] or 'example'}.se"
    invited = operator("POST", f"/v1/organisations/{organisation_id}/people", 201,
                       json={"name": name, "email": email, "language": language})  # fmt: skip
    return email, invited["invite_url"]


def join(tab: Tab, invite_url: str) -> None:
    """Open the invite, choose a password and be signed in."""
    tab.page.goto(invite_url)
    tab.page.get_by_label("Password", exact=True).fill(PASSWORD)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name=re.compile("sign in", re.IGNORECASE)).click()


NAMES = {BUYER: "Sara Lindqvist", WORKSHOP: "Mehmet Demir", AREA_COMPANY: "Leyla Ahmed", DESIGNER: "Johan Ek",
         AUDITOR: "Karin Berg", "operator": "Nils Holm"}  # fmt: skip


@pytest.fixture(scope="module")
def members(served: Served, operator: Api, web_browser: Any) -> Callable[[str], Person]:  # noqa: F811
    """A member of a demo organisation (or the operator's) with a password: invited through the API and joined
    in a browser context of its own, once per organisation for the module."""
    known: dict[str, Person] = {}

    def member_of(organisation: str) -> Person:
        if organisation not in known:
            key = served.operator_key if organisation == "operator" else served.keys[organisation]
            email, url = invite(served, operator, key, NAMES[organisation])
            context = web_browser.new_context(locale="en-GB")
            try:
                page = context.new_page()
                page.set_default_timeout(PAGE_MS)
                join(Tab(page, served.url), url)
            finally:
                context.close()
            known[organisation] = Person(email, organisation)
        return known[organisation]

    return member_of


def sign_in(tab: Tab, person: Person, home: str, language: str = "sv") -> None:
    """Sign in at /login by the fixed English names, then open the role's main page in the tab's language."""
    tab.page.goto(tab.base + "/login?lang=en")
    tab.page.get_by_label("Email", exact=True).fill(person.email)
    tab.page.get_by_label("Password", exact=True).fill(PASSWORD)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Sign in", exact=True).click()
    tab.goto(f"{home}?lang={language}")
    assert tab.path() == home, f"{person.organisation} was not let into {home}: {tab.page.url}"


def photograph(tab: Tab, shots: Path, name: str) -> None:  # noqa: F811
    tab.page.screenshot(path=str(shots / f"{name}.png"))  # the first screenful, as a person first sees it


def pay_on_the_payment_page(tab: Tab, english: bool = False) -> None:
    """On /pay/{id}, in the tab's language: a test card that goes through, then the page says it is paid."""
    tab.page.locator("#pay:enabled").wait_for()
    tab.checked()
    language = "en" if english else "sv"
    assert tab.page.locator("html").get_attribute("lang") == language
    heading = tab.page.get_by_role("heading", level=1).inner_text()
    assert heading == ("Pay for your order" if english else "Betala beställningen"), heading
    total = tab.page.locator("#total").inner_text()
    assert re.fullmatch(r"SEK \d{1,3}(,\d{3})*\.\d\d" if english else r"\d{1,3}( \d{3})*,\d\d kr", total), total
    _enter_card(tab.page, "4242424242424242", language=language)
    tab.page.get_by_role("button", name="Pay" if english else "Betala", exact=True).click()
    tab.page.locator("#message.paid").filter(has_text="Paid – thank you!" if english else "Betalt – tack!").wait_for()


def paid_order(server: Served, tabs: Callable[..., Tab], design_id: str, quantity: int, install: bool = True) -> str:
    """An order placed and checked out through the API by the demo buyer, paid with a test card in a tab."""
    buyer = api_of(server, BUYER)
    order = buyer("POST", "/v1/orders", 201, json={"delivery_site": SITE, "install": install,
                                                    "lines": [{"design_id": design_id, "quantity": quantity}]})  # fmt: skip
    link = buyer("POST", f"/v1/orders/{order['id']}/checkout")["payment_url"]
    tab = tabs()
    tab.page.goto(link)
    pay_on_the_payment_page(tab)
    wait_until(lambda: buyer("GET", f"/v1/orders/{order['id']}")["status"] == "paid" or None, timeout=10,
               what="the order to be paid")  # fmt: skip
    return str(order["id"])


def a_design(server: Served, title: str) -> dict[str, Any]:
    items = api_of(server, BUYER)("GET", "/v1/catalogue", params={"municipality": "Botkyrka", "limit": 100})["items"]
    return next(item for item in items if item["published"]["title"] == title)


def window_under_way() -> tuple[datetime, datetime]:
    start = datetime.now(STOCKHOLM).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=4)


def delivered(server: Served, order_id: str) -> str:
    """The workshop's part through the API: every line made and delivered; the first line's delivery id."""
    workshop = api_of(server, WORKSHOP)
    first = None
    for line in itertools.count(1):
        order = api_of(server, BUYER)("GET", f"/v1/orders/{order_id}")
        if line > len(order["lines"]):
            break
        production = next(p for p in workshop("GET", "/v1/production-orders", params={"limit": 100})["items"]
                          if p["order_id"] == order_id and p["line_no"] == line)  # fmt: skip
        for step, body in (("accept", None), ("start", None), ("complete", {"hours_worked": 6.5})):
            workshop("POST", f"/v1/production-orders/{production['id']}/{step}", json=body)
        delivery = wait_until(lambda line=line: next((d for d in workshop("GET", "/v1/deliveries", params={"limit": 100})["items"]
                                                      if d["order_id"] == order_id and d["line_no"] == line), None),
                              timeout=10, what="the delivery to open")  # fmt: skip
        earliest, latest = window_under_way()
        workshop("POST", f"/v1/deliveries/{delivery['id']}/schedule",
                 json={"earliest": earliest.isoformat(), "latest": latest.isoformat()})  # fmt: skip
        workshop("POST", f"/v1/deliveries/{delivery['id']}/dispatch")
        workshop("POST", f"/v1/deliveries/{delivery['id']}/deliver", json={"received_by": "Fastighetsskötaren"})
        first = first or str(delivery["id"])
    assert first is not None
    return first


# The journeys.


def buy(tab: Tab, *, english: bool) -> str:
    """Search, add to the cart, place the order, pay, and see it paid; the order's id."""
    words = {"search": "Search" if english else "Sök", "add": "Add to cart" if english else "Lägg i varukorgen",
             "place": "Place order" if english else "Lägg beställning", "pay": "Pay" if english else "Betala"}  # fmt: skip
    tab.page.get_by_label(words["search"], exact=True).first.fill("bänk")
    tab.click("button", words["search"])
    tab.click("link", "Parkbänk Fittja")
    tab.page.get_by_label("Quantity" if english else "Antal", exact=True).fill("2")
    tab.click("button", words["add"])
    assert tab.path() == "/cart"
    for label, value in zip(("Delivery site name", "Street", "Postal code", "Municipality") if english else
                            ("Leveransplatsens namn", "Gatuadress", "Postnummer", "Kommun"), SITE.values(), strict=True):  # fmt: skip
        tab.page.get_by_label(label, exact=True).fill(value)
    tab.click("button", words["place"])
    placed = re.fullmatch(r"/orders/([0-9a-f-]{36})", tab.path())
    assert placed, tab.page.url
    tab.click("button", re.compile(words["pay"]))
    assert tab.path().startswith("/pay/")
    pay_on_the_payment_page(tab, english=english)
    return placed.group(1)


def see_it_paid(tab: Tab, order_id: str, paid: str) -> None:
    def shown() -> bool | None:
        tab.goto(f"/orders/{order_id}")
        return paid in tab.page.get_by_role("heading", level=1).inner_text() or None

    wait_until(shown, timeout=10, interval=0.5, what="the order page to say paid")


def print_the_order(tab: Tab, shots: Path) -> None:  # noqa: F811
    """Printed, the order page keeps what the order is (lines, totals, site, what happened) and drops the rest."""
    page = tab.page
    page.emulate_media(media="print")
    try:
        for gone in ("header.site nav", "header.site .person", "main form", "button", "#next", "footer.site"):
            assert not any(found.is_visible() for found in page.locator(gone).all()), f"{gone} is printed"
        for kept in ("h1", "table.lines tbody tr", "table.lines tfoot", "#site", "ol.timeline li"):
            assert page.locator(kept).first.is_visible(), f"{kept} is not printed"
        page.screenshot(path=str(shots / "buyer-order-print.png"), full_page=True)
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1  # one page
    finally:
        page.emulate_media(media="screen")


def test_a_buyer_searches_orders_pays_and_sees_the_order_paid(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                              shots: Path) -> None:  # noqa: F811
    buyer = members(BUYER)
    tab = tabs()
    sign_in(tab, buyer, "/orders")
    tab.goto("/")
    order_id = buy(tab, english=False)
    see_it_paid(tab, order_id, "betald")
    photograph(tab, shots, "buyer-order-1280")
    print_the_order(tab, shots)
    tab.goto("/orders")
    assert tab.page.get_by_role("row", name=re.compile("Alby gård")).count() >= 1
    photograph(tab, shots, "buyer-orders-1280")
    tab.assert_clean()


def test_the_same_buyer_journey_in_english_at_360_px(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                    shots: Path) -> None:  # noqa: F811
    buyer = members(BUYER)
    tab = tabs(width=360, language="en")
    sign_in(tab, buyer, "/orders", language="en")
    tab.goto("/")
    order_id = buy(tab, english=True)
    see_it_paid(tab, order_id, "paid")
    for path in (f"/orders/{order_id}", "/orders"):
        tab.goto(path)
        wide = tab.page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 360, f"{path} is {wide} px wide at 360 px"
    photograph(tab, shots, "buyer-orders-360-en")
    tab.assert_clean()


def tab_to(tab: Tab, is_it: str, most: int = 80) -> None:
    """Press Tab until the focused element satisfies ``is_it`` (a JavaScript expression on ``el``)."""
    for _ in range(most):
        tab.page.keyboard.press("Tab")
        if tab.page.evaluate(f"(() => {{ const el = document.activeElement; return !!({is_it}); }})()"):
            return
    pytest.fail(f"nothing matching {is_it} can be reached with Tab on {tab.page.url}")


def type_into(tab: Tab, is_it: str, text: str) -> None:
    tab_to(tab, is_it)
    tab.page.keyboard.press("Control+A")
    tab.page.keyboard.type(text)


def press_and_follow(tab: Tab, key: str) -> None:
    with tab.page.expect_navigation():
        tab.page.keyboard.press(key)
    tab.checked()


def labelled(text: str) -> str:
    return f"el.labels && el.labels[0] && el.labels[0].textContent.trim() === {text!r}"


def button(text: str) -> str:
    return f"el.tagName === 'BUTTON' && el.textContent.trim().startsWith({text!r})"


def test_the_same_buyer_journey_by_keyboard_alone(served: Served, members: Any, tabs: Any) -> None:  # noqa: F811
    buyer = members(BUYER)
    tab = tabs(language="en")
    tab.page.goto(tab.base + "/login?lang=en")
    type_into(tab, labelled("Email"), buyer.email)
    type_into(tab, labelled("Password"), PASSWORD)
    tab_to(tab, button("Sign in"))
    press_and_follow(tab, "Enter")
    tab.goto("/?lang=en")
    type_into(tab, "el.type === 'search' || el.name === 'q'", "bänk")
    press_and_follow(tab, "Enter")
    tab_to(tab, "el.tagName === 'A' && el.textContent.trim() === 'Parkbänk Fittja'")
    press_and_follow(tab, "Enter")
    type_into(tab, labelled("Quantity"), "2")
    tab_to(tab, button("Add to cart"))
    press_and_follow(tab, "Space")
    assert tab.path() == "/cart"
    for label, value in zip(("Delivery site name", "Street", "Postal code", "Municipality"), SITE.values(), strict=True):
        type_into(tab, labelled(label), value)
    tab_to(tab, button("Place order"))
    press_and_follow(tab, "Enter")
    placed = re.fullmatch(r"/orders/([0-9a-f-]{36})", tab.path())
    assert placed, tab.page.url
    tab_to(tab, button("Pay"))
    press_and_follow(tab, "Space")
    tab.page.locator("#pay:enabled").wait_for()
    tab.checked()
    for label, value in zip(CARD_FIELDS["en"], ("4242424242424242", "12", "34", "123", "14551"), strict=True):
        tab_to(tab, f"el.getAttribute('aria-label') === {label!r} || ({labelled(label)})")
        tab.page.keyboard.type(value)
    tab_to(tab, button("Pay"))
    tab.page.keyboard.press("Enter")
    tab.page.locator("#message.paid").filter(has_text="Paid").wait_for()
    see_it_paid(tab, placed.group(1), "paid")
    tab.assert_clean()


def card(tab: Tab, heading: str, button: str) -> Any:
    """The one card on the page headed ``heading`` that offers ``button``."""
    found = (tab.page.locator("article").filter(has=tab.page.get_by_role("heading", name=re.compile(re.escape(heading))))
             .filter(has=tab.page.get_by_role("button", name=button, exact=True)))  # fmt: skip
    assert found.count() == 1, f"{found.count()} cards headed {heading!r} with {button!r} on {tab.page.url}"
    return found


def test_a_workshop_takes_makes_schedules_dispatches_and_delivers(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                                  shots: Path) -> None:  # noqa: F811
    design = a_design(served, "Parkbänk Fittja")
    order_id = paid_order(served, tabs, design["id"], 5)
    worker = members(WORKSHOP)
    tab = tabs()
    sign_in(tab, worker, "/workshop")
    work = "Parkbänk Fittja × 5"
    photograph(tab, shots, "workshop-1280")
    tab.click("button", "Ta uppdraget", within=card(tab, work, "Ta uppdraget"))
    tab.click("button", "Börja", within=card(tab, work, "Börja"))
    making = card(tab, work, "Klar")
    making.get_by_label("Arbetade timmar").fill("7,5")
    tab.click("button", "Klar", within=making)
    assert tab.page.locator("article").filter(has_text=work).filter(has_text="7,5 timmar").count() == 1
    earliest, latest = window_under_way()
    delivery = card(tab, work, "Planera")
    delivery.get_by_label("Tidigast").fill(earliest.strftime("%Y-%m-%dT%H:%M"))
    delivery.get_by_label("Senast").fill(latest.strftime("%Y-%m-%dT%H:%M"))
    tab.click("button", "Planera", within=delivery)
    tab.click("button", "Skicka", within=card(tab, work, "Skicka"))
    sent = card(tab, work, "Levererad")
    sent.get_by_label("Mottagen av").fill("Fastighetsskötaren")
    tab.click("button", "Levererad", within=sent)
    timeline = api_of(served, BUYER)("GET", f"/v1/orders/{order_id}")["timeline"]
    assert "delivered" in [entry["kind"] for entry in timeline], timeline
    tab.assert_clean()


def test_an_area_company_installs_a_delivered_piece(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                     shots: Path) -> None:  # noqa: F811
    order_id = paid_order(served, tabs, a_design(served, "Parkbänk Fittja")["id"], 6)
    delivered(served, order_id)
    installer = members(AREA_COMPANY)
    tab = tabs()
    sign_in(tab, installer, "/area")
    piece = "Parkbänk Fittja × 6"
    to_install = card(tab, piece, "Installera")
    assert f"{SITE['name']}, {SITE['street']}" in to_install.inner_text()
    photograph(tab, shots, "area-1280")
    tab.click("button", "Installera", within=to_install)
    assert tab.page.locator("article").filter(has_text=piece).filter(has_text="installerad").count() == 1
    timeline = api_of(served, BUYER)("GET", f"/v1/orders/{order_id}")["timeline"]
    assert "installed" in [entry["kind"] for entry in timeline], timeline
    tab.assert_clean()


def test_an_auditor_verifies_the_log_and_sees_a_stream_as_of_a_time(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                                    shots: Path) -> None:  # noqa: F811
    buyer = api_of(served, BUYER)
    order = buyer("POST", "/v1/orders", 201, json={"delivery_site": SITE, "install": False, "lines": [
        {"design_id": a_design(served, "Parkbänk Fittja")["id"], "quantity": 1}]})  # fmt: skip
    time.sleep(1.1)
    between = datetime.now(STOCKHOLM)
    time.sleep(1.1)
    buyer("POST", f"/v1/orders/{order['id']}/cancel", json={"reason": "fel antal"})
    auditor = members(AUDITOR)
    tab = tabs()
    sign_in(tab, auditor, "/audit")
    photograph(tab, shots, "audit-1280")
    tab.click("link", "Verifiera hela loggen")
    assert "Loggen håller ihop" in tab.page.get_by_role("status").inner_text()
    tab.goto(f"/audit/streams/{order['id']}")
    assert tab.page.locator("ol.timeline li").count() == 2  # placed, then cancelled
    tab.page.get_by_label("Som den stod vid (svensk tid)").fill(between.strftime("%Y-%m-%dT%H:%M:%S"))
    tab.click("button", "Visa")
    assert tab.page.locator("ol.timeline li").count() == 1 and "Order.Placed" in tab.page.locator("ol.timeline").inner_text()
    assert tab.page.get_by_role("heading", level=1).inner_text() == f"En beställning till {SITE['name']}"
    state = tab.page.locator("dl.fields").first.inner_text()
    assert "Leveransplats" in state and SITE["street"] in state and "lagd" in state  # fields and values, in words
    photograph(tab, shots, "audit-stream-1280")
    tab.page.set_viewport_size({"width": 360, "height": 800})
    wide = tab.page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 360, f"the stream page is {wide} px wide at 360 px"
    photograph(tab, shots, "audit-stream-360")
    tab.assert_clean()


def a_picture() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (47, 107, 63)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_designer_drafts_with_a_picture_publishes_and_sees_a_sale(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                                    shots: Path) -> None:  # noqa: F811
    designer = members(DESIGNER)
    tab = tabs()
    sign_in(tab, designer, "/studio")
    tab.click("link", "Ny formgivning")
    title = "Sittbänk Ormbunken"
    for label, value in (("Namn", title), ("Beskrivning", "Bänk i ek för gårdens samlingsplats."),
                         ("Kategori", "bench"), ("Material", "oak, steel"), ("Tillverkas med", "carpentry"),
                         ("Bredd (mm)", "1800"), ("Djup (mm)", "600"), ("Höjd (mm)", "800"), ("Vikt (kg)", "45"),
                         ("Leveranstid (dagar)", "14"), ("Inbyggd CO₂e per styck (kg)", "38,5"),
                         ("Din royalty", "300"), ("Tillverkningsavgift (till verkstaden)", "5 200"),
                         ("Installationsavgift (till områdesföretaget)", "900")):  # fmt: skip
        tab.page.get_by_label(label, exact=True).fill(value)
    tab.click("button", "Skapa utkastet")
    assert re.fullmatch(r"/studio/designs/[0-9a-f-]{36}", tab.path()), tab.page.url
    tab.page.get_by_label("Fil", exact=True).set_input_files(
        {"name": "ormbunken.png", "mimeType": "image/png", "buffer": a_picture()})  # fmt: skip
    tab.click("button", "Ladda upp")
    assert tab.page.get_by_role("img", name=re.compile("ormbunken")).count() == 1
    tab.click("button", "Publicera revision 1")
    design_id = tab.path().rsplit("/", 1)[-1]
    assert "publicerad" in tab.page.get_by_role("heading", level=1).inner_text()

    delivered(served, paid_order(served, tabs, design_id, 2, install=False))  # a buyer's order of it, delivered
    tab.goto("/studio?lang=sv")
    sale = tab.page.get_by_role("row", name=re.compile(f"{title} × 2, {SITE['name']}"))
    assert sale.count() == 1 and "600,00 kr" in sale.inner_text()  # the royalty: 300 kr × 2
    photograph(tab, shots, "studio-1280")
    tab.assert_clean()


def test_an_operator_registers_an_organisation_and_invites_a_person_who_joins(served: Served, members: Any,  # noqa: F811
                                                                              tabs: Any, shots: Path) -> None:  # noqa: F811
    admin = members("operator")
    tab = tabs()
    sign_in(tab, admin, "/admin")
    photograph(tab, shots, "admin-1280")
    for label, value in (("Namn", "Hallunda Bostäder"), ("Organisationsnummer", org_number()), ("Kommun", "Botkyrka")):
        tab.page.get_by_label(label, exact=True).fill(value)
    tab.page.get_by_label("Roll", exact=True).select_option(label="köpare")
    tab.click("button", "Registrera")
    assert "Hallunda Bostäder" in tab.page.get_by_role("status").inner_text()
    tab.click("link", "Hallunda Bostäder")  # the organisation's own page: its people and keys
    email = f"person{next(_serial)}@hallunda.se"
    tab.page.get_by_label("Namn", exact=True).fill("Amina Yusuf")
    tab.page.get_by_label("E-post", exact=True).fill(email)
    tab.page.get_by_role("combobox", name="Språk", exact=True).select_option("en")
    tab.click("button", "Bjud in")
    link = tab.page.get_by_label("Inbjudningslänk").input_value()
    assert link.startswith(served.url + "/invite/")
    tab.assert_clean()

    newcomer = tabs(language="en")
    newcomer.page.goto(link)
    newcomer.checked()
    join(newcomer, link)
    newcomer.checked()
    assert newcomer.page.get_by_role("button", name="Sign out").is_visible()  # signed in, on their pages in English
    assert "Amina Yusuf" in newcomer.page.get_by_role("banner").inner_text()
    newcomer.assert_clean()


HOMES = {BUYER: ("/orders", "buyer-orders"), WORKSHOP: ("/workshop", "workshop"), AREA_COMPANY: ("/area", "area"),
         DESIGNER: ("/studio", "studio"), AUDITOR: ("/audit", "audit"), "operator": ("/admin", "admin")}  # fmt: skip


def test_every_role_s_main_page_fits_360_px(members: Any, tabs: Any, shots: Path) -> None:  # noqa: F811
    too_wide = {}
    for organisation, (home, name) in HOMES.items():
        tab = tabs(width=360)
        sign_in(tab, members(organisation), home)
        photograph(tab, shots, f"{name}-360")
        sticking_out = tab.page.evaluate(WIDEST)
        if sticking_out:
            too_wide[home] = sticking_out
        tab.assert_clean()
    assert not too_wide, too_wide


# What reaches past the right edge of a 360 px window, outside anything that scrolls sideways on its own.
WIDEST = """[...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > 361
      && !el.closest('.scroll, pre')).slice(-3)
    .map((el) => `${el.tagName}.${el.className}: ${el.textContent.trim().slice(0, 30)}`)"""


# The signed-in pages no journey above opens, by whose they are.
OTHER_PAGES = {BUYER: ["/orders/impact", "/orders/maintenance"], AREA_COMPANY: ["/area/impact"],
               DESIGNER: ["/studio/designs/new"], AUDITOR: ["/audit/verify", "/audit/money", "/audit/impact"],
               "operator": ["/admin/money", "/admin/impact", "/admin/projections"]}  # fmt: skip


def test_every_other_page_passes_axe_and_fits_360_px(served: Served, members: Any, tabs: Any,  # noqa: F811
                                                     shots: Path) -> None:  # noqa: F811
    buyer_id = api_of(served, BUYER)("GET", "/v1/me")["id"]
    pieces = api_of(served, AREA_COMPANY)("GET", "/v1/assets")["items"]
    assert pieces, "the demo has installed pieces, each with a public page"
    pages = {**OTHER_PAGES, "operator": [*OTHER_PAGES["operator"], f"/admin/organisations/{buyer_id}"]}
    too_wide = {}
    for organisation, paths in [*pages.items(), (None, [f"/a/{pieces[0]['code']}"])]:
        tab = tabs(width=360)
        if organisation is not None:
            sign_in(tab, members(organisation), HOMES[organisation][0])
        for path in paths:
            answer = tab.goto(path)
            assert answer is not None and answer.status == 200 and tab.path() == urlsplit(path).path, (path, tab.page.url)
            named = re.sub(r"/a/\w+$", "/piece", re.sub(r"/organisations/[0-9a-f-]+$", "/organisation", path))
            photograph(tab, shots, re.sub(r"[^a-z]+", "-", named).strip("-") + "-360")
            sticking_out = tab.page.evaluate(WIDEST)
            if sticking_out:
                too_wide[path] = sticking_out
        tab.assert_clean()
    assert not too_wide, too_wide
