"""Demo data of the loyalty app that the demo loader calls (`manage.py load_demo`).

`demo_tiers_ensure()` creates a sensible default ladder with perks, through the services, and is
idempotent: perks and tiers whose code already exists are left exactly as they are (staff may
have tuned them), missing ones are created.

The ladder: each tier asks for about twice the spend of the one below, so levels are far enough
apart to be worth reaching (the most common complaint about tier programs is levels too close
together), and every tier adds a perk a member can feel.
"""

from __future__ import annotations

from decimal import Decimal

from loyalty.models import Perk, Tier
from loyalty.services.tier_config import perk_save, tier_save
from members.actors import Actor

DEMO_PERKS = [
    {
        "code": "birthday_gift",
        "name": "Birthday gift",
        "kind": "birthday_gift",
        "value": None,
        "description": "A gift in your birthday month.",
    },
    {
        "code": "free_shipping",
        "name": "Free shipping",
        "kind": "free_shipping",
        "value": None,
        "description": "Free standard shipping on every order.",
    },
    {
        "code": "early_access",
        "name": "Early access to sales",
        "kind": "early_access",
        "value": None,
        "description": "Shop sales and launches 24 hours before everyone else.",
    },
    {
        "code": "members_discount_10",
        "name": "10% members' discount",
        "kind": "discount_percent",
        "value": Decimal("10.00"),
        "description": "10% off full-price items.",
    },
    {
        "code": "priority_support",
        "name": "Priority support",
        "kind": "priority_support",
        "value": None,
        "description": "A dedicated line, answered first.",
    },
]

DEMO_TIERS = [
    {
        "code": "member",
        "name": "Member",
        "rank": 0,
        "threshold": Decimal("0.00"),
        "multiplier": Decimal("1.00"),
        "perks": ["birthday_gift"],
        "description": "Everyone starts here.",
    },
    {
        "code": "silver",
        "name": "Silver",
        "rank": 1,
        "threshold": Decimal("250.00"),
        "multiplier": Decimal("1.25"),
        "perks": ["birthday_gift", "free_shipping"],
        "description": "Spend £250 in a year.",
    },
    {
        "code": "gold",
        "name": "Gold",
        "rank": 2,
        "threshold": Decimal("500.00"),
        "multiplier": Decimal("1.50"),
        "perks": ["birthday_gift", "free_shipping", "early_access"],
        "description": "Spend £500 in a year.",
    },
    {
        "code": "platinum",
        "name": "Platinum",
        "rank": 3,
        "threshold": Decimal("1000.00"),
        "multiplier": Decimal("2.00"),
        "perks": [
            "birthday_gift",
            "free_shipping",
            "early_access",
            "members_discount_10",
            "priority_support",
        ],
        "description": "Spend £1,000 in a year.",
    },
]


def demo_tiers_ensure(*, actor: Actor | None = None) -> list[Tier]:
    """Create the demo perks and ladder where missing; return the ladder, entry tier first."""
    actor = actor or Actor.system("demo")
    existing_perks = {p.code: p for p in Perk.objects.all()}
    for spec in DEMO_PERKS:
        if spec["code"] not in existing_perks:
            existing_perks[spec["code"]] = perk_save(actor=actor, **spec)
    existing_tiers = set(Tier.objects.values_list("code", flat=True))
    taken_ranks = set(Tier.objects.values_list("rank", flat=True))
    for spec in DEMO_TIERS:
        if spec["code"] in existing_tiers or spec["rank"] in taken_ranks:
            continue  # a ladder of the staff's own is never overwritten
        fields = {k: v for k, v in spec.items() if k != "perks"}
        tier_save(actor=actor, perks=[existing_perks[c] for c in spec["perks"]], **fields)
    return list(Tier.objects.order_by("rank"))


def load(*, out) -> None:
    """The `load_demo` step of the loyalty app (see `members/management/commands/load_demo.py`)."""
    ladder = demo_tiers_ensure()
    out.write(
        "Tiers: " + ", ".join(f"{t.name} ({t.threshold}, ×{t.multiplier})" for t in ladder) + "."
    )
    # Real order history (UCI Online Retail sample) through the importer: members, points, tiers.
    from loyalty.importing.demo import demo_import_ensure
    from loyalty.importing.demo_names import demo_busiest_surname, demo_customers_name

    demo_import_ensure(out=out)
    named = demo_customers_name()
    surname = demo_busiest_surname()
    out.write(
        f"Imported customers given made-up names and emails: {named:,} new"
        + (f" (search the members for “{surname}”)." if surname else ".")
    )
