#!/usr/bin/env bash
# Roster HTTP API benchmark at 1M contacts, on SQLite and PostgreSQL: the
# import's time with the search index and without it, then latency and
# requests/s of search, a page by cursor and PATCH under 16 concurrent
# clients (wrk), and the server's peak RSS. See bench/README.md.
#
#   bash bench/api.sh [--rows 1000000] [--postgres URL] [--duration 15] [--no-build]
#
# Needs wrk (apt-get install wrk). The report goes to stdout and
# bench/out/api.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out
ROWS=1000000
SEED=42
PG_URL=${ROSTER_BENCH_POSTGRES_URL:-}
DURATION=15
BUILD=1
CONNS=16

log() { printf '[api-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[api-bench] error: %s\n' "$*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?}; shift 2 ;;
        --postgres) PG_URL=${2:?}; shift 2 ;;
        --duration) DURATION=${2:?}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1'" ;;
    esac
done
for tool in wrk python3 curl /usr/bin/time; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed (apt-get install $tool)"
done
mkdir -p "$OUT"
if [ "$BUILD" = 1 ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release -p roster) >"$OUT/api-build.log" 2>&1 || { tail -20 "$OUT/api-build.log" >&2; die "build failed"; }
fi
ROSTER=$OUT/roster-api
cp "$ROOT/target/release/roster" "$ROSTER"
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)

FILE=$OUT/contacts-$ROWS-s$SEED.csv
if [ -s "$FILE" ] && [ "$FILE" -nt "$HERE/gen.py" ]; then
    log "reusing $FILE"
else
    python3 "$HERE/gen.py" --rows "$ROWS" --seed "$SEED" --out "$FILE"
fi

setup() { # setup URL: init, catalog the file uses, an admin and a token
    local db=$1 name
    "$ROSTER" --database "$db" init 2>/dev/null
    while IFS= read -r name; do
        "$ROSTER" --database "$db" labels add "$name" >/dev/null
    done < <(python3 "$HERE/gen.py" --print-labels)
    for name in $(seq 1 50); do "$ROSTER" --database "$db" companies add "Company $name" >/dev/null; done
    "$ROSTER" --database "$db" fields add plan --type select --options Free,Pro,Enterprise >/dev/null
    "$ROSTER" --database "$db" fields add seats --type number >/dev/null
}

import_secs() { # import_secs URL -> "wall s (CPU s)" on stdout
    # The CPU time (user + system, roster's process only) is the steadier
    # figure on a shared machine, where the wall time counts the waits for
    # a core too. (PostgreSQL's own work is in neither for that backend.)
    /usr/bin/time -f '%e %U %S' -o "$OUT/api-import.time" \
        "$ROSTER" --database "$1" import contacts "$FILE" --json >/dev/null || [ $? = 1 ]
    python3 -c "import sys; e, u, s = map(float, open(sys.argv[1]).read().split()[-3:]); print(f'{e:.1f} ({u + s:.1f} CPU)')" "$OUT/api-import.time"
}

# The search index off: SQLite with the FTS5 table and its triggers
# replaced by a view that drops what is written to it (the import still
# runs its one indexing statement per batch, into nothing); PostgreSQL with
# the index's name taken by a no-op index, so roster does not create it.
without_index() { # without_index BACKEND URL
    if [ "$1" = sqlite ]; then
        sqlite3 "${2#sqlite://}" "DROP TRIGGER contacts_search_insert; DROP TRIGGER contacts_search_update; DROP TRIGGER contacts_search_delete;
            DROP TABLE contacts_search;
            CREATE VIEW contacts_search AS SELECT 0 AS rowid, '' AS email, '' AS first_name, '' AS last_name WHERE 0;
            CREATE TRIGGER contacts_search_none INSTEAD OF INSERT ON contacts_search BEGIN SELECT 1; END;"
    else
        psql -q "$PG_BASE" -c "DROP INDEX \"$PG_SCHEMA\".contacts_search; CREATE TABLE \"$PG_SCHEMA\".bench_no_search (x int); CREATE INDEX contacts_search ON \"$PG_SCHEMA\".bench_no_search (x);"
    fi
}

# Lua for wrk: rotate requests from a list; print percentiles at the end.
cat >"$OUT/api-wrk.lua" <<'LUA'
local reqs = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    local m, p, b = line:match("^(%u+) (%S+) ?(.*)$")
    reqs[#reqs + 1] = {m, p, b}
  end
end
request = function()
  i = i % #reqs + 1
  local r = reqs[i]
  local body = nil
  if r[3] ~= "" then body = r[3] end
  return wrk.format(r[1], r[2], nil, body)
end
done = function(summary, latency, requests)
  local errs = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f rps=%.0f requests=%d errors=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests, errs))
end
LUA

# Request lists: search terms seen in the data, cursors at random emails,
# PATCHes of random contacts.
python3 - "$FILE" "$OUT" "$ROWS" <<'PY'
import csv, random, sys, urllib.parse
path, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
rnd = random.Random(7)
emails = []
names = []
with open(path, newline='', encoding='utf-8') as f:
    r = csv.reader(f); next(r)
    for i, row in enumerate(r):
        if i % 997 == 0 and '@' in row[0]:
            emails.append(row[0].strip().lower())
            names.append(row[1] + ' ' + row[2])
