"""Schemathesis against a live server over the committed OpenAPI schema (docs/openapi.yaml).

Every check (`--checks all`: no 5xx, responses as the schema says, schema-valid requests
accepted and invalid ones refused, authentication enforced, ...) in every phase (examples,
coverage, fuzzing, stateful), with a fixed seed and 25 examples per operation, against gunicorn
on the suite's PostgreSQL database. A few members and a reward are seeded so that operations on a
member get past `404` (tests/hardening/schemathesis_hooks.py picks them); configuration in
tests/hardening/schemathesis.toml. Any failure prints schemathesis's report with a `curl` line
that reproduces it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from rewards.services import reward_create
from tests.hardening.cluster import ROOT
from tests.hardening.load import gunicorn
from tests.jobs.worker import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).resolve().parent
SEED = 16
EXAMPLES = 25


def test_the_api_keeps_to_its_committed_schema(api_key, make_member, system_actor, tmp_path):
    # given members, a reward and a storefront key on a live server
    members = [make_member().external_id for _ in range(3)]
    reward_create(
        code="FIVE_OFF",
        name="£5 off",
        kind="fixed_discount",
        points_cost=500,
        value=Decimal("5.00"),
        actor=system_actor,
    )
    with gunicorn(database_url(), tmp_path, workers=2) as server:
        # when schemathesis runs every check against the committed schema
        command = [
            *(sys.executable, "-m", "schemathesis.cli"),
            *("--config-file", HERE / "schemathesis.toml"),
            *("--no-color", "run", ROOT / "docs" / "openapi.yaml"),
            *("--url", f"http://127.0.0.1:{server.port}"),
            *("--header", f"Authorization: Api-Key {api_key.raw_key}"),
            *("--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED)),
            *("--generation-database", "none", "--workers", "2"),
            *("--report-dir", tmp_path / "report"),
        ]
        done = subprocess.run(
            command,
            cwd=tmp_path,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "SCHEMATHESIS_HOOKS": "tests.hardening.schemathesis_hooks",
                "SCHEMATHESIS_SEEDED_MEMBERS": ",".join(members),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )

    # then nothing failed: no server error, no schema violation, no mismatch either way
    assert done.returncode == 0, done.stdout[-30000:] + done.stderr[-3000:]
    assert "No issues found" in done.stdout or " passed" in done.stdout, done.stdout[-3000:]
