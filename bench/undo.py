#!/usr/bin/env python3
"""What the undo journal costs, and what undo takes, at 1,000,000 rows.

    python3 bench/undo.py [--rows 1000000] [--runs 3] [--postgres URL] [--no-build]

For each backend, in one run and on the same two files:
- file A (bench/gen.py --shape random, seed 42) imported into a fresh database: every valid
  row creates a contact; then file B (the same rows, every first name
  changed): every valid row updates one.
- both imports once with the journal (the default) and once without it
  (`ROSTER_BENCH_NO_JOURNAL=1`, a benchmark-only switch: no
  `created_import` mark, no journal rows — an import made so cannot be
  undone); the ratio is the journal's cost.
- the database's size after each import, and the journal's own bytes
  (SQLite: `dbstat` of `import_changes`; PostgreSQL:
  `pg_total_relation_size('import_changes')`).
- with the journal: `roster imports undo` of B (1M restores), then of A (1M
  deletes), each timed, and the export compared with the one before.

Everything runs under `nice -n 10`; the load average is printed before and
after (the machine is shared). Output: a markdown table on stdout and in
bench/out/undo.md; the work folder is bench/out/undo/.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
WORK = OUT / "undo"


def log(msg):
    print(f"[undo-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(cmd, env=None, ok=(0,), capture=False):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(["nice", "-n", "10", *cmd], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode not in ok:
        sys.exit(f"{' '.join(map(str, cmd))} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
    return p.stdout.decode() if capture else None


def timed(cmd, env=None, ok=(0,)):
    t = time.monotonic()
    run(cmd, env, ok)
    return time.monotonic() - t


class Sqlite:
    name = "SQLite"

    def __init__(self, label):
        self.path = WORK / f"{label}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.url = f"sqlite://{self.path}"

    def size(self):
        subprocess.run(["sqlite3", str(self.path), "PRAGMA wal_checkpoint(TRUNCATE);"], check=True,
                       stdout=subprocess.DEVNULL)
        return self.path.stat().st_size

    def journal_bytes(self):
        out = subprocess.run(
            ["sqlite3", str(self.path),
             "SELECT COALESCE(sum(pgsize), 0) FROM dbstat WHERE name IN ('import_changes')"],
            check=True, stdout=subprocess.PIPE).stdout.decode().strip()
        return int(out or 0)


class Postgres:
    name = "PostgreSQL"

    def __init__(self, label, base):
        self.base = base
        self.schema = f"undo_bench_{label}"
        self.psql(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        sep = "&" if "?" in base else "?"
        self.url = f"{base}{sep}schema={self.schema}"

    def psql(self, sql):
        return subprocess.run(["psql", "-qAt", self.base, "-c", sql], check=True,
                              stdout=subprocess.PIPE).stdout.decode().strip()

    def size(self):
        return int(self.psql(
            f"SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = '{self.schema}' AND c.relkind IN ('r', 'm')") or 0)

    def journal_bytes(self):
        return int(self.psql(f"SELECT pg_total_relation_size('\"{self.schema}\".import_changes')") or 0)


def setup(roster, url):
    run([roster, "--database", url, "init"])
    import json
    spec = json.loads(subprocess.run([sys.executable, str(HERE / "gen.py"), "--shape", "random", "--print", "setup"],
                                     check=True, stdout=subprocess.PIPE).stdout)
    for name in spec["labels"]:
        run([roster, "--database", url, "labels", "add", name], capture=True)
    for i in range(1, 51):
        run([roster, "--database", url, "companies", "add", f"Company {i}"], capture=True)
    for f in spec["fields"]:
        extra = ["--options", ",".join(f["options"])] if f.get("options") else []
        run([roster, "--database", url, "fields", "add", f["name"], "--type", f["type"], *extra], capture=True)


def export_digest(roster, url):
    out = run([roster, "--database", url, "export", "contacts"], capture=True)
    return hashlib.sha256(out.encode()).hexdigest(), out.count("\n") - 1


def mib(n):
    return f"{n / 1048576:.1f} MiB"


def one(db_cls, roster, a, b, rows, mode, extra, undo):
    db = db_cls(f"journal_{mode}", *extra)
    setup(roster, db.url)
    env = {"ROSTER_BENCH_NO_JOURNAL": "1"} if mode == "off" else {}
    size0 = db.size()
    log(f"{db.name}, journal {mode}: import A ({rows} rows, creates)")
    t_create = timed([roster, "--database", db.url, "import", "contacts", str(a), "--json"], env, ok=(0, 1))
    size_a = db.size()
    before_b = export_digest(roster, db.url) if undo else None
    log(f"{db.name}, journal {mode}: import B ({rows} rows, updates)")
    t_update = timed([roster, "--database", db.url, "import", "contacts", str(b), "--json"], env, ok=(0, 1))
    size_b = db.size()
    r = {"create": t_create, "update": t_update, "size0": size0, "size_a": size_a, "size_b": size_b,
         "journal": db.journal_bytes()}
    if undo:
        log(f"{db.name}: undo B (restores)")
        r["undo_update"] = timed([roster, "--database", db.url, "imports", "undo", "2"])
        r["undo_update_ok"] = export_digest(roster, db.url) == before_b
        log(f"{db.name}: undo A (deletes)")
        r["undo_create"] = timed([roster, "--database", db.url, "imports", "undo", "1"])
        r["undo_create_ok"] = export_digest(roster, db.url)[1] == 0
    log(f"{db.name}, journal {mode}: {r}")
    return r


def bench(db_cls, roster, a, b, rows, runs, extra=()):
    """Rounds alternate which mode goes first, so a load that drifts during
    the run weighs on both; times are the median of the rounds."""
    import statistics
    got = {"off": [], "on": []}
    for i in range(runs):
        for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):
            got[mode].append(one(db_cls, roster, a, b, rows, mode, extra, undo=(mode == "on" and i == runs - 1)))
    result = {}
    for mode, rs in got.items():
        r = dict(rs[-1])
        for k in ("create", "update"):
            r[k] = statistics.median(x[k] for x in rs)
            r[k + "_all"] = [x[k] for x in rs]
        if mode == "on":
            r.update({k: v for x in rs for k, v in x.items() if k.startswith("undo")})
        result[mode] = r
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--postgres", default=os.environ.get("ROSTER_BENCH_POSTGRES_URL"))
    ap.add_argument("--runs", type=int, default=3, help="rounds of both modes (default 3)")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if not args.no_build:
        log("cargo build --release")
        subprocess.run(["nice", "-n", "10", "cargo", "build", "--release"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    roster = WORK / "roster"
    shutil.copy(ROOT / "target" / "release" / "roster", roster)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE).stdout.decode().strip()
    a = WORK / f"a-{args.rows}.csv"
    b = WORK / f"b-{args.rows}.csv"
    if not a.exists():
        log(f"generating {args.rows} rows")
        subprocess.run([sys.executable, str(HERE / "gen.py"), "--shape", "random", "--rows", str(args.rows),
                        "--seed", str(args.seed),
                        "--out", str(a)], check=True, stdout=subprocess.DEVNULL)
    if not b.exists():
        # The same rows, every first name changed: each valid row updates.
        with open(a, newline="", encoding="utf-8") as src, open(b, "w", newline="", encoding="utf-8") as dst:
            import csv
            r = csv.reader(src)
            w = csv.writer(dst, lineterminator="\n")
            header = next(r)
            w.writerow(header)
            at = header.index("first_name")
            for i, row in enumerate(r):
                if len(row) == len(header):
                    row[at] = f"Renamed {i}"
                w.writerow(row)
    load_before = load()
    results = [("SQLite", bench(Sqlite, roster, a, b, args.rows, args.runs))]
    if args.postgres:
        results.append(("PostgreSQL", bench(Postgres, roster, a, b, args.rows, args.runs, (args.postgres,))))
    else:
        log("PostgreSQL skipped: no --postgres URL (or ROSTER_BENCH_POSTGRES_URL)")
    load_after = load()
    lines = [
        f"## Import history and undo at {args.rows:,} rows (`python3 bench/undo.py --rows {args.rows} --runs {args.runs}"
        + (" --postgres URL" if args.postgres else "") + "`)",
        "",
        f"roster {rev}, release build, `nice -n 10`; load average {load_before} before, {load_after} after "
        f"(2 cores shared with other builds). {args.runs} rounds, alternating which mode goes first; median.",
        "",
        "| backend | import | without journal | with journal | journal's cost |",
        "|---|---|---|---|---|",
    ]
    for name, r in results:
        for what, key in (("A: creates", "create"), ("B: updates", "update")):
            off, on = r["off"][key], r["on"][key]
            each = lambda m: " ".join(f"{x:.1f}" for x in r[m][key + "_all"])
            lines.append(f"| {name} | {what} | {off:.1f} s ({each('off')}) | {on:.1f} s ({each('on')}) "
                         f"| {100 * (on / off - 1):+.1f} % |")
    lines += [
        "",
        "| backend | database after A (creates) | after B (updates) | journal of B's updates | undo of B (restores) | undo of A (deletes) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results:
        off, on = r["off"], r["on"]
        lines.append(
            f"| {name} | {mib(on['size_a'] - on['size0'])} vs {mib(off['size_a'] - off['size0'])} without "
            f"({mib(on['size_a'] - off['size_a'])} for the created marks) "
            f"| +{mib(on['size_b'] - on['size_a'])} vs +{mib(off['size_b'] - off['size_a'])} without "
            f"| {mib(on['journal'])} ({on['journal'] / max(1, args.rows):.0f} B/row) "
            f"| {on['undo_update']:.1f} s{'' if on['undo_update_ok'] else ' (EXPORT DIFFERS)'} "
            f"| {on['undo_create']:.1f} s{'' if on['undo_create_ok'] else ' (CONTACTS LEFT)'} |")
    text = "\n".join(lines) + "\n"
    (OUT / "undo.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
