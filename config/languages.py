"""Languages: which one a request gets, and money and dates written the way it writes them.

English (`en`, British formats) and Simplified Chinese (`zh-hans`); docs/i18n.md.

- A request's language (`LocaleMiddleware`): the staff user's choice (the language cookie the
  admin header's switcher sets) first; then, in the admin only, `ADMIN_LANGUAGE` when the server
  was started with one (`make run LANGUAGE=zh-hans`); then the browser's or the storefront's
  `Accept-Language`; then `LANGUAGE_CODE`.
- A member's sentences (tier progress, suggestions) are written in the member's language, not the
  reader's: callers wrap them in `translation.override(language)`.
- `money_text` and `date_text` write in the active language: `¥1,234.50` and `2026年12月4日` in
  Chinese, `£1,234.50` and `4 Dec 2026` in English. Amounts are Decimals with two decimals.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.middleware import locale
from django.utils import formats, translation

CENT = Decimal("0.01")
# The symbols written before an amount, the same in both languages (¥ is the yuan's sign in
# Chinese shops; an English reader of a CNY program sees it too).
SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "CNY": "¥", "JPY": "¥"}


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's, plus the server's admin language (`ADMIN_LANGUAGE`) for staff who chose none."""

    def process_request(self, request):
        admin_language = getattr(settings, "ADMIN_LANGUAGE", "")
        if (
            admin_language
            and request.path.startswith("/admin/")
            and not request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        ):
            translation.activate(admin_language)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)


def supported_language(code: str | None) -> str:
    """One of LANGUAGES for a code such as `zh-Hans`, `zh_CN` or `en-GB`; LANGUAGE_CODE else."""
    if code:
        try:
            return translation.get_supported_language_variant(code.replace("_", "-").lower())
        except LookupError:
            pass
    return translation.get_supported_language_variant(settings.LANGUAGE_CODE)


def money_text(amount: Decimal, currency: str) -> str:
    """`¥1,234.50`, `-£5.00`; `1,234.50 CHF` for a currency without a symbol here."""
    amount = Decimal(amount).quantize(CENT)
    number = formats.number_format(abs(amount), 2, use_l10n=True, force_grouping=True)
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def date_text(day: dt.date) -> str:
    """A calendar day in the active language: `4 Dec 2026`, `2026年12月4日`."""
    return formats.date_format(day, "DATE_FORMAT")
