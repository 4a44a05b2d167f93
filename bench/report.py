#!/usr/bin/env python3
"""Markdown report of a bench/run.sh run directory (Python 3.11 stdlib only).

    python3 bench/report.py main   bench/out/run-YYYYmmdd-HHMMSS
    python3 bench/report.py memory bench/out/memory-YYYYmmdd-HHMMSS

A run directory holds one folder per shape, each with results.tsv (name,
round, rows, wall_s, peak_rss_kib, exit), counts.tsv (name, round, rows
left in the contender's database), the expected counts gen.py wrote and the
JSON reports roster printed (m/NAME.ROUND.out). The report checks roster's
reports (every count, the exit status) and every contender's row count.
"""

import glob
import json
import os
import statistics
import sys

NAMES = {
    "roster_fresh": "roster import → fresh SQLite",
    "roster_again": "roster re-import → same SQLite (every row matched)",
    "before_fresh": "the earlier roster build (--before) → fresh SQLite",
    "before_again": "the earlier roster build (--before), re-import",
    "sqlite3_import_pk": "sqlite3 `.import` → `email TEXT PRIMARY KEY` (fresh, sqlite3's defaults)",
    "sqlite3_import_pk_tuned": "same, with roster's pragmas (WAL, synchronous=NORMAL, 16 MB cache)",
    "sqlite3_import_pk_indexed": "same, tuned, with roster's search index (FTS5 trigram, filled after the rows)",
    "sqlite3_upsert_fresh": "sqlite3 `.import` to temp + upsert, roster's pragmas (fresh)",
    "sqlite3_upsert_again": "sqlite3 `.import` to temp + upsert, roster's pragmas (same rows again)",
    "roster_fresh_head": "roster import → fresh SQLite, head of file",
    "sqlite_utils_head": "sqlite-utils upsert --csv --pk email, head of file",
    "pg_roster_fresh": "roster import → fresh PostgreSQL schema",
    "pg_roster_again": "roster re-import → same PostgreSQL schema",
    "pg_copy_upsert_fresh": "psql `\\copy` to temp + upsert (fresh)",
    "pg_copy_upsert_again": "psql `\\copy` to temp + upsert (same rows again)",
    "pg_copy_upsert_indexed_fresh": "same, with roster's search index (pg_trgm GIN) (fresh)",
    "pg_copy_upsert_indexed_again": "same, with roster's search index (same rows again)",
}

# (roster, baseline, comparison, kind, target, slower-is-better)
# kind says what is compared with what; target is the ratio to stay under.
RATIOS = [
    ("roster_fresh", "sqlite3_import_pk", "SQLite fresh / sqlite3 .import (PK), sqlite3's defaults",
     "fresh vs fresh; untuned baseline (the target as first written)", 1.2),
    ("roster_fresh", "sqlite3_import_pk_tuned", "SQLite fresh / sqlite3 .import (PK), roster's pragmas",
     "fresh vs fresh, tuned vs tuned", 1.2),
    ("roster_fresh", "sqlite3_import_pk_indexed", "SQLite fresh / sqlite3 .import (PK), roster's pragmas and search index",
     "fresh vs fresh, tuned vs tuned, both maintaining the same search index", None),
    ("roster_fresh", "sqlite3_upsert_fresh", "SQLite fresh / sqlite3 .import + upsert (fresh)",
     "fresh vs fresh, tuned vs tuned", None),
    ("roster_again", "sqlite3_upsert_again", "SQLite re-import / sqlite3 .import + upsert of the same rows again",
     "re-import vs an upsert of the same rows, tuned vs tuned", 1.2),
    ("roster_again", "sqlite3_import_pk", "SQLite re-import / sqlite3 .import (PK), fresh",
     "unlike: a re-import vs a fresh load (shown because the target names .import)", None),
    ("pg_roster_fresh", "pg_copy_upsert_fresh", "PostgreSQL fresh / psql \\copy + upsert (fresh)",
     "fresh vs fresh", 1.2),
    ("pg_roster_again", "pg_copy_upsert_again", "PostgreSQL re-import / psql \\copy + upsert of the same rows again",
     "re-import vs an upsert of the same rows", 1.0),
    ("roster_fresh", "before_fresh", "SQLite fresh / the earlier roster build (--before), fresh",
     "this build vs the earlier one, same file and database", None),
    ("roster_again", "before_again", "SQLite re-import / the earlier roster build (--before), re-import",
     "this build vs the earlier one, same file and database", None),
    ("pg_roster_fresh", "pg_copy_upsert_indexed_fresh", "PostgreSQL fresh / psql \\copy + upsert, with the search index",
     "fresh vs fresh, both maintaining the same search index", None),
    ("pg_roster_again", "pg_copy_upsert_indexed_again", "PostgreSQL re-import / psql \\copy + upsert again, with the search index",
     "re-import vs an upsert of the same rows, same search index", None),
]


