"""Cell parsers of the historical import: text in, a clean value or a `CellError` out.

Every parser is strict and says why in a sentence an operator can act on: money has at most two
decimals and no thousands separators (a decimal comma only in semicolon files, the European
spreadsheet convention), dates are ISO 8601 unless the profile names a format, a naive time is in
the program's time zone, and a customer id written as a float by a spreadsheet (`17850.0`) is the
integer it stands for. Money is returned as integer cents so that staging and sums are exact on
every database.

Two exceptions to "at most two decimals", both exact (docs/import.md):
- A line file's unit price may carry up to `Profile.unit_price_decimals` decimals (4 at most):
  `unit_price_units` returns it in `UNIT_SCALE` units (1/10,000); `line_total_cents` rounds an
  order's Σ quantity × unit price to the currency's minor unit, once, half away from zero.
- Binary-float noise from spreadsheets (`9.949999999999999`) is read as the amount it stands for
  when, and only when, it has at least `FLOAT_NOISE_DIGITS` significant digits and is the same
  binary float as that amount (`float_noise`); the caller counts it. A value that is not noise
  is never rounded.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings

# The ISO 4217 codes in use (2024). A code outside this list is an "unknown currency"; a known
# one the program does not accept is a `currency_mismatch` (the ledger's own code).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()  # noqa: SIM905 (a list literal would be 180 lines)
)

MAX_CENTS = 10**12 - 1  # DecimalField(max_digits=12, decimal_places=2)
UNIT_DECIMALS = 4  # the most decimals a unit price may have; staged at this scale
UNIT_SCALE = 10**UNIT_DECIMALS  # unit-price units per currency unit
FLOAT_NOISE_DIGITS = 15  # a float printed with its full precision has 15-17 significant digits
# ISO 4217 currencies whose minor unit is the whole unit (no decimals): totals round to it.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()  # noqa: SIM905
)
_MONEY = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")
_MONEY_COMMA = re.compile(r"^(-?)(\d+)(?:,(\d+))?$")
_INT = re.compile(r"^-?\d+$")
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CellError(ValueError):
    """A cell that cannot be read; `code` is stable, the message says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NoiseCount:
    """What `money_cents` and `unit_price_units` count: amounts read as binary-float noise."""

    float_amounts: int = 0


def float_noise(whole: str, frac: str, decimals: int) -> str | None:
    """The fraction (at most `decimals` digits) a spreadsheet's binary float `whole.frac` stands
    for, or None when it is not float noise: fewer than `FLOAT_NOISE_DIGITS` significant digits,
    or not the same binary float as the rounded value (then it is a real value; never rounded)."""
    significant = (whole + frac).lstrip("0")
    if len(significant) < FLOAT_NOISE_DIGITS:
        return None
    exact = Decimal(f"{whole}.{frac}")
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if float(exact) != float(rounded):
        return None
    return f"{rounded:f}".partition(".")[2]


def money_cents(
    text: str,
    *,
    decimal_comma: bool = False,
    negative: bool = False,
    noise: NoiseCount | None = None,
) -> int:
    """'12.30' -> 1230. At most two decimals; negative only where `negative` allows it.

    Float noise (`float_noise`) is read as its two-decimal amount and counted in `noise`; without
    `noise` it is refused like any third decimal."""
    whole, point, frac = text.partition(".")
    if point and len(frac) == 2 and whole.isdigit() and frac.isdigit() and text.isascii():
        # The usual form (ASCII digits, a point, two decimals): what the rest gives, sooner.
        cents = int(whole) * 100 + int(frac)
        if cents <= MAX_CENTS:
            return cents
    text = text.strip()
    if not text:
        raise CellError("required", "is empty; an amount is required")
    match = (_MONEY_COMMA if decimal_comma and "." not in text else _MONEY).match(text)
    if match is None:
        raise CellError(
            "not_a_number",
            "is not an amount (digits with an optional decimal point, e.g. 12.50; no currency "
            "signs or thousands separators)",
        )
    sign, whole, frac = match.groups()
    frac = frac or ""
    if len(frac) > 2:
        read = float_noise(whole, frac, 2) if noise is not None else None
        if read is None:
            raise CellError(
                "too_many_decimals",
                f"has {len(frac)} decimals; amounts have at most 2 (e.g. 12.50)",
            )
        noise.float_amounts += 1
        frac = read
    cents = int(whole) * 100 + int(frac.ljust(2, "0") or 0)
    if sign and cents:
        if not negative:
            raise CellError("negative_amount", "is negative; amounts here cannot be negative")
        cents = -cents
    if abs(cents) > MAX_CENTS:
        raise CellError("amount_too_large", "is too large (at most 9,999,999,999.99)")
    return cents


