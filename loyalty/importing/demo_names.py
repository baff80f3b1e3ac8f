"""Made-up names for the demo's imported customers (`load_demo`), so customer service can look
people with a real order history up by name.

The Online Retail sample has customer ids and orders but no names or emails. Each imported
customer still without a name and an email gets a first name, a surname and an email picked
from the lists below by a hash of their external id: the same customer gets the same name on
every machine and every run, and their orders stay exactly as imported. Every change goes
through `member_update` (audited, reason "demo data"). Local demo only: `load_demo` refuses to
run with DEBUG off. The names are common British ones (the sample is a UK shop); the emails use
example.com, which never delivers.
"""

from __future__ import annotations

import hashlib

from django.db.models import Count

from members.actors import Actor
from members.models import Member
from members.services import member_update

FIRST_NAMES = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Charlie", "Ivy",
    "Thomas", "Lily", "James", "Grace", "William", "Sophie", "Henry", "Freya", "Alfie", "Emily",
    "Joshua", "Ella", "Samuel", "Poppy", "Daniel", "Evie", "Joseph", "Ruby", "Edward", "Alice",
    "Arthur", "Florence", "Leo", "Rosie", "Oscar", "Millie", "Archie", "Daisy", "Theo", "Hannah",
)  # fmt: skip
SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood",
    "Jackson", "Clarke", "Patel", "Khan", "Lewis", "Harris", "Martin", "Cooper", "King", "Baker",
    "Hughes", "Edwards", "Turner", "Hill", "Moore", "Clark", "Harrison", "Scott", "Young",
    "Morris", "Ward", "Whitfield",
)  # fmt: skip


def demo_name(external_id: str) -> tuple[str, str, str]:
    """(first name, surname, email) for a customer id, always the same for the same id."""
    digest = hashlib.sha256(f"demo-name:{external_id}".encode()).digest()
    first = FIRST_NAMES[int.from_bytes(digest[:4], "big") % len(FIRST_NAMES)]
    last = SURNAMES[int.from_bytes(digest[4:8], "big") % len(SURNAMES)]
    email = f"{first}.{last}.{external_id}@example.com".lower()
    return first, last, email


def demo_customers_name(*, actor: Actor | None = None) -> int:
    """Name every imported customer who has orders but no name and no email; returns how many."""
    actor = actor or Actor.system("load_demo")
    unnamed = (
        Member.objects.filter(email__isnull=True, first_name="", last_name="")
        .exclude(status=Member.Status.ERASED)
        .filter(orders__isnull=False)
        .distinct()
        .order_by("pk")
    )
    named = 0
    for member in unnamed.iterator(chunk_size=500):
        first, last, email = demo_name(member.external_id)
        member_update(
            member=member,
            actor=actor,
            reason="demo data: a made-up name for an imported customer",
            first_name=first,
            last_name=last,
            email=email,
        )
        named += 1
    return named


def demo_busiest_surname() -> str | None:
    """The surname of the named customer with the most orders (what to try in the search box)."""
    top = (
        Member.objects.exclude(last_name="")
        .annotate(n=Count("orders"))
        .order_by("-n", "pk")
        .values_list("last_name", flat=True)
        .first()
    )
    return top
