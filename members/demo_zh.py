"""Demo data for `load_demo --locale zh` (`DEMO_LOCALE=zh make run`): the Chinese demo's members.

The same staff logins as the English demo (`members.demo.load_staff`), and 40 members with
deterministic Chinese names, `+86` mobile numbers and `locale` zh-hans, so the member pages and
their sentences read Chinese. Idempotent like every demo step.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from members import services
from members.actors import Actor
from members.demo import load_staff
from members.models import Member

MEMBER_COUNT = 40
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = (
    *("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"),
    *("明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "晓东", "雪梅", "子涵", "浩然"),
    *("欣怡", "宇轩", "梓萱"),
)


def demo_members_zh() -> list[dict]:
    """The Chinese demo's members: external id, name, contact details, days since enrolment."""
    members = []
    for n in range(1, MEMBER_COUNT + 1):
        surname = SURNAMES[(n * 7) % len(SURNAMES)]
        given = GIVEN_NAMES[(n * 11) % len(GIVEN_NAMES)]
        members.append(
            {
                "external_id": f"JD-{n:04d}",
                # One field for the whole name, surname first, as Chinese names are written.
                "last_name": surname + given,
                "email": f"member{n:04d}@example.cn",
                "phone": f"+86 138 0013 {8000 + n:04d}",
                "birth_date": dt.date(1970 + n % 35, 1 + n % 12, 1 + (n * 3) % 28),
                "marketing_consent": n % 3 != 0,
                "days_ago": 30 + (n * 53) % 700,
            }
        )
    return members


def load(*, out) -> None:
    load_staff(out=out)
    actor = Actor.system("load_demo")
    now = timezone.now()
    created = 0
    for spec in demo_members_zh():
        if Member.objects.filter(external_id=spec["external_id"]).exists():
            continue
        services.member_enrol(
            actor=actor,
            external_id=spec["external_id"],
            email=spec["email"],
            last_name=spec["last_name"],
            phone=spec["phone"],
            birth_date=spec["birth_date"],
            marketing_consent=spec["marketing_consent"],
            enrolled_at=now - dt.timedelta(days=spec["days_ago"]),
            locale="zh-hans",
        )
        created += 1
    out.write(f"Demo members (zh): {MEMBER_COUNT} ({created} new).")
