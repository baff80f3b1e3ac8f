"""Demo data for `manage.py load_demo`: one staff user per role and a handful of members.

`load_demo` runs every installed app's `<app>.demo.load(out=...)` in dependency order (members
first); apps above add their own steps (orders, tiers, rewards, campaigns) in their own `demo`
module. Every step is idempotent: it creates what is missing and leaves the rest as it is.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from members import services
from members.actors import Actor
from members.models import Member
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR
from members.staff import staff_user_ensure

# Local demo only: `load_demo` refuses to run with DEBUG off unless forced.
DEMO_PASSWORD = "loyalty-demo"

STAFF = (
    # (username, role, superuser)
    ("admin", None, True),
    ("marketing", MARKETING, False),
    ("customerservice", CUSTOMER_SERVICE, False),
    ("supervisor", SUPERVISOR, False),
    ("operator", OPERATOR, False),
)

# (external id, first name, last name, birth date, marketing consent, days since enrolment);
# emails and phones are derived from these (the last member gave no birth date nor phone).
MEMBERS = (
    ("DEMO-0001", "Ada", "Lovelace", "1990-12-10", True, 420),
    ("DEMO-0002", "Charles", "Babbage", "1985-12-26", False, 300),
    ("DEMO-0003", "Grace", "Hopper", "1992-12-09", True, 200),
    ("DEMO-0004", "Alan", "Turing", "1988-06-23", True, 120),
    ("DEMO-0005", "Katherine", "Johnson", "1995-08-26", False, 60),
    ("DEMO-0006", "Edsger", "Dijkstra", "1983-05-11", True, 30),
    ("DEMO-0007", "Margaret", "Hamilton", "1991-08-17", True, 7),
    ("DEMO-0008", "Tim", "Berners-Lee", None, False, 1),
)
# Who referred whom (by external id), to show referrals in the admin.
REFERRED_BY = {"DEMO-0004": "DEMO-0001", "DEMO-0007": "DEMO-0003"}
SUSPENDED = {"DEMO-0006": "Demo: suspended while a chargeback is investigated."}


def load(*, out) -> None:
    load_staff(out=out)
    load_members(out=out)


def load_staff(*, out) -> None:
    lines = []
    for username, role, superuser in STAFF:
        _user, created = staff_user_ensure(
            username=username, password=DEMO_PASSWORD, role=role, superuser=superuser
        )
        what = "superuser" if superuser else role
        note = "" if created else "  (existed: password unchanged)"
        lines.append(f"  {username:<16} {DEMO_PASSWORD:<14} {what:<17}{note}")
    out.logins.extend(lines)


def load_members(*, out) -> None:
    actor = Actor.system("load_demo")
    now = timezone.now()
    created = 0
    for n, (external_id, first, last, birth, consent, days_ago) in enumerate(MEMBERS, start=1):
        if Member.objects.filter(external_id=external_id).exists():
            continue
        referrer = REFERRED_BY.get(external_id)
        member = services.member_enrol(
            actor=actor,
            external_id=external_id,
            email=f"{first}.{last}@example.com".lower(),
            first_name=first,
            last_name=last,
            phone=f"+4477009000{n:02d}" if birth else "",
            birth_date=dt.date.fromisoformat(birth) if birth else None,
            marketing_consent=consent,
            referral_code=(
                Member.objects.get(external_id=referrer).referral_code if referrer else None
            ),
            enrolled_at=now - dt.timedelta(days=days_ago),
        )
        if external_id in SUSPENDED:
            services.member_set_status(
                member=member,
                status=Member.Status.SUSPENDED,
                actor=actor,
                reason=SUSPENDED[external_id],
            )
        created += 1
    out.write(f"Demo members: {len(MEMBERS)} ({created} new).")
