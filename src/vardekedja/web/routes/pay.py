"""The payment page a buyer pays on, in the language the web pages speak.

It is not part of the v1 contract: a buyer's browser opens it from the
checkout's ``payment_url`` (or the order page's pay button), and the client
secret in the URL fragment is what authorises it. The page asks the API's
``POST /pay/{id}/summary`` and ``/card`` (``api/routes/payments.py``) with that
secret; here it gets its words from the catalogues and Stripe.js's address.
It loads Stripe.js from Stripe and runs its own script, so it carries its own
headers rather than the web pages' Content-Security-Policy.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from vardekedja.api.deps import RuntimeDep
from vardekedja.web.rendering import Page, PageDep

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
    response = HTMLResponse(page.html("pay.html", stripe_js=stripe_js, words=words),
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})  # fmt: skip
    page.remember_language(response)
    return response


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
