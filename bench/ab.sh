#!/usr/bin/env bash
# Two roster builds on one file, rounds alternating which goes first: the
# before/after of one change, on SQLite or PostgreSQL.
#
#   bash bench/ab.sh OLD_BINARY NEW_BINARY [--shape realistic] [--rows 100000]
#                    [--rounds 3] [--postgres URL]
#
# Each round, for each build: a new database (SQLite file under bench/out/ab,
# or the PostgreSQL database's public schema dropped and made again — give
# it a database of its own), `init`, the shape's labels, 50 companies and
# its fields (untimed), then `import contacts FILE --json` twice (fresh,
# then the same file again), each under GNU time. Prints each run and the
# medians with NEW ÷ OLD. Needs python3, GNU time (/usr/bin/time); psql
# for PostgreSQL.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OLD=${1:?usage: bench/ab.sh OLD_BINARY NEW_BINARY [--shape S] [--rows N] [--rounds R] [--postgres URL]}
NEW=${2:?usage: bench/ab.sh OLD_BINARY NEW_BINARY [--shape S] [--rows N] [--rounds R] [--postgres URL]}
shift 2
SHAPE=realistic ROWS=100000 ROUNDS=3 PG=
while [ $# -gt 0 ]; do
    case $1 in
    --shape) SHAPE=$2; shift 2 ;;
    --rows) ROWS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --postgres) PG=$2; shift 2 ;;
    *) echo "bench/ab.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
OUT=$HERE/out/ab
mkdir -p "$OUT"
FILE=$HERE/out/contacts-$SHAPE-$ROWS-s42.csv
[ -f "$FILE" ] || python3 "$HERE/gen.py" --shape "$SHAPE" --rows "$ROWS" --seed 42 --out "$FILE" >&2
cat "$FILE" >/dev/null

setup() { # setup BINARY DATABASE_URL
    local b=$1 db=$2 name type options
    if [ -n "$PG" ]; then
        psql -q "$PG" -c 'DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;' >/dev/null 2>&1
    else
        rm -f "$OUT"/ab.db*
    fi
    "$b" --database "$db" init >/dev/null 2>&1
    while IFS= read -r name; do
        "$b" --database "$db" labels add "$name" >/dev/null
    done < <(python3 "$HERE/gen.py" --shape "$SHAPE" --print-labels)
    for name in $(seq 1 50); do "$b" --database "$db" companies add "Company $name" >/dev/null; done
    while IFS=$'\t' read -r name type options; do
        if [ -n "$options" ]; then
            "$b" --database "$db" fields add "$name" --type "$type" --options "$options" >/dev/null
        else
            "$b" --database "$db" fields add "$name" --type "$type" >/dev/null
        fi
    done < <(python3 "$HERE/gen.py" --shape "$SHAPE" --print setup | python3 -c '
import json, sys
for f in json.load(sys.stdin)["fields"]:
    print(f["name"], f["type"], ",".join(f.get("options", [])), sep="\t")')
}

DB=${PG:-sqlite://$OUT/ab.db}
: >"$OUT/runs.tsv"
echo "ab: $SHAPE, $ROWS rows, $ROUNDS rounds, $([ -n "$PG" ] && echo PostgreSQL || echo SQLite); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="old new"; else order="new old"; fi
    for which in $order; do
        if [ "$which" = old ]; then b=$OLD; else b=$NEW; fi
        setup "$b" "$DB"
        for pass in fresh again; do
            /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$b" --database "$DB" import contacts "$FILE" --json >"$OUT/$which.$pass.json" 2>"$OUT/err" || true
            # (GNU time writes "Command exited with non-zero status 1" first
            # when rows were rejected.)
            read -r wall user sys rss < <(tail -n 1 "$OUT/time")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$which" "$pass" "$wall" "$user" "$sys" "$rss" >>"$OUT/runs.tsv"
            echo "round $round $which $pass: ${wall}s wall, $(python3 -c "print(round($user + $sys, 2))") CPU s, $((rss / 1024)) MiB" >&2
        done
    done
done
python3 - "$OUT/runs.tsv" <<'PY'
import statistics, sys
runs = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print("| pass | old wall s (median) | new wall s (median) | new ÷ old | old CPU s | new CPU s |")
print("|---|---:|---:|---:|---:|---:|")
for p in ("fresh", "again"):
    med = {}
    for w in ("old", "new"):
        rs = [r for r in runs if r[1] == w and r[2] == p]
        med[w] = (statistics.median(float(r[3]) for r in rs),
                  statistics.median(float(r[4]) + float(r[5]) for r in rs))
    print(f"| {p} | {med['old'][0]:.2f} | {med['new'][0]:.2f} | {med['new'][0] / med['old'][0]:.2f}× "
          f"| {med['old'][1]:.2f} | {med['new'][1]:.2f} |")
PY