def load(path):
    rows = []
    try:
        f = open(path)
    except OSError:
        return rows
    with f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 6:
                continue
            rows.append({"name": p[0], "round": int(p[1]), "rows": int(p[2]),
                         "wall": None if p[3] == "FAIL" else float(p[3]),
                         "rss": int(p[4]) if p[4] else None, "exit": int(p[5])})
    return rows


def load_counts(path):
    out = {}
    try:
        for line in open(path):
            p = line.rstrip("\n").split("\t")
            if len(p) == 3:
                out[(p[0], int(p[1]))] = p[2]
    except OSError:
        pass
    return out


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
            f"Linux {m.get('kernel')}; sqlite3 {m.get('sqlite3')}")


COUNTS = ("rows", "created", "updated", "unchanged", "rejected", "repeated")


def check_report(run, name, rnd, expected, again):
    """Compare roster's --json report with every count gen.py expects."""
    rep = jload(os.path.join(run, "m", f"{name}.{rnd}.out"))
    if rep is None:
        return f"{name} round {rnd}: no JSON report on stdout (crash?)", False
    want = {k: expected.get(k) for k in COUNTS}
    if again:
        want.update(expected.get("again", {}))
    want = {k: v for k, v in want.items() if v is not None}
    got = {k: rep.get(k) for k in want}
    bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    counts = ", ".join(f"{k} {rep.get(k):,}" for k in COUNTS if isinstance(rep.get(k), int))
    if bad:
        diff = "; ".join(f"{k} {g} but expected {w}" for k, (g, w) in bad.items())
        return f"**{name} round {rnd}: UNEXPECTED — {diff}** ({counts})", False
    return f"{name} round {rnd}: {counts} — as expected", True


def expected_rows(name, exp, exp_head):
    """The rows a contender's database must hold afterwards."""
    if name.startswith(("roster", "pg_roster", "before")):
        return (exp_head if name.endswith("_head") else exp).get("created")
    if name.startswith("pg_copy"):
        return exp.get("pg_baseline_rows")
    if name == "sqlite_utils_head":
        return exp_head.get("distinct_emails")
    return exp.get("distinct_emails")


