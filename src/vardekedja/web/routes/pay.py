"""The payment page a buyer pays on, in the language the web pages speak.

It is not part of the v1 contract: a buyer's browser opens it from the
checkout's ``payment_url`` (or the order page's pay button), and the client
secret in the URL fragment is what authorises it. The page asks the API's
``POST /pay/{id}/summary`` and ``/card`` (``api/routes/payments.py``) with that
secret; here it gets its words from the catalogues and Stripe.js's address.
Its own script is a static file like every page's, so its Content-Security-Policy
has no inline script either; it adds only what Stripe.js needs: its script, its
frames and its API (the local stand-in's address when running locally), as
https://docs.stripe.com/security/guide#content-security-policy lists them.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vardekedja.api.deps import RuntimeDep
from vardekedja.web.rendering import SECURITY_HEADERS, Page, PageDep

router = APIRouter(include_in_schema=False)

BROWSER_LOCALES = {"sv": "sv-SE", "en": "en-GB"}
CURRENCY_DISPLAY = {"sv": "symbol", "en": "code"}  # "1 234,50 kr", "SEK 1,234.50" (i18n.Formats.money)


@router.get("/pay/{order_id}", response_class=HTMLResponse)
async def payment_page(order_id: UUID, page: PageDep, runtime: RuntimeDep) -> HTMLResponse:
    settings = runtime.settings
    base = settings.stripe_api_base
    stripe_js = (base.rstrip("/") + "/js.stripe.com/v3/") if base else "https://js.stripe.com/v3/"
    local = runtime.stripe is not None and runtime.stripe.local
    words = _words(page) | {
        "order_id": str(order_id), "local": local, "publishable_key": settings.stripe_publishable_key or "",
    }  # fmt: skip
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": payment_policy(stripe_js, base),
               "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}  # fmt: skip
    response = HTMLResponse(page.html("pay.html", stripe_js=stripe_js, words=words), headers=headers)
    page.remember_language(response)
    return response


def payment_policy(stripe_js: str, api_base: str | None) -> str:
    """The web pages' policy, opened only for Stripe.js: its script and frames, and its API."""
    stripe = _origin(stripe_js)
    if api_base:  # the local stand-in serves Stripe.js and the API itself
        scripts, frames, api = stripe, stripe, _origin(api_base)
    else:
        scripts = frames = "https://js.stripe.com https://*.js.stripe.com"
        frames += " https://hooks.stripe.com"
        api = "https://api.stripe.com"
    return (f"default-src 'none'; script-src 'self' {scripts}; style-src 'self'; img-src 'self' data: "
            f"https://*.stripe.com; connect-src 'self' {api}; frame-src {frames}; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _words(page: Page) -> dict[str, object]:
    """What the page's script says, in the page's language."""
    _ = page.gettext
    return {
        "language": page.language, "locale": BROWSER_LOCALES[page.language],
        "currency_display": CURRENCY_DISPLAY[page.language],
        "problems": {
            "404": _("The payment does not exist. The link may be old or mistyped; ask for a new one."),
            "409": _("The order cannot be paid as it stands now."),
            "422": _("The details could not be received. Reload the page and try again."),
            "503": _("The payment service is not answering just now. Try again in a while."),
        },
        "failed": _("Something went wrong (error {status}). Try again."),
        "unreachable": _("Could not reach the server. Check the connection and try again."),
        "declined": _("The card was declined. Try another card."),
        "unreadable": _("The card details could not be read. Check the card number, expiry date and CVC."),
        "not_authenticated": _("The card could not be verified (3-D Secure). Try again or use another card."),
        "no_key": _("The payment link lacks its key."),
        "already_paid": _("The order is already paid."),
        "paid": _("Paid – thank you!"),
        "paying": _("Paying…"),
        "not_confirmed": _("The payment is made but not confirmed yet; reload the page in a while."),
        "fields": {
            "number": [_("Card number"), _("Card number")],
            "exp_month": [_("MM"), _("Expiry month (MM)")],
            "exp_year": [_("YY"), _("Expiry year (YY or YYYY)")],
            "cvc": ["CVC", "CVC"],
            "postal_code": [_("Postcode"), _("Postal code")],
        },
    }  # fmt: skip
