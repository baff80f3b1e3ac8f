"""Money in the storefront API: a JSON *string* with at most two decimals.

`"19.99"`, `"19.9"` and `"19"` are accepted; a JSON number is refused (a float cannot carry money
exactly, and a storefront sending one has a bug worth hearing about), as are negatives, exponents,
spaces, more than two decimals and more than 10 integer digits (the models' `max_digits=12,
decimal_places=2`). The value is a `Decimal` quantized to cents; output is always two decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

CENT = Decimal("0.01")
MONEY_PATTERN = r"\d{1,10}(\.\d{1,2})?"
_MONEY_RE = re.compile(MONEY_PATTERN)


@extend_schema_field({"type": "string", "pattern": f"^{MONEY_PATTERN}$", "example": "19.99"})
class MoneyField(serializers.Field):
    """A non-negative amount of money as a JSON string with at most two decimals."""

    default_error_messages = {
        "not_string": 'Money must be a JSON string with two decimals, e.g. "19.99", not a number.',
        "invalid": 'Enter an amount like "19.99": digits, at most two decimals, not negative.',
    }

    def to_internal_value(self, data) -> Decimal:
        if not isinstance(data, str):
            self.fail("not_string")
        if not _MONEY_RE.fullmatch(data):
            self.fail("invalid")
        return Decimal(data).quantize(CENT)

    def to_representation(self, value) -> str:
        return str(Decimal(value).quantize(CENT))
