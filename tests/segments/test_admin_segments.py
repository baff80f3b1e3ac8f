"""The segment builder in the admin: the live count (and its errors), the CSV export with
formulas escaped, saving validates the tree."""

from __future__ import annotations

import json
import re
from http import HTTPStatus

import pytest
from django.urls import reverse

from members.roles import MARKETING, OPERATOR
from segments.conditions import FIELDS
from segments.models import Club, Segment
from segments.services.clubs import club_join
from segments.services.segments import segment_freeze, segment_save
from tests.loyalty.staff import client_for, staff_user

pytestmark = pytest.mark.django_db
TREE = {"all": [{"field": "club", "op": "in", "value": ["c"]}]}


@pytest.fixture
def world(make_member, system_actor):
    club = Club.objects.create(code="c", name="C")
    evil = make_member(external_id="E-1", first_name='=HYPERLINK("x")', last_name="Doe")
    make_member(external_id="E-2")
    club_join(member=evil, club=club, actor=system_actor)
    return segment_save(segment=Segment(code="s", name="S", conditions=TREE), actor=system_actor)


def _count(client, tree):
    return client.post(
        reverse("admin:segments_segment_count"),
        data=json.dumps({"conditions": tree}),
        content_type="application/json",
    )


def test_live_count_and_sample(world):
    client = client_for(staff_user(MARKETING, "m"))
    answer = _count(client, TREE)
    assert answer.status_code == HTTPStatus.OK
    assert (answer.json()["count"], [m["external_id"] for m in answer.json()["sample"]]) == (
        1,
        ["E-1"],
    )
    bad = _count(client, {"all": [TREE, {"any": []}]})
    assert (bad.status_code, bad.json()) == (
        HTTPStatus.BAD_REQUEST,
        {"error": "all[1].any: an ANY needs at least one condition."},
    )
    assert _count(client_for(staff_user(OPERATOR, "o")), TREE).status_code == HTTPStatus.FORBIDDEN


def test_export_escapes_formulas(world):
    client = client_for(staff_user(MARKETING, "m"))
    response = client.get(reverse("admin:segments_segment_export", args=[world.pk]))
    assert response.status_code == HTTPStatus.OK
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "external_id,email,first_name,last_name"
    assert lines[1].startswith("E-1,")
    assert "'=HYPERLINK" in lines[1]


def test_saving_refuses_a_bad_tree_with_its_path(world):
    client = client_for(staff_user(MARKETING, "m"))
    response = client.post(
        reverse("admin:segments_segment_add"),
        {
            "code": "x",
            "name": "X",
            "description": "",
            "conditions": '{"all": [{"field": "colour"}]}',
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert response.context["adminform"].form.errors["conditions"] == [
        "all[0].field: unknown field 'colour'."
    ]
    assert not Segment.objects.filter(code="x").exists()


def _builder_spec(response) -> dict | None:
    found = re.search(
        r'<script id="segment-builder-spec" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    return json.loads(found.group(1)) if found else None


def test_the_page_carries_the_visual_builder_s_fields(world, system_actor):
    client = client_for(staff_user(MARKETING, "m"))

    spec = _builder_spec(client.get(reverse("admin:segments_segment_add")))

    fields = {f["name"]: f for f in spec["fields"]}
    assert list(fields) == list(FIELDS)
    assert (fields["club"]["choices"], fields["club"]["ops"]) == ([["c", "C"]], ["in", "not_in"])
    assert ["IE", "Ireland (IE)"] in fields["country"]["choices"]
    assert fields["birthday_month"]["choices"][0] == [1, "January"]
    assert fields["category"]["choices"] is None  # free texts
    assert fields["points_expiring"]["params"] == [
        {"name": "within_days", "label": "within … days", "min": 1, "max": 3650, "required": True}
    ]
    assert fields["spend"]["params"][0]["required"] is False
    assert spec["ops"]["gte"] == "at least"
    # a frozen segment's tree is read-only: no builder
    segment_freeze(segment=world)
    frozen = client.get(reverse("admin:segments_segment_change", args=[world.pk]))
    assert frozen.status_code == HTTPStatus.OK
    assert _builder_spec(frozen) is None


def test_the_builder_s_words_are_in_chinese(world):
    client = client_for(staff_user(MARKETING, "m"))

    spec = _builder_spec(
        client.get(reverse("admin:segments_segment_add"), HTTP_ACCEPT_LANGUAGE="zh-Hans")
    )

    labels = {f["name"]: f["label"] for f in spec["fields"]}
    assert labels["country"] == "国家/地区"
    assert spec["texts"]["any"] == "以下任一条件成立"
    assert ["IE", "爱尔兰 (IE)"] in {f["name"]: f for f in spec["fields"]}["country"]["choices"]
