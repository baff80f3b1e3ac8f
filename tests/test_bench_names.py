"""A benchmark script must not take the name of one of our packages: the benchmarks put
`bench/` on `sys.path`, where `bench/webhooks.py` once hid the `webhooks` app from
`django.setup()` and broke `bench/api_earn.py`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_benchmark_module_shadows_a_package_of_ours():
    ours = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    benches = {p.stem for p in (ROOT / "bench").glob("*.py")}
    assert "webhooks" in ours  # the globs see the tree
    assert "api_earn" in benches
    assert benches & ours == set()
