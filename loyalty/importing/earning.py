"""What an imported order earns, computed with the ledger's own rule functions.

`earn_breakdown`, `earn_dates` and `refund_reversal_points` (loyalty.services.orders) are the only
definition of the earning rules; this module applies them to an order and its refunds as the live
path would have, event by event at the event's own time:

- base points and tier bonus on the eligible amount in the program currency, at the multiplier of
  the tier the member holds (the entry tier for members the import creates);
- available and expiry dates from the order's own date; whether they have passed by `now`;
- each refund reverses floor(order points × refunded so far / eligible) − reversed so far, taken
  from the order's own points (its earn lot, then its tier-bonus lot): at the time of a refund
  they were still pending, which is where `refund_record` takes a reversal from first.

The numbers are staged with the order; the writer only copies them (set-based SQL).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from loyalty.models.program import ProgramSettings
from loyalty.services.orders import earn_breakdown, earn_dates, refund_reversal_points

CENT = Decimal("0.01")
# Entries a memo keeps before it starts again: bounded, so that memory does not grow with the
# file's size (a memo that is full is cleared, the next rows fill it again).
CACHE_ENTRIES = 8_192
PLAIN_ENTRIES = 100_000  # `Earning.points_plain`: about 15 MB when full
# The memos of whole results (Decimals, datetimes: about 600 bytes an entry): since the orders
# format's fast path uses `points_plain` and stages dates from their text, they serve refunded
# orders and line files, and are kept small so that a big file does not fill them further.
WHOLE_ENTRIES = 4_096


@dataclass(frozen=True, slots=True)
class OrderNumbers:
    rate: Decimal
    eligible_amount_cents: int
    base: int
    bonus: int
    available_at: dt.datetime
    expires_at: dt.datetime | None
    matured: bool
    expired: bool
    refunded_cents: int
    refunded_amount_cents: int
    rev_earn: int  # points reversed from the earn lot, all refunds together
    rev_tier: int  # ... from the tier-bonus lot
    # Per refund, in order: (points reversed, from the earn lot, from the tier-bonus lot).
    refunds: tuple[tuple[int, int, int], ...]

    @property
    def points(self) -> int:
        return self.base + self.bonus

    @property
    def left(self) -> int:
        """What is left on the order's lots after refunds (before expiry)."""
        return self.base + self.bonus - self.rev_earn - self.rev_tier


class Earning:
    """The rules, the program settings and `now`, fixed for one import run."""

    def __init__(
        self,
        *,
        settings: ProgramSettings,
        rates: dict[str, Decimal],
        now: dt.datetime,
        tier: tuple[str, Decimal],
    ) -> None:
        self.settings = settings
        self.rates = rates
        self.now = now
        self.tier_code, self.multiplier = tier
        self.multiplier_text = str(self.multiplier)
        self._dates: dict[dt.datetime, tuple] = {}
        # Orders repeat amounts: the rule functions' results are kept per distinct input.
        self._points: dict[tuple, tuple] = {}
        self._plain: dict[tuple, tuple] = {}

    def points(self, eligible_cents: int, currency: str, multiplier: Decimal | None = None):
        """(rate, eligible as Decimal, eligible in the program currency as Decimal and in cents,
        base points, tier bonus, rate as text): `earn_breakdown` on the order's eligible
        amount, memoised."""
        multiplier = self.multiplier if multiplier is None else multiplier
        key = (eligible_cents, currency, multiplier)
        found = self._points.get(key)
        if found is None:
            found = self._points_compute(eligible_cents, currency, multiplier)
            if len(self._points) > WHOLE_ENTRIES:
                self._points.clear()
            self._points[key] = found
        return found

    def points_plain(self, eligible_cents: int, currency: str) -> tuple[int, int, int, str]:
        """`points(...)[3:]` at the run's multiplier: (eligible in the program currency in
        cents, base points, tier bonus, rate as text). Small entries, so the memo keeps more of
        them (`PLAIN_ENTRIES`): order amounts repeat less often than cells do."""
        key = (eligible_cents, currency)
        found = self._plain.get(key)
        if found is None:
            found = self._points_compute(eligible_cents, currency, self.multiplier)[3:]
            if len(self._plain) > PLAIN_ENTRIES:
                self._plain.clear()
            self._plain[key] = found
        return found

    def _points_compute(self, eligible_cents: int, currency: str, multiplier: Decimal) -> tuple:
        rate = self.rates[currency]
        eligible = Decimal(eligible_cents).scaleb(-2)
        if rate == 1:
            eligible_amount = eligible
        else:
            eligible_amount = (eligible * rate).quantize(CENT, rounding=ROUND_FLOOR)
        base, bonus = earn_breakdown(
            eligible_amount=eligible_amount,
            earn_rate=self.settings.earn_rate,
            multiplier=multiplier,
        )
        return (
            rate,
            eligible,
            eligible_amount,
            int(eligible_amount.scaleb(2)),
            base,
            bonus,
            str(rate),
        )

    def dates(self, placed_at: dt.datetime) -> tuple:
        found = self._dates.get(placed_at)
        if found is None:
            available_at, expires_at = earn_dates(placed_at=placed_at, settings=self.settings)
            matured = available_at <= self.now
            expired = matured and expires_at is not None and expires_at <= self.now
            found = (available_at, expires_at, matured, expired)
            if len(self._dates) > WHOLE_ENTRIES:
                self._dates.clear()
            self._dates[placed_at] = found
        return found

    def order(
        self,
        *,
        placed_at: dt.datetime,
        currency: str,
        eligible_cents: int,
        refunds: list[int] = (),
        multiplier: Decimal | None = None,
    ) -> OrderNumbers:
        """The order's numbers; `refunds` are the amounts (cents) of its refunds, in order."""
        rate, eligible, eligible_amount, eligible_amount_cents, base, bonus, _ = self.points(
            eligible_cents, currency, multiplier
        )
        available_at, expires_at, matured, expired = self.dates(placed_at)
        points = base + bonus
        refunded = reversed_total = 0
        per_refund = []
        for amount in refunds:
            refunded += amount
            to_reverse = refund_reversal_points(
                order_points=points,
                refunded_so_far=Decimal(refunded).scaleb(-2),
                eligible=eligible,
                reversed_so_far=reversed_total,
            )
            from_earn = max(min(base - reversed_total, to_reverse), 0)
            per_refund.append((to_reverse, from_earn, to_reverse - from_earn))
            reversed_total += to_reverse
        rev_earn = min(reversed_total, base)
        refunded_amount = Decimal(refunded).scaleb(-2)
        if rate != 1:
            refunded_amount = min(
                (refunded_amount * rate).quantize(CENT, rounding=ROUND_FLOOR), eligible_amount
            )
        return OrderNumbers(
            rate=rate,
            eligible_amount_cents=eligible_amount_cents,
            base=base,
            bonus=bonus,
            available_at=available_at,
            expires_at=expires_at,
            matured=matured,
            expired=expired,
            refunded_cents=refunded,
            refunded_amount_cents=int(refunded_amount.scaleb(2)),
            rev_earn=rev_earn,
            rev_tier=reversed_total - rev_earn,
            refunds=tuple(per_refund),
        )
