"""Paid membership and the member's privacy: the export carries it, erasure scrubs its free text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from members.access import member_data_export
from members.models import Member
from members.services import member_erase
from memberships.models import MembershipCharge
from memberships.services import membership_refund, membership_start

pytestmark = pytest.mark.django_db


def test_the_export_has_the_memberships_and_erasure_scrubs_a_refund_reason(
    member, plan, system_actor
):
    membership = membership_start(
        member=member, plan_code="plus", payment_reference="pay-1", actor=system_actor
    )
    membership_refund(
        membership=membership,
        actor=system_actor,
        amount=Decimal("3.00"),
        reason="ada@example.com called: Ada was charged twice",
    )

    section = member_data_export(member=member)["memberships"]
    member_erase(member=Member.objects.get(pk=member.pk), actor=system_actor)

    assert [m["plan"] for m in section["memberships"]] == ["plus"]
    assert [(c["kind"], c["amount"]) for c in section["charges"]] == [
        ("payment", "12.00"),
        ("refund", "-3.00"),
    ]
    refund = MembershipCharge.objects.get(kind="refund")
    assert "ada@example.com" not in refund.reason
    assert "Ada" not in refund.reason
    assert (refund.amount, MembershipCharge.objects.get(kind="payment").payment_reference) == (
        Decimal("-3.00"),
        "pay-1",
    )
