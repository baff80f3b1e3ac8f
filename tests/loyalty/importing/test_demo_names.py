"""Demo data for customer service: imported customers get made-up names and emails, always the
same for the same customer id, through the member service; their orders stay as imported, and
a surname search finds them."""

from __future__ import annotations

from loyalty.importing.demo_names import demo_busiest_surname, demo_customers_name, demo_name
from loyalty.models import Order
from members.models import AuditEntry, Member
from members.selectors import member_search
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

FILE = (
    f"{ORDERS_HEADER}\n"
    f"O-1,17850,,{days_ago(30)},120.00,GBP\n"
    f"O-2,17850,,{days_ago(20)},80.00,GBP\n"
    f"O-3,13047,,{days_ago(10)},15.00,GBP\n"
)


def test_the_made_up_name_depends_only_on_the_customer_id():
    assert demo_name("17850") == demo_name("17850")
    assert demo_name("17850") != demo_name("13047")
    first, last, email = demo_name("17850")
    assert email == f"{first}.{last}.17850@example.com".lower()


def test_imported_customers_are_named_once_and_keep_their_orders(csv_file, run_import):
    assert run_import(csv_file(FILE)).ok
    orders_before = list(Order.objects.order_by("order_id").values_list("order_id", "total"))

    named = demo_customers_name()
    again = demo_customers_name()

    assert (named, again) == (2, 0)
    member = Member.objects.get(external_id="17850")
    assert (member.first_name, member.last_name, member.email) == demo_name("17850")
    assert list(Order.objects.order_by("order_id").values_list("order_id", "total")) == (
        orders_before
    )
    assert AuditEntry.objects.filter(action="member.update").count() == 2
    surname = demo_busiest_surname()
    assert surname == demo_name("17850")[1]
    found = member_search(term=surname, queryset=Member.objects.all())
    assert member in found
    assert Order.objects.filter(member__in=found).exists()
