"""The `segments` and `clubs` sections of `manage.py program_config`: export, import (created,
updated, unchanged), problems with their JSON path into the tree, frozen segments, prune."""

from __future__ import annotations

import copy
import json

import pytest

from loyalty.services.program_config import (
    program_config_export,
    program_config_import,
    program_config_validate,
)
from segments.models import Club, Segment
from segments.services.clubs import club_save
from segments.services.segments import segment_freeze, segment_save

pytestmark = pytest.mark.django_db
TREE = {"all": [{"field": "country", "op": "in", "value": ["IE", "GB"]}]}
DOCUMENT = {
    "perks": [{"code": "wine_tasting", "name": "Wine tasting", "kind": "custom", "value": None,
               "description": ""}],
    "segments": [
        {"code": "isles", "name": "Isles", "description": "GB and IE", "kind": "dynamic",
         "conditions": {"all": [{"field": "country", "op": "in", "value": ["GB", "IE"]}]}},
    ],
    "clubs": [
        {"code": "wine", "name": "Wine lovers", "description": "", "perks": ["wine_tasting"],
         "join_rules": {}, "is_active": True},
    ],
}  # fmt: skip


def _sections(document):
    return {k: document[k] for k in ("segments", "clubs")}


def test_import_then_export_gives_the_same_sections(system_actor):
    report = program_config_import(document=copy.deepcopy(DOCUMENT), actor=system_actor)

    assert [str(s) for s in report.sections if s.name in ("segments", "clubs")] == [
        "segments: created 1 (isles); unchanged 0",
        "clubs: created 1 (wine); unchanged 0",
    ]
    assert _sections(program_config_export()) == _sections(DOCUMENT)
    again = program_config_import(document=copy.deepcopy(DOCUMENT), actor=system_actor)
    assert [str(s) for s in again.sections if s.name in ("segments", "clubs")] == [
        "segments: unchanged 1",
        "clubs: unchanged 1",
    ]


def test_problems_name_the_path_into_the_tree(system_actor):
    document = {
        "segments": [
            {"code": "x", "name": "X", "conditions": {"all": [{"field": "colour"}]}},
            {"code": "x", "name": "Y", "kind": "weekly"},
        ],
        "clubs": [{"code": "c", "name": "C", "perks": ["nope"], "join_rules": {"any": []}}],
    }

    assert [str(p) for p in program_config_validate(document)] == [
        "segments[0].conditions.all[0].field: unknown field 'colour'.",
        "segments[1].code: Repeats segments[0].code.",
        "segments[1].kind: One of dynamic, frozen.",
        "clubs[0].perks: No perk has the code 'nope'.",
        "clubs[0].join_rules.any: an ANY needs at least one condition.",
    ]


def test_a_frozen_segment_keeps_its_conditions(system_actor, make_member):
    make_member(country="GB")
    segment = segment_save(segment=Segment(code="cell", name="Cell", conditions=TREE),
                           actor=system_actor)  # fmt: skip
    segment_freeze(segment=segment)
    exported = program_config_export()["segments"]
    assert exported[0]["kind"] == "frozen"

    changed = copy.deepcopy(exported)
    changed[0]["conditions"] = {"all": []}
    assert [str(p) for p in program_config_validate({"segments": changed})] == [
        "segments[0].conditions: A frozen segment's conditions cannot change."
    ]
    # a new frozen segment is frozen on this program's members
    fresh = [dict(exported[0], code="cell-2")]
    program_config_import(document={"segments": fresh}, actor=system_actor)
    created = Segment.objects.get(code="cell-2")
    assert (created.kind, created.member_count) == ("frozen", 1)


def test_prune_deletes_segments_and_closes_clubs(system_actor):
    segment_save(segment=Segment(code="old", name="Old", conditions=TREE), actor=system_actor)
    club_save(club=Club(code="gone", name="Gone"), actor=system_actor)

    report = program_config_import(
        document=json.loads(json.dumps({"segments": [], "clubs": []})),
        actor=system_actor,
        prune=True,
    )

    assert not Segment.objects.filter(code="old").exists()
    assert Club.objects.get(code="gone").is_active is False
    assert [str(s) for s in report.sections] == [
        "segments: deleted 1 (old); unchanged 0",
        "clubs: updated 1 (gone); unchanged 0",
    ]