def shape_section(run, shape, w):
    """Writes one shape's tables and checks; returns (medians, problems, peaks)."""
    res = load(os.path.join(run, "results.tsv"))
    cnt = load_counts(os.path.join(run, "counts.tsv"))
    exp = jload(os.path.join(run, "expected.json"), {})
    exp_head = jload(os.path.join(run, "expected-head.json"), {})
    total = exp.get("rows", 0)
    w(f"\n## Shape `{shape}`\n")
    w(f"- File: {n(total)} rows; {n(exp.get('rejected', 0))} invalid, {n(exp.get('repeated', 0))} repeated, "
      f"{n(exp.get('created', 0))} distinct valid emails (seed {exp.get('seed')})")
    try:
        orders = [line.split() for line in open(os.path.join(run, "order"))]
        w("- Order of the contenders per round: " +
          "; ".join(f"{o[0]}: {' '.join(o[1:])}" for o in orders))
    except OSError:
        pass
    w("")
    by = {}
    for r in res:
        by.setdefault(r["name"], []).append(r)
    med, peaks = {}, {}
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
        peaks[key] = rss
        w(f"| {label} | {n(rows)} | {md:.2f} | {n(rows / md)} | {mib(rss)} | {each} |")

    w("\nRatios: roster's median time ÷ the baseline's (above 1× roster is slower).\n")
    w("| comparison | what is compared | ratio | target |")
    w("|---|---|---:|---|")
    for a, b, label, kind, target in RATIOS:
        if a in med and b in med:
            r = med[a][0] / med[b][0]
            t = "" if target is None else f"≤ {target}× — {'met' if r <= target else '**missed**'}"
            w(f"| {label} | {kind} | {r:.2f}× | {t} |")
    if "roster_fresh_head" in med and "sqlite_utils_head" in med:
        x = med["sqlite_utils_head"][0] / med["roster_fresh_head"][0]
        w(f"| sqlite-utils upsert / roster, same head of the file | fresh vs fresh, same rows | "
          f"roster {x:.1f}× faster | ≥ 20× — {'met' if x >= 20 else '**missed**'} |")
    for key in ("roster_fresh", "roster_again", "pg_roster_fresh", "pg_roster_again"):
        if key in peaks:
            w(f"| peak RSS, {NAMES[key]} | | {mib(peaks[key])} | ≤ 64 MB — "
              f"{'met' if peaks[key] * 1024 <= 64e6 else '**missed**'} |")

    w("\nChecks:\n")
    problems = 0
    if not res:
        problems += 1
        w("- **nothing was measured**")
    for r in res:
        if r["wall"] is None:
            problems += 1
            w(f"- **{r['name']} round {r['round']}: FAILED with exit {r['exit']}** "
              f"(see m/{r['name']}.{r['round']}.err)")
    for key in ("roster_fresh", "roster_again", "roster_fresh_head", "pg_roster_fresh", "pg_roster_again",
                "before_fresh", "before_again"):
        e = exp_head if key == "roster_fresh_head" else exp
        for r in by.get(key, []):
            if r["wall"] is None:
                continue
            want_exit = 1 if e.get("rejected") else 0
            line, ok = check_report(run, key, r["round"], e, again="again" in key)
            if r["exit"] != want_exit:
                line += f"; **exit {r['exit']}, expected {want_exit}**"
                ok = False
            problems += not ok
            w(f"- {line}")
    bad_counts = []
    checked = 0
    for (name, rnd), got in sorted(cnt.items()):
        want = expected_rows(name, exp, exp_head)
        checked += 1
        if want is None or got != str(want):
            bad_counts.append(f"{name} round {rnd}: {got} rows but expected {want}")
    if bad_counts:
        problems += len(bad_counts)
        for b in bad_counts:
            w(f"- **database rows: {b}**")
    else:
        w(f"- database rows after each of the {checked} contender runs: as expected "
          f"(roster {n(exp.get('created', 0))}; sqlite3 {n(exp.get('distinct_emails', 0))}; "
          f"psql {n(exp.get('pg_baseline_rows', 0))}; sqlite-utils and roster on the head "
          f"{n(exp_head.get('distinct_emails', 0))} and {n(exp_head.get('created', 0))})")
    for f in sorted(glob.glob(os.path.join(run, "m", "sqlite3_import_pk*.err"))):
        with open(f, errors="replace") as fh:
            dup = sum("UNIQUE constraint failed" in line for line in fh)
        w(f"- {os.path.basename(f)[:-4]}: sqlite3 printed {n(dup)} 'INSERT failed: UNIQUE constraint "
          f"failed' lines (the repeated emails), kept the first row of each and exited 0")
    return med, problems, peaks


