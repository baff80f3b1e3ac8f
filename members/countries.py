"""Countries: ISO 3166-1 alpha-2 codes, their names, and the names files use for them.

Invariants:
- A member's country is "" (unknown) or one of `COUNTRY_CODES`: the 249 codes ISO 3166-1
  assigns, upper case. The list is CLDR's territories (babel, pinned in the lock file) less its
  codes that are not assigned ISO codes (exceptionally reserved ones such as `EU` and `UN`, and
  the user-assigned `XK`, `QO`, `ZZ`…), so it changes only with a deliberate upgrade.
- `country_code_for` reads what an order file writes in a country column: a code, an English
  CLDR name, or one of the spellings of the UCI Online Retail data set (`FILE_NAMES`,
  docs/import.md). A name it cannot place ("Unspecified", "European Community", "Channel
  Islands": more than one country) gives "" and is never guessed.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

_NOT_ISO = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"}
)
COUNTRY_CODES: frozenset[str] = frozenset(
    code
    for code in Locale("en").territories
    if len(code) == 2 and code.isalpha() and code not in _NOT_ISO
)

# The Online Retail data set's spellings that are not CLDR's English names (docs/import.md).
FILE_NAMES = {
    "eire": "IE",
    "usa": "US",
    "rsa": "ZA",
    "czech republic": "CZ",
    "hong kong": "HK",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "korea": "KR",
    "south korea": "KR",
    "russia": "RU",
}


@cache
def _english_names() -> dict[str, str]:
    names = {
        name.casefold(): code
        for code, name in Locale("en").territories.items()
        if code in COUNTRY_CODES
    }
    return {**names, **FILE_NAMES}


def country_code_for(text: str) -> str:
    """The code of a country as a file names it (a code or a name), or "" when unknown."""
    value = " ".join((text or "").split())
    if len(value) == 2 and value.upper() in COUNTRY_CODES:
        return value.upper()
    return _english_names().get(value.casefold(), "")


def country_validate(value: str) -> None:
    """The model field's validator: "" or an assigned ISO 3166-1 alpha-2 code (upper case)."""
    if value and value not in COUNTRY_CODES:
        raise ValidationError(
            _("%(value)s is not an ISO 3166-1 alpha-2 country code (such as GB)."),
            code="invalid_country",
            params={"value": value},
        )


@cache
def _names(language: str) -> dict[str, str]:
    locale = "zh_Hans" if language.lower().startswith("zh") else "en"
    return dict(Locale.parse(locale).territories)


def country_name(code: str, language: str | None = None) -> str:
    """The country's name in the language (default: the active one); the code if unknown."""
    return _names(language or get_language() or "en").get(code, code)


def country_choices(language: str | None = None) -> list[tuple[str, str]]:
    """(code, name) of every country, by name, for forms."""
    names = _names(language or get_language() or "en")
    return sorted(((c, f"{names.get(c, c)} ({c})") for c in COUNTRY_CODES), key=lambda x: x[1])