terms = set()
for n in names + emails:
    n = n.lower()
    for _ in range(3):
        if len(n) >= 5:
            k = rnd.randrange(0, len(n) - 4)
            t = n[k:k + rnd.choice([3, 4, 5])].strip()
            if len(t) >= 3 and ',' not in t:
                terms.add(t)
terms = sorted(terms)
rnd.shuffle(terms)
with open(f"{out}/api-search.txt", "w") as f:
    for t in terms[:2000]:
        f.write(f"GET /api/contacts?limit=50&q={urllib.parse.quote(t)}\n")
with open(f"{out}/api-page.txt", "w") as f:
    for e in emails[:2000]:
        f.write(f"GET /api/contacts?limit=50&cursor={e.encode().hex()}\n")
with open(f"{out}/api-patch.txt", "w") as f:
    for _ in range(2000):
        f.write(f'PATCH /api/contacts/{rnd.randrange(1, int(rows * 0.9))} {{"first_name":"Bench{rnd.randrange(1000)}"}}\n')
PY

load() { # load NAME BASE TOKEN FILE
    local res
    res=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$OUT/api-wrk.lua" \
        -H "Authorization: Bearer $3" -H "Content-Type: application/json" "$2" -- "$4" | grep '^RESULT' || true)
    log "$1: $res (load average $(cut -d" " -f1-3 /proc/loadavg))"
    echo "$res"
}

REPORT=$OUT/api.md
{
    echo "# API at $ROWS contacts ($(date -u +%Y-%m-%d), $(date -u +%H:%M) UTC, roster $REV, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), wrk $CONNS connections, ${DURATION}s each)"
    echo
    echo "| backend | import with index (s) | import without (s) | search p50/p95/p99 ms | search req/s | page p50/p95/p99 ms | page req/s | PATCH p50/p95/p99 ms | PATCH req/s | errors | server peak RSS |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$REPORT"

fmt() { # fmt RESULT -> "p50/p95/p99 | rps"
    python3 -c "
import sys; d = dict(kv.split('=') for kv in sys.argv[1].split()[1:]) if sys.argv[1] else {}
print(f\"{d.get('p50_ms','?')}/{d.get('p95_ms','?')}/{d.get('p99_ms','?')} | {d.get('rps','?')}\")" "$1"
}
errs() { python3 -c "import sys; print(sum(int(kv.split('=')[1]) for r in sys.argv[1:] for kv in r.split()[1:] if kv.startswith('errors=')))" "$@"; }

run_backend() { # run_backend BACKEND URL_WITH URL_WITHOUT
    local backend=$1 with=$2 without=$3 t_with t_without pid base token s p q rss
    log "$backend: import with the search index"
    setup "$with"; t_with=$(import_secs "$with")
    log "$backend: $t_with s"
    log "$backend: import without the search index"
    setup "$without"; without_index "$backend" "$without"; t_without=$(import_secs "$without")
    log "$backend: $t_without s"
    log "load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo 'bench password' | "$ROSTER" --database "$with" users create-admin bench@example.com >/dev/null
    token=$("$ROSTER" --database "$with" tokens create --user bench@example.com)
    "$ROSTER" --database "$with" serve --listen 127.0.0.1:0 --data-dir "$OUT/api-data" --db-connections 4 \
        >"$OUT/api-serve.out" 2>"$OUT/api-serve.log" &
    pid=$!
    for _ in $(seq 1 100); do grep -q listening "$OUT/api-serve.out" 2>/dev/null && break; sleep 0.2; done
    base=$(sed -n 's/^roster listening on //p' "$OUT/api-serve.out")
    [ -n "$base" ] || { kill "$pid"; die "the server did not start: $(tail -3 "$OUT/api-serve.log")"; }
    curl -sf -H "Authorization: Bearer $token" "$base/api/contacts?limit=1&q=warm" >/dev/null
    s=$(load "$backend search" "$base" "$token" "$OUT/api-search.txt")
    p=$(load "$backend page" "$base" "$token" "$OUT/api-page.txt")
    q=$(load "$backend patch" "$base" "$token" "$OUT/api-patch.txt")
    rss=$(awk '/VmHWM/ {printf "%.0f MB", $2/1024}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    echo "| $backend | $t_with | $t_without | $(fmt "$s") | $(fmt "$p") | $(fmt "$q") | $(errs "$s" "$p" "$q") | $rss |" >>"$REPORT"
}

rm -f "$OUT"/api-*.db*
run_backend sqlite "sqlite://$OUT/api-with.db" "sqlite://$OUT/api-without.db"
if [ -n "$PG_URL" ]; then
    PG_BASE=$PG_URL
    PG_SCHEMA=bench_api_without
    psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS bench_api_with CASCADE; DROP SCHEMA IF EXISTS bench_api_without CASCADE;"
    sep='?'; case "$PG_URL" in *\?*) sep='&' ;; esac
    run_backend postgres "$PG_URL${sep}schema=bench_api_with" "$PG_URL${sep}schema=bench_api_without"
fi
cat "$REPORT"