def main_report(top):
    m = jload(os.path.join(top, "machine.json"), {})
    meta = env(os.path.join(top, "meta.env"))
    try:
        shapes = [s.strip() for s in open(os.path.join(top, "shapes")) if s.strip()]
    except OSError:
        shapes = []
    out = []
    w = out.append
    w("# Roster import benchmark\n")
    w(f"- Date: {m.get('date')}; command: `{meta.get('command')}`; roster source {meta.get('roster_rev')}")
    w(f"- Machine: {machine_line(m)}; load average at the start {' '.join(m.get('loadavg', []))}, "
      f"at the end {meta.get('loadavg_end', '?')}; sqlite-utils {meta.get('sqlite_utils')}; "
      f"PostgreSQL: {meta.get('pg_url', 'skipped')}" +
      (f"; earlier build (--before): {meta['before']}" if meta.get("before") else ""))
    w("- Times are wall-clock seconds of the whole command (process start to exit), medians over "
      "the rounds; every round runs every contender, in a new order; peak RSS is the largest "
      "over the rounds. After every contender the rows in its database are counted.")
    summary = {}
    problems = 0
    body = []
    for shape in shapes:
        med, p, peaks = shape_section(os.path.join(top, shape), shape, body.append)
        summary[shape] = (med, peaks)
        problems += p
    if shapes:
        w("\n## Summary: ratios per shape (roster ÷ baseline; above 1× roster is slower)\n")
        w("| comparison | target | " + " | ".join(shapes) + " |")
        w("|---|---|" + "---:|" * len(shapes))
        for a, b, label, kind, target in RATIOS:
            cells = []
            for s in shapes:
                med = summary[s][0]
                cells.append(f"{med[a][0] / med[b][0]:.2f}×" if a in med and b in med else "–")
            w(f"| {label} ({kind}) | {'' if target is None else f'≤ {target}×'} | " + " | ".join(cells) + " |")
        cells = []
        for s in shapes:
            med = summary[s][0]
            cells.append(f"{med['sqlite_utils_head'][0] / med['roster_fresh_head'][0]:.1f}× faster"
                         if "sqlite_utils_head" in med and "roster_fresh_head" in med else "–")
        w("| roster vs sqlite-utils upsert, same rows | ≥ 20× faster | " + " | ".join(cells) + " |")
        # This build's runs only: not the --before build, not the baselines.
        mine = ("roster_fresh", "roster_again", "roster_fresh_head", "pg_roster_fresh", "pg_roster_again")
        cells = [mib(max(v for k, v in summary[s][1].items() if k in mine))
                 if any(k in mine for k in summary[s][1]) else "–" for s in shapes]
        w("| largest peak RSS of any roster run | ≤ 64 MB | " + " | ".join(cells) + " |")
    out.extend(body)
    w(f"\n{'No problems found.' if problems == 0 else f'**{problems} problem(s) above.**'}")
    return "\n".join(out) + "\n"


def memory_report(run):
    res = load(os.path.join(run, "results.tsv"))
    m = jload(os.path.join(run, "machine.json"), {})
    out = ["# Roster import: peak memory against file size\n",
           f"- Date: {m.get('date')}; command: `bash bench/run.sh --memory`",
           f"- Machine: {machine_line(m)}; load average at the start {' '.join(m.get('loadavg', []))}\n",
           "| shape | rows | wall s | rows/s | peak RSS | check |", "|---|---:|---:|---:|---:|---|"]
    peaks = {}
    for r in res:
        rows = r["rows"]
        shape = r["name"][len("roster_fresh_"):].rsplit("_", 1)[0]
        if r["wall"] is None:
            out.append(f"| {shape} | {n(rows)} | FAILED (exit {r['exit']}) | | | |")
            continue
        exp = jload(os.path.join(run, f"expected-{shape}-{rows}.json"), {})
        line, ok = check_report(run, r["name"], r["round"], exp, again=False)
        peaks[(shape, rows)] = r["rss"]
        out.append(f"| {shape} | {n(rows)} | {r['wall']:.2f} | {n(rows / r['wall'])} | {mib(r['rss'])} | "
                   f"{'as expected' if ok else line} |")
    for shape in sorted({s for s, _ in peaks}):
        if (shape, 1000000) in peaks and (shape, 5000000) in peaks:
            out.append(f"\n{shape}: peak RSS at 5M ÷ at 1M = **{peaks[(shape, 5000000)] / peaks[(shape, 1000000)]:.2f}×** "
                       "(1.00× means memory does not grow with the file).")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("main", "memory"):
        sys.exit("usage: report.py main|memory RUN_DIR")
    sys.stdout.write(main_report(sys.argv[2]) if sys.argv[1] == "main" else memory_report(sys.argv[2]))
