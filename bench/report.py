#!/usr/bin/env python3
"""Markdown report of a bench/run.sh run directory (Python 3.11 stdlib only).

    python3 bench/report.py main   bench/out/run-YYYYmmdd-HHMMSS
    python3 bench/report.py memory bench/out/memory-YYYYmmdd-HHMMSS

Reads results.tsv (name, round, rows, wall_s, peak_rss_kib, exit), the
machine and meta files, the expected counts written by gen.py and the JSON
reports roster printed (m/NAME.ROUND.out), and checks those reports.
"""

import glob
import json
import os
import statistics
import sys

NAMES = {
    "roster_fresh": "roster import → fresh SQLite",
    "roster_again": "roster re-import → same SQLite (every row matched)",
    "sqlite3_import_pk": "sqlite3 `.import` → `email TEXT PRIMARY KEY` (fresh)",
    "sqlite3_import_pk_tuned": "same, with roster's pragmas (WAL, synchronous=NORMAL, 16 MB cache)",
    "sqlite3_upsert_fresh": "sqlite3 `.import` to temp + upsert, roster's pragmas (fresh)",
    "sqlite3_upsert_again": "sqlite3 `.import` to temp + upsert, roster's pragmas (again)",
    "roster_fresh_head": "roster import → fresh SQLite, head of file",
    "sqlite_utils_head": "sqlite-utils upsert --csv --pk email, head of file",
    "pg_roster_fresh": "roster import → fresh PostgreSQL schema",
    "pg_roster_again": "roster re-import → same PostgreSQL schema",
    "pg_copy_upsert_fresh": "psql `\\copy` to temp + upsert (fresh)",
    "pg_copy_upsert_again": "psql `\\copy` to temp + upsert (again)",
}
RATIOS = [
    ("roster_fresh", "sqlite3_import_pk", "roster fresh / sqlite3 .import (PK)"),
    ("roster_fresh", "sqlite3_import_pk_tuned", "roster fresh / sqlite3 .import (PK), roster's pragmas"),
    ("roster_fresh", "sqlite3_upsert_fresh", "roster fresh / sqlite3 .import + upsert"),
    ("roster_again", "sqlite3_upsert_again", "roster re-import / sqlite3 .import + upsert (again)"),
    ("roster_fresh_head", "sqlite_utils_head", "roster fresh / sqlite-utils upsert (same head of file)"),
    ("pg_roster_fresh", "pg_copy_upsert_fresh", "roster fresh (PostgreSQL) / psql \\copy + upsert"),
    ("pg_roster_again", "pg_copy_upsert_again", "roster re-import (PostgreSQL) / psql \\copy + upsert (again)"),
]


