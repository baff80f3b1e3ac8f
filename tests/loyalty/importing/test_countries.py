"""The line file's `Country` column fills the members' country where unknown (docs/import.md,
"Countries")."""

from __future__ import annotations

import pytest

from members.models import Member
from tests.loyalty.importing.test_edges import lines, when

pytestmark = pytest.mark.django_db


def test_the_import_fills_unknown_countries_from_the_latest_order(
    run_import, csv_file, make_member
):
    make_member(external_id="14000", country="FR")  # set by the storefront: kept
    path = csv_file(
        lines(
            f"A-1,P1,Lamp,1,{when(40)},2.00,12000.0,EIRE",
            f"A-1,P2,Mug,1,{when(40)},2.00,12000.0,EIRE",
            f"A-2,P1,Lamp,1,{when(30)},2.00,12000.0,United Kingdom",  # the latest: GB
            f"A-3,P1,Lamp,1,{when(30)},2.00,13000.0,Unspecified",
            f"A-4,P1,Lamp,1,{when(30)},2.00,14000.0,Germany",
            f"A-5,P1,Lamp,1,{when(30)},2.00,15000.0,RSA",
            f"A-6,P1,Lamp,1,{when(30)},2.00,,Norway",  # a guest: no member
        )
    )

    result = run_import(path)
    again = run_import(path)

    assert (result.status, again.status) == ("succeeded", "succeeded")
    assert dict(Member.objects.values_list("external_id", "country")) == {
        "12000": "GB",
        "13000": "",
        "14000": "FR",
        "15000": "ZA",
    }
