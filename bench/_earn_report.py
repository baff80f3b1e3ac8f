"""`bench/api_earn.py`'s report: every run, then the medians over the rounds per program and
scenario (the ratio is the median of each round's earn req/s over the ping run just before it,
not a ratio of medians). Not a benchmark itself (`make bench` skips `bench/_*.py`).
"""

from __future__ import annotations


def median(values: list[float]) -> float:
    values = sorted(v for v in values if v is not None)
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def report(results: list[dict], args) -> list[dict]:
    """Print every run, then the medians per (program, scenario); returns the medians."""
    print()
    print(
        "| round | program | scenario | req/s | vs ping before | p50 ms | p99 ms | errors "
        "| cores: server / pg / load / machine | CPU ms per request (server + pg) |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---|---:|")
    for r in results:
        ratio = f"{r['ratio']:.0%}" if r.get("ratio") is not None else ""
        errors = f"{r['errors']}{' ' + str(r['error_statuses']) if r['errors'] else ''}"
        print(
            f"| {r['round']} | {r['program']} | {r['scenario']} | {r['rps']:.0f} | {ratio} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {errors} | "
            f"{r['cores_server']:.2f} / {r['cores_postgres']:.2f} / {r['cores_loadgen']:.2f} / "
            f"{r['cores_machine']:.2f} | {r['cpu_ms_per_request']:.2f} |"
        )
    medians = []
    for program in args.programs:
        for scenario in args.scenarios:
            runs = [r for r in results if r["program"] == program and r["scenario"] == scenario]
            medians.append(
                {
                    "program": program,
                    "scenario": scenario,
                    "rounds": len(runs),
                    "rps": median([r["rps"] for r in runs]),
                    "ping_rps": median([r["ceiling_rps"] for r in runs]),
                    "ratio": median([r["ratio"] for r in runs]),
                    "p50_ms": median([r["p50_ms"] for r in runs]),
                    "p99_ms": median([r["p99_ms"] for r in runs]),
                    "errors": sum(r["errors"] for r in runs),
                    "cpu_ms_per_request": median([r["cpu_ms_per_request"] for r in runs]),
                }
            )
    print()
    print(f"Medians of {args.rounds} rounds:")
    print()
    print(
        "| program | scenario | earn req/s | ping req/s | earn vs ping | p50 ms | p99 ms "
        "| errors (all rounds) | CPU ms per earn |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for m in medians:
        print(
            f"| {m['program']} | {m['scenario']} | {m['rps']:.0f} | {m['ping_rps']:.0f} | "
            f"**{m['ratio']:.0%}** | {m['p50_ms']:.1f} | **{m['p99_ms']:.1f}** | {m['errors']} | "
            f"{m['cpu_ms_per_request']:.2f} |"
        )
    return medians
