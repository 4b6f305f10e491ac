"""SIE 4 export: the platform's money movements as verifications for Swedish bookkeeping software.

SIE 4 (SIE-gruppen, "SIE filformat", type 4: verifications) is a text
file of ``#LABEL field field ...`` lines in IBM PC 8-bit ASCII, codepage 437
(``#FORMAT PC8``). Fields are separated by spaces; a field with spaces or
quotes is quoted, with ``\\"`` for a quote inside. Amounts have a decimal
point and two decimals, debit positive and credit negative; each ``#VER``
holds ``#TRANS`` lines between ``{`` and ``}`` that sum to zero.

Each ledger entry (projections/ledger.py) becomes one verification. Its five
parts map to BAS accounts; the mapping is a setting
(``VARDEKEDJA_SIE_ACCOUNTS``, JSON, any part may be given alone) and is
documented in the README. No library on PyPI writes SIE 4 (the one parser
found, pysie-accounting 0.0.2, reads it through pandas), so this is written
here; the tests parse what it writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

SWEDEN = ZoneInfo("Europe/Stockholm")
PARTS = ("bank", "vat", "fee", "parties", "refund_due")

DEFAULT_ACCOUNTS: dict[str, int] = {
    "bank": 1580,  # the Stripe balance: a claim on the payment processor
    "vat": 2611,  # output VAT on sales in Sweden, 25 %
    "fee": 3041,  # the platform fee: sales of services, 25 % VAT
    "parties": 2890,  # money held for designers, workshops and area companies until transferred
    "refund_due": 2420,  # money received that is owed back to the buyer
}
ACCOUNT_NAMES: dict[int, str] = {
    1580: "Fordringar för kontokort och kuponger",
    1930: "Företagskonto/checkkonto/affärskonto",
    2420: "Förskott från kunder",
    2440: "Leverantörsskulder",
    2611: "Utgående moms på försäljning inom Sverige, 25 %",
    2890: "Övriga kortfristiga skulder",
    3041: "Försäljning tjänster inom Sverige, 25 % moms",
}
PART_NAMES = {"bank": "Stripe-saldo", "vat": "Utgående moms", "fee": "Plattformsavgift",
              "parties": "Skuld till parter", "refund_due": "Att återbetala till köpare"}  # fmt: skip
KIND_TEXT = {
    "payment": "Betalning", "payment to return": "Betalning att återbetala",
    "payment not matching the order": "Betalning som inte stämmer med ordern", "order cancelled": "Order avbokad",
    "refund": "Återbetalning", "transfer": "Utbetalning till part", "transfer reversed": "Utbetalning återförd",
    "claim": "Reklamation, återbetalning",
}  # fmt: skip


def quote(text: str) -> str:
    """A field as SIE quotes it: in double quotes, a quote inside escaped; control characters dropped."""
    clean = "".join(ch for ch in text if ch >= " ").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{clean}"'


def kronor(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def local_day(moment: datetime) -> date:
    """The Swedish calendar day of a moment: verifications are dated as the books keep days."""
    return moment.astimezone(SWEDEN).date()


def accounts_for(entries: Iterable[Mapping[str, Any]], accounts: Mapping[str, int]) -> list[int]:
    used = {accounts[part] for entry in entries for part in PARTS if entry[part]}
    return sorted(used)


def write_sie(entries: list[Mapping[str, Any]], *, accounts: Mapping[str, int], company: str,
              org_number: str | None, generated: date, year: tuple[date, date], version: str) -> bytes:  # fmt: skip
    """The entries as an SIE 4 file (bytes in codepage 437), one ``#VER`` each, in series A from 1."""
    lines = [
        "#FLAGGA 0", "#FORMAT PC8", "#SIETYP 4", f"#PROGRAM {quote('Värdekedja')} {quote(version)}",
        f"#GEN {generated:%Y%m%d}", f"#FNAMN {quote(company)}",
    ]  # fmt: skip
    if org_number:
        lines.append(f"#ORGNR {org_number}")
    lines += [f"#RAR 0 {year[0]:%Y%m%d} {year[1]:%Y%m%d}", "#KPTYP BAS2014", "#VALUTA SEK"]
    names = {number: ACCOUNT_NAMES.get(number) for number in accounts.values()}
    for part, number in accounts.items():
        names[number] = names[number] or PART_NAMES[part]
    for number in accounts_for(entries, accounts):
        lines.append(f"#KONTO {number} {quote(names[number] or str(number))}")
    for number, entry in enumerate(entries, start=1):
        day = local_day(entry["at"])
        text = f"{KIND_TEXT.get(entry['kind'], entry['kind'])}, order {str(entry['order_id'])[:8]}"
        if entry["reference"]:
            text += f", {entry['reference']}"
        lines += [f"#VER A {number} {day:%Y%m%d} {quote(text)} {day:%Y%m%d}", "{"]
        amounts: dict[int, int] = {}
        for part in PARTS:
            signed = entry[part] if part == "bank" else -entry[part]  # the Stripe balance is a debit, the rest credits
            amounts[accounts[part]] = amounts.get(accounts[part], 0) + signed
        if sum(amounts.values()) != 0:
            raise ValueError(f"entry at position {entry['position']} does not balance")
        for account, amount in amounts.items():
            if amount:
                lines.append(f"   #TRANS {account} {{}} {kronor(amount)}")
        lines.append("}")
    return ("\r\n".join(lines) + "\r\n").encode("cp437", errors="replace")
