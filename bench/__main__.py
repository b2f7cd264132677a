"""`make bench` (`python -m bench`): every figure of SPEC §7 in one table, and the same
figures as JSON in bench/results.json. docs/performance.md explains them.

Sections run one after the other, so that no two measurements share the machine: cold
start, warm latency with the AWS request counts (one moto server), the local end-to-end run
(the whole local stack), then the deployment packages; the cost is computed last from the
measured figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, memory_sizes

RESULTS = ROOT / "bench" / "results.json"
SECTIONS = ("cold", "warm", "e2e", "packages")


def _margin(value: float, target: float, unit: str = "x") -> str:
    """'met by 12%' / 'missed by 30%': how far a figure is from its (upper-bound) target."""
    if target == 0:
        return "met" if value <= target else f"missed (+{value:g}{unit})"
    percent = (target - value) / target * 100
    return f"met by {percent:.0f}%" if value <= target else f"MISSED by {-percent:.0f}%"


Row = tuple[str, str, str, str, str]


def _rows(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for r in results.get("cold_start", []):
        rows.append(
            (
                f"cold start {r['handler']}",
                f"{r['handler_s'] * 1000:.0f} ms",
                f"floor {r['floor_s'] * 1000:.0f} ms",
                f"{r['ratio']:.2f}x <= {r['target_ratio']}x",
                _margin(r["ratio"], r["target_ratio"]),
            )
        )
    measured = results.get("warm")
    if measured:
        for name, w in measured["warm"].items():
            target = w["target_ratio"]
            rows.append(
                (
                    f"warm {name}",
                    f"p50 {w['median_ms']:.1f} / p99 {w['p99_ms']:.1f} ms",
                    f"floor p50 {w['floor_median_ms']:.1f} / p99 {w['floor_p99_ms']:.1f} ms"
                    f" ({w['floor']})",
                    f"{w['ratio']:.2f}x" + (f" <= {target}x" if target else " (no target)"),
                    _margin(w["ratio"], target) if target else "-",
                )
            )
        for name, first_ms in measured.get("first_invocation_ms", {}).items():
            warm_ms = measured["warm"][name]["median_ms"]
            rows.append(
                (
                    f"first invocation {name}",
                    f"{first_ms:.1f} ms",
                    f"warm p50 {warm_ms:.1f} ms (+{first_ms - warm_ms:.1f} ms: clients, "
                    "secrets, data key, schemas)",
                    "(no target)",
                    "-",
                )
            )
        b = measured["forward_batch"]
        rows.append(
            (
                "forward: batch of 10 vs 1 (bank 50 ms)",
                f"{b['batch_of_10_median_ms']:.0f} vs {b['one_message_median_ms']:.0f} ms",
                f"floor {b['floor_batch_of_10_median_ms']:.0f} vs "
                f"{b['floor_one_message_median_ms']:.0f} ms ({b['floor_ratio']:.2f}x)",
                f"{b['ratio']:.2f}x <= {b['target_ratio']}x",
                _margin(b["ratio"], b["target_ratio"]),
            )
        )
        life = measured["lifecycle"]
        for step, ops in life["per_step"].items():
            rows.append(
                (
                    f"AWS requests: {step}",
                    ", ".join(f"{op.split(':')[1]} {n:g}" for op, n in ops.items()) or "none",
                    "",
                    "",
                    "",
                )
            )
        auth = measured["authorizer_calls"]["per_invocation"]
        rows.append(
            (
                "AWS requests: authorizer (per run)",
                ", ".join(f"{op.split(':')[1]} {n:g}" for op, n in auth.items()) or "none",
                "",
                "",
                "",
            )
        )
        cold_ops = dict(measured["cold_lifecycle"]["per_payment"])
        warm_ops = dict(life["per_payment"])
        for op, n in measured.get("cold_authorizer", {}).get("per_invocation", {}).items():
            cold_ops[op] = cold_ops.get(op, 0) + n
            warm_ops[op] = warm_ops.get(op, 0) + auth.get(op, 0)
        once = {
            op: n - warm_ops.get(op, 0) for op, n in cold_ops.items() if n > warm_ops.get(op, 0)
        }
        rows.append(
            (
                "AWS requests: first invocations only",
                ", ".join(f"{op.split(':')[1]} {n:g}" for op, n in once.items()) or "none",
                "",
                "",
                "",
            )
        )
        repeats = life["cacheable_repeats"] + measured["authorizer_calls"]["cacheable_repeats"]
        rows.append(
            (
                "cacheable calls repeated per invocation",
                ", ".join(repeats) or "none",
                "",
                "none",
                "met" if not repeats else f"MISSED ({len(repeats)})",
            )
        )
        cap = life["capacity_per_payment"]
        rows.append(
            (
                "AWS requests per payment",
                f"{life['requests_per_payment']:g}",
                f"DynamoDB RRU {cap['rru']:g}, WRU {cap['wru']:g} + GSI {cap['gsi_wru']:g}",
                "",
                "",
            )
        )
    for name, op in (measured or {}).get("operations", {}).items():
        rows += _operation_rows(name, op)
    cost = results.get("cost")
    if cost:
        for volume in cost["volumes"]:
            millions = f"{volume['model']['payments_a_month'] / 1e6:g}M"
            ks = volume["kms_and_secrets_per_payment"]
            rows.append(
                (
                    f"KMS + Secrets Manager / payment ({millions})",
                    f"{ks:.4f}",
                    f"first-invocation calls per {cost['traffic']['cache_window_s']:g} s "
                    "window per warm container",
                    f"<= {cost['kms_and_secrets_target']:g}",
                    _margin(ks, cost["kms_and_secrets_target"], ""),
                )
            )
        for volume in cost["volumes"]:
            millions = f"{volume['model']['payments_a_month'] / 1e6:g}M"
            rows.append(
                (
                    f"cost per million payments ({millions} a month)",
                    f"${volume['usd_per_million_payments']:.2f}",
                    f"${volume['total_usd']:,.0f} a month, fixed ${volume['fixed_usd']:.2f}; "
                    f"{cost['region']}, prices of {cost['price_list_date']}",
                    f"<= ${cost['target_usd_per_million']:g}",
                    _margin(volume["usd_per_million_payments"], cost["target_usd_per_million"]),
                )
            )
            rows.append(
                (
                    f"  earlier implementation ({millions} a month)",
                    f"${volume['earlier']['usd_per_million_payments']:.2f} per million",
                    f"{volume['earlier_over_current']:.2f}x this implementation",
                    "",
                    "",
                )
            )
    e2e = results.get("e2e")
    if e2e:
        rows.append(
            (
                "local e2e throughput",
                f"{e2e['payments_per_second']:.1f} payments/s",
                f"{e2e['accepted']}/{e2e['payments']} payments, {e2e['clients']} clients, "
                f"{e2e['total_s']:.1f} s",
                "",
                "",
            )
        )
        rows.append(
            (
                "local e2e POST latency",
                f"p50 {e2e['post_p50_ms']:.0f} / p99 {e2e['post_p99_ms']:.0f} ms",
                f"POST->final p50 {e2e['post_to_final_p50_ms']:.0f} / "
                f"p99 {e2e['post_to_final_p99_ms']:.0f} ms",
                "",
                "",
            )
        )
    if e2e and "change_to_first_attempt_p50_ms" in e2e:
        rows.append(
            (
                "local status change -> 1st webhook attempt",
                f"p50 {e2e['calm_change_to_first_attempt_p50_ms']:.0f} / "
                f"p99 {e2e['calm_change_to_first_attempt_p99_ms']:.0f} ms",
                f"{e2e['calm_first_attempts']}/{e2e['calm_expected']} payments one at a time, "
                f"{e2e['calm_gap_s']:g} s apart; one endpoint",
                "",
                "",
            )
        )
        rows.append(
            (
                "  the same during the e2e run",
                f"p50 {e2e['change_to_first_attempt_p50_ms']:.0f} / "
                f"p99 {e2e['change_to_first_attempt_p99_ms']:.0f} ms",
                f"{e2e['webhook_first_attempts']}/{e2e['webhook_expected']} payment.succeeded "
                "events; the local pipeline falls behind",
                "",
                "",
            )
        )
    for p in results.get("packages", []):
        rows.append(
            (
                f"package {p['service']}",
                f"{p['zipped_bytes'] / 1e6:.2f} MB zipped",
                f"{p['unzipped_bytes'] / 1e6:.1f} MB unzipped",
                "<= 10 MB (10.49e6 B)",
                _margin(p["zipped_bytes"], p["limit_bytes"], " B"),
            )
        )
    return rows


def _operation_rows(name: str, op: dict[str, Any]) -> list[Row]:
    """The requests and the cost of one operation of bench.operations."""
    steps = "; ".join(
        f"{step['handler']}: "
        + (", ".join(f"{o.split(':')[1]} {n:g}" for o, n in step["requests"].items()) or "none")
        for step in op["steps"]
    )
    cap = op["capacity"]
    usd = op["usd"]
    return [
        (
            f"AWS requests: {name}",
            steps,
            f"DynamoDB RRU {cap['rru']:g}, WRU {cap['wru']:g} + GSI {cap['gsi_wru']:g}",
            "",
            "",
        ),
        (
            f"cost of a {name}",
            f"${op['usd_per_million']:.2f} per million",
            ", ".join(f"{k} ${v * 1e6:.2f}" for k, v in usd.items() if v),
            "",
            "",
        ),
    ]


def render(results: dict[str, Any]) -> str:
    """The one table."""
    header: Row = ("figure", "measured", "floor / detail", "target", "result")
    rows = [header, *_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for index, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the sections asked for (all by default), print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--cold-runs", type=int, default=11)
    parser.add_argument("--invocations", type=int, default=200)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--payments", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--cost-from",
        type=Path,
        help="recompute only the cost from the warm figures of an earlier results JSON",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "memory_mb": memory_sizes(),
    }
    log_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    results["log_dir"] = str(log_dir)

    load: dict[str, list[float]] = {}
    results["load_average_1m"] = load

    def section(name: str, title: str) -> bool:
        if name in args.only:
            load[name] = [round(os.getloadavg()[0], 2)]
            print(f"[bench] {title} ...", file=sys.stderr, flush=True)
            return True
        return False

    errors: dict[str, str] = {}
    results["errors"] = errors

    def guarded(name: str, run: Any) -> None:
        # One section failing (a port taken, a concurrent `osls package`) must not lose
        # the others: its error is reported and the JSON is written after each section.
        try:
            run()
        except Exception as error:  # noqa: BLE001 - reported in the table and the JSON
            errors[name] = f"{type(error).__name__}: {error}"[:2000]
            print(f"[bench] {name} failed: {errors[name][:500]}", file=sys.stderr, flush=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")

    def cold() -> None:
        from bench import cold_start

        results["cold_start"] = cold_start.as_json(cold_start.measure(args.cold_runs))

    def warm() -> None:
        from bench import cost, warm

        results["warm"] = warm.run(log_dir, args.invocations, args.batches)
        results["cost"] = cost.monthly(results["warm"], results["memory_mb"])

    def e2e() -> None:
        from bench import e2e

        results["e2e"] = e2e.run(log_dir, args.payments, args.clients)

    def packages() -> None:
        from bench import packages

        results["packages"] = packages.measure()

    if args.cost_from:
        from bench import cost

        args.only = []
        earlier = json.loads(args.cost_from.read_text())
        results["warm"] = earlier["warm"]
        if "cold_start" in earlier:  # shown again, as measured then
            results["cold_start"] = earlier["cold_start"]
        guarded("cost", lambda: results.update(cost=cost.monthly(results["warm"], memory_sizes())))
    if section("cold", f"cold start, {args.cold_runs} fresh processes per side"):
        guarded("cold", cold)
    if section("warm", f"warm latency ({args.invocations} invocations) and AWS requests"):
        guarded("warm", warm)
    if section("e2e", f"local end-to-end, {args.payments} payments"):
        guarded("e2e", e2e)
    if section("packages", "deployment packages (osls package)"):
        guarded("packages", packages)
    results["duration_s"] = time.perf_counter() - started
    load["end"] = [round(os.getloadavg()[0], 2)]

    print(render(results))
    if "cost" in results:
        from bench import cost

        print()
        print(cost.render(results["cost"]))
    loads = ", ".join(f"{k} {v[0]:g}" for k, v in load.items())
    print(f"\n{results['duration_s']:.0f} s on {os.cpu_count()} CPUs; 1-min load average at the")
    print(f"start of each section: {loads} (other work on the machine inflates the figures)")
    print(f"logs in {log_dir}; JSON in {args.output}")
    for name, error in errors.items():
        print(f"section {name} FAILED: {error[:300]}")
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