def unit_price_units(
    text: str,
    *,
    decimals: int = UNIT_DECIMALS,
    decimal_comma: bool = False,
    noise: NoiseCount | None = None,
) -> int:
    """A line's unit price in `UNIT_SCALE` units: '0.001' -> 10, '2.55' -> 25500. At most
    `decimals` decimals (≤ `UNIT_DECIMALS`); float noise read as its `decimals`-decimal value."""
    stripped = text.strip()
    match = (_MONEY_COMMA if decimal_comma and "." not in stripped else _MONEY).match(stripped)
    if match is None or len(match.group(3) or "") <= 2:
        return money_cents(text, decimal_comma=decimal_comma, noise=noise) * (UNIT_SCALE // 100)
    sign, whole, frac = match.groups()
    if len(frac) > decimals:
        read = float_noise(whole, frac, decimals) if noise is not None else None
        if read is None:
            raise CellError(
                "too_many_decimals",
                f"has {len(frac)} decimals; unit prices have at most {decimals} (e.g. 0.0125)",
            )
        noise.float_amounts += 1
        frac = read
    if sign:
        raise CellError("negative_amount", "is negative; amounts here cannot be negative")
    units = int(whole) * UNIT_SCALE + int(frac.ljust(UNIT_DECIMALS, "0"))
    if units > MAX_CENTS * (UNIT_SCALE // 100):
        raise CellError("amount_too_large", "is too large (at most 9,999,999,999.99)")
    return units


def line_total_cents(units: int, currency: str) -> int:
    """Σ quantity × unit price (in `UNIT_SCALE` units) as cents: rounded once, on the order's
    sum, to the currency's minor unit (0.01, or 1 for `ZERO_DECIMAL_CURRENCIES`), half away
    from zero (a line sum exactly halfway, 0.005, is 0.01; -0.005 is -0.01)."""
    step = UNIT_SCALE if currency in ZERO_DECIMAL_CURRENCIES else UNIT_SCALE // 100
    steps = (abs(units) + step // 2) // step
    cents = steps * step // (UNIT_SCALE // 100)
    return -cents if units < 0 else cents


def units_text(units: int) -> str:
    """A unit price as text: two decimals, more only when it has them ('0.0010' -> '0.001')."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), UNIT_SCALE)
    digits = f"{frac:0{UNIT_DECIMALS}d}".rstrip("0").ljust(2, "0")
    return f"{sign}{whole}.{digits}"


def cents_decimal(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def quantity(text: str) -> int:
    text = text.strip()
    if not text:
        raise CellError("required", "is empty; a quantity is required")
    if not _INT.match(text):
        if _FLOAT_ID.match(text.lstrip("-")):
            return int(float(text))
        raise CellError("not_an_integer", "is not a whole number")
    value = int(text)
    if abs(value) > 10**9:
        raise CellError("quantity_too_large", "is too large")
    return value


def customer_id(text: str) -> str:
    """The customer's id as the storefront knows it; `17850.0` (a spreadsheet float) is `17850`."""
    text = text.strip()
    match = _FLOAT_ID.match(text)
    if match:
        text = match.group(1)
    if len(text) > 64:
        raise CellError("too_long", f"is {len(text)} characters long; at most 64")
    return text


def email(text: str) -> str:
    text = text.strip().lower()
    if not text:
        return ""
    if len(text) > 254 or not _EMAIL.match(text):
        raise CellError("invalid_email", "is not a valid email address")
    return text


def currency(text: str) -> str:
    code = text.strip().upper()
    if not code:
        raise CellError("required", "is empty; a currency code (e.g. GBP) is required")
    if code not in ISO_4217:
        raise CellError("unknown_currency", "is not an ISO 4217 currency code (e.g. GBP, EUR)")
    return code


class DateParser:
    """Parse order dates: ISO 8601 by default, else the profile's `strptime` formats in turn.

    A time without an offset is in the program's time zone (`TIME_ZONE`). Values are returned in
    UTC. A date in the future is refused: history has already happened. Parsed values are cached,
    because line files repeat the same timestamp on every line of an order.
    """

    def __init__(self, formats: list[str] | None = None, *, now: dt.datetime) -> None:
        self.formats = [f for f in (formats or []) if f]
        self.zone = ZoneInfo(django_settings.TIME_ZONE)
        self.now = now
        self._cache: dict[str, dt.datetime] = {}

    def describe(self) -> str:
        if self.formats:
            return " or ".join(f"'{f}'" for f in self.formats)
        return "ISO 8601, e.g. 2024-05-01 or 2024-05-01 14:30:00 or 2024-05-01T14:30:00+01:00"

    def __call__(self, text: str) -> dt.datetime:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        value = self._parse(text)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[text] = value
        return value

    def _parse(self, text: str) -> dt.datetime:
        raw = text.strip()
        if not raw:
            raise CellError("required", "is empty; a date is required")
        value = None
        for fmt in self.formats:
            if fmt.lower() == "iso":
                value = _iso(raw)
            else:
                try:
                    value = dt.datetime.strptime(raw, fmt)  # noqa: DTZ007 (zone added below)
                except ValueError:
                    value = None
            if value is not None:
                break
        if not self.formats:
            value = _iso(raw)
        if value is None:
            raise CellError(
                "invalid_date", f"is not a date in the expected form ({self.describe()})"
            )
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        value = value.astimezone(dt.UTC)
        if value.year < 1970:
            raise CellError("date_too_old", "is before 1970")
        if value > self.now:
            raise CellError("future_date", "is in the future; history cannot be")
        return value


def _iso(raw: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(raw)
    except ValueError:
        return None


def text(value: str, *, max_length: int) -> str:
    value = value.strip()
    if len(value) > max_length:
        raise CellError("too_long", f"is {len(value):,} characters long; at most {max_length:,}")
    return value