def load(run):
    rows = []
    with open(os.path.join(run, "results.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 6:
                continue
            rows.append({"name": p[0], "round": int(p[1]), "rows": int(p[2]),
                         "wall": None if p[3] == "FAIL" else float(p[3]),
                         "rss": int(p[4]) if p[4] else None, "exit": int(p[5])})
    return rows


def jload(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def env(path):
    d = {}
    try:
        for line in open(path):
            k, _, v = line.rstrip("\n").partition("=")
            d[k] = v
    except OSError:
        pass
    return d


def n(x):
    return f"{x:,.0f}"


def mib(kib):
    return f"{kib / 1024:,.0f} MiB" if kib else "–"


def machine_line(m):
    return (f"nproc {m.get('nproc')}, CPU {m.get('cpu')}, {m.get('memory')} RAM, "
            f"Linux {m.get('kernel')}; load average at start {' '.join(m.get('loadavg', []))}; "
            f"sqlite3 {m.get('sqlite3')}")


def check_report(run, name, rnd, expected, fresh):
    """Compare roster's --json report with the generator's expected counts."""
    rep = jload(os.path.join(run, "m", f"{name}.{rnd}.out"))
    if rep is None:
        return f"{name} round {rnd}: no JSON report on stdout (crash?)", False
    want = {"rows": expected["rows"], "rejected": expected["rejected"],
            "repeated": expected["repeated"]}
    want["created"] = expected["created"] if fresh else 0
    got = {k: rep.get(k) for k in want}
    bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    counts = ", ".join(f"{k} {rep.get(k):,}" for k in
                       ("rows", "created", "updated", "unchanged", "rejected", "repeated")
                       if isinstance(rep.get(k), int))
    if bad:
        diff = "; ".join(f"{k} {g} but expected {w}" for k, (g, w) in bad.items())
        return f"**{name} round {rnd}: UNEXPECTED — {diff}** ({counts})", False
    cols = {}
    for e in rep.get("errors", []):
        cols[e.get("column")] = cols.get(e.get("column"), 0) + 1
    why = ", ".join(f"{c} {k}" for c, k in sorted(cols.items(), key=lambda x: -x[1]))
    return f"{name} round {rnd}: {counts} — as expected (errors listed by column: {why})", True


def main_report(run):
    res = load(run)
    m = jload(os.path.join(run, "machine.json"), {})
    meta = env(os.path.join(run, "meta.env"))
    exp = jload(os.path.join(run, "expected.json"), {})
    exp_head = jload(os.path.join(run, "expected-head.json"), {})
    total = exp.get("rows", 0)
    out = []
    w = out.append
    w("# Roster import benchmark\n")
    w(f"- Date: {m.get('date')}; command: `{meta.get('command')}`; roster source {meta.get('roster_rev')}")
    w(f"- Machine: {machine_line(m)}; sqlite-utils {meta.get('sqlite_utils')}; "
      f"PostgreSQL: {meta.get('pg_url', 'skipped')}")
    w(f"- File: `{meta.get('file')}`, {n(total)} rows, {int(meta.get('file_bytes', 0)) / 1e6:,.0f} MB; "
      f"{n(exp.get('rejected', 0))} invalid rows, {n(exp.get('repeated', 0))} repeated emails, "
      f"{n(exp.get('created', 0))} distinct emails (seed {exp.get('seed')})")
    w("- Times are wall-clock seconds of the whole command (process start to exit), medians over "
      "the rounds, which run every contender in turn; peak RSS is the largest over the rounds.\n")

    by = {}
    for r in res:
        by.setdefault(r["name"], []).append(r)
    med = {}
    w("| contender | rows | median s | rows/s | peak RSS | each round (s) |")
    w("|---|---:|---:|---:|---:|---|")
    for key, label in NAMES.items():
        rs = by.get(key)
        if not rs:
            continue
        ok = [r["wall"] for r in rs if r["wall"] is not None]
        each = " ".join("FAIL" if r["wall"] is None else f"{r['wall']:.2f}" for r in rs)
        rows = rs[0]["rows"]
        if not ok:
            w(f"| {label} | {n(rows)} | FAILED | | | {each} |")
            continue
        md = statistics.median(ok)
        med[key] = (md, rows)
        rss = max((r["rss"] or 0) for r in rs if r["wall"] is not None)
        w(f"| {label} | {n(rows)} | {md:.2f} | {n(rows / md)} | {mib(rss)} | {each} |")
    if "sqlite_utils_head" in med and total and med["sqlite_utils_head"][1] != total:
        t, r = med["sqlite_utils_head"]
        est = t * total / r
        med["sqlite_utils_scaled"] = (est, total)
        w(f"| sqlite-utils upsert, scaled to {n(total)} rows (estimate: head time × {total / r:g}) "
          f"| {n(total)} | {est:.2f} | {n(total / est)} | | |")

    w("\n## Ratios\n")
    w("Median time of roster ÷ median time of the baseline: above 1× roster is slower.\n")
    w("| comparison | ratio |")
    w("|---|---:|")
    ratios = list(RATIOS)
    if "sqlite_utils_scaled" in med:
        ratios.insert(4, ("roster_fresh", "sqlite_utils_scaled",
                          f"roster fresh ({n(total)}) / sqlite-utils upsert scaled to {n(total)}"))
    for a, b, label in ratios:
        if a in med and b in med:
            w(f"| {label} | {med[a][0] / med[b][0]:.2f}× |")
    if "roster_fresh" in med and "roster_again" in med:
        w(f"| roster re-import / roster fresh | {med['roster_again'][0] / med['roster_fresh'][0]:.2f}× |")
    if "pg_roster_fresh" in med and "roster_fresh" in med:
        w(f"| roster fresh PostgreSQL / roster fresh SQLite | "
          f"{med['pg_roster_fresh'][0] / med['roster_fresh'][0]:.2f}× |")

    w("\n## Checks\n")
    problems = 0
    for r in res:
        if r["wall"] is None:
            problems += 1
            w(f"- **{r['name']} round {r['round']}: FAILED with exit {r['exit']}** "
              f"(see m/{r['name']}.{r['round']}.err)")
    for key in ("roster_fresh", "roster_again", "roster_fresh_head", "pg_roster_fresh", "pg_roster_again"):
        e = exp_head if key == "roster_fresh_head" else exp
        for r in by.get(key, []):
            if r["wall"] is None:
                continue
            want_exit = 1 if e.get("rejected") else 0
            line, ok = check_report(run, key, r["round"], e, fresh="fresh" in key)
            if r["exit"] != want_exit:
                line += f"; **exit {r['exit']}, expected {want_exit}**"
                ok = False
            problems += not ok
            w(f"- {line}")
    for f in sorted(glob.glob(os.path.join(run, "m", "sqlite3_import_pk*.err"))):
        with open(f, errors="replace") as fh:
            dup = sum("UNIQUE constraint failed" in line for line in fh)
        w(f"- {os.path.basename(f)[:-4]}: sqlite3 printed {n(dup)} 'INSERT failed: UNIQUE constraint "
          f"failed' lines (the repeated emails), kept the first row of each and exited 0")
    w(f"\n{'No problems found.' if problems == 0 else f'**{problems} problem(s) above.**'}")
    return "\n".join(out) + "\n"


def memory_report(run):
    res = load(run)
    m = jload(os.path.join(run, "machine.json"), {})
    out = ["# Roster import: peak memory against file size\n",
           f"- Date: {m.get('date')}; command: `bash bench/run.sh --memory`",
           f"- Machine: {machine_line(m)}\n",
           "| rows | wall s | rows/s | peak RSS | check |", "|---:|---:|---:|---:|---|"]
    peaks = {}
    for r in res:
        rows = r["rows"]
        if r["wall"] is None:
            out.append(f"| {n(rows)} | FAILED (exit {r['exit']}) | | | |")
            continue
        exp = jload(os.path.join(run, f"expected-{rows}.json"), {})
        line, ok = check_report(run, r["name"], r["round"], exp, fresh=True)
        peaks[rows] = r["rss"]
        out.append(f"| {n(rows)} | {r['wall']:.2f} | {n(rows / r['wall'])} | {mib(r['rss'])} | "
                   f"{'as expected' if ok else line} |")
    if 1000000 in peaks and 5000000 in peaks:
        out.append(f"\nPeak RSS at 5M ÷ peak RSS at 1M = **{peaks[5000000] / peaks[1000000]:.2f}×** "
                   "(1.00× means memory does not grow with the file).")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("main", "memory"):
        sys.exit("usage: report.py main|memory RUN_DIR")
    sys.stdout.write(main_report(sys.argv[2]) if sys.argv[1] == "main" else memory_report(sys.argv[2]))
