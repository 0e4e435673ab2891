"""Markdown tables from bench/load.py's JSON figures (for bench/RESULTS.md).

.venv/bin/python bench/report.py bench/out/sqlite-mix.json bench/out/postgres-mix.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def table(result: dict) -> str:
    bare = result["bare"]
    lines = [
        f"**{result['database']}**, {result['workers']} workers × {result['threads']} threads "
        f"({result['worker_class']}), {result['clients']} clients, {result['duration']} s, "
        f"setup `{result['setup']}`, mix `{result['mix']}`",
        "",
        "| kind | count | req/s | p50 ms | p95 ms | p99 ms | errors | expected refusals | × bare |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        f"| bare GET / | {bare['count']:,} | {fmt(bare['rps'])} | {fmt(bare['p50_ms'])} "
        f"| {fmt(bare['p95_ms'])} | {fmt(bare['p99_ms'])} | {bare['errors']} | 0 | 1.000 |",
    ]
    for kind, row in result["kinds"].items():
        lines.append(
            f"| {kind} | {row['count']:,} | {fmt(row['rps'])} | {fmt(row['p50_ms'])} "
            f"| {fmt(row['p95_ms'])} | {fmt(row['p99_ms'])} | {row['errors']} "
            f"| {row['refused']} | {fmt(row['rps'] / bare['rps'], 3)} |"
        )
    total = result["total"]
    lines.append(
        f"| **all kinds** | {total['count']:,} | {fmt(total['rps'])} | | | | "
        f"{sum(r['errors'] for r in result['kinds'].values())} "
        f"| {sum(r['refused'] for r in result['kinds'].values())} | {fmt(total['ratio'], 3)} |"
    )
    logins = result.get("logins", {}).get("login")
    if logins:
        lines += [
            "",
            f"Logins ({logins['count']} at once, before the timed window): p50 "
            f"{fmt(logins['p50_ms'], 0)} ms, max {fmt(logins['p99_ms'], 0)} ms.",
        ]
    cores = result.get("cpus") or 2

    def cpu(figures: dict) -> str:
        wall = figures["wall_s"]
        busy = figures.get("machine_busy") or 0.0
        server = figures["server_cpu_s"] / wall
        client = figures["client_cpu_s"] / wall
        return (
            f"machine {busy:.0%} busy (gunicorn {server:.2f} cores, client {client:.2f}, "
            f"rest {max(0.0, busy * cores - server - client):.2f}; before: "
            f"{figures.get('machine_busy_before') or 0:.0%})"
        )

    lines += [
        "",
        f"CPU during the bare run: {cpu(bare)}. During Tipline: {cpu(result)}.",
    ]
    integrity = result.get("integrity")
    if integrity:
        lines += [
            "",
            "Integrity: "
            f"{integrity['references_received']:,} distinct receipts, "
            f"{integrity['references_found_once']:,} found exactly once, "
            f"{integrity['references_missing']} missing, "
            f"{integrity['references_found_more_than_once']} on several tips; "
            f"{integrity['submission_keys_with_several_tips']} submission keys with several "
            f"tips; tips added {integrity['tips_added']:,} for "
            f"{integrity['submission_keys_sent']:,} keys sent "
            f"({integrity['submission_keys_without_answer']} without an answer); "
            f"{integrity.get('reposts_sent_while_first_post_in_flight', '–')} re-posts sent "
            f"while the first post was in flight; `counters check` exit "
            f"{integrity['counters_check_exit']} ({integrity['counters_check_output']}).",
        ]
    notes = {k: r["notes"] for k, r in result["kinds"].items() if r["notes"]}
    if notes or result.get("skipped"):
        lines += ["", f"Notes: {notes or ''} skipped: {result.get('skipped') or {}}."]
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    for path in paths:
        print(table(json.loads(Path(path).read_text())))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
