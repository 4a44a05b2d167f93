#!/usr/bin/env bash
# Roster import benchmark: `roster import contacts` against the databases' own
# bulk loaders, on one generated file. See bench/README.md.
#
#   bash bench/run.sh [--rows 1000000] [--runs 3] [--postgres URL] [--seed 42]
#                     [--utils-rows 100000] [--no-build]
#   bash bench/run.sh --memory        # peak RSS of roster at 1M and 5M rows
#
# Logs go to stderr; the markdown report goes to stdout and bench/out/latest.md
# (bench/out/memory.md for --memory). Everything it writes is under bench/out/.
# Network: only PyPI, once, to install sqlite-utils into bench/out/venv.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$HERE/out

ROWS=1000000
RUNS=3
SEED=42
UTILS_ROWS=100000
PG_URL=${ROSTER_BENCH_POSTGRES_URL:-}
MEMORY=0
BUILD=1

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?--rows needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        --utils-rows) UTILS_ROWS=${2:?--utils-rows needs a number}; shift 2 ;;
        --postgres) PG_URL=${2:?--postgres needs a URL}; shift 2 ;;
        --memory) MEMORY=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
for v in ROWS RUNS SEED UTILS_ROWS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || die "--$(tr 'A-Z_' 'a-z-' <<<"$v") must be a positive integer, not '${!v}'"
done

for tool in python3 sqlite3 cargo; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed; it is needed to run the benchmark"
done
mkdir -p "$OUT"
PY=python3
MEASURE=("$PY" "$HERE/peak_rss.py")

# ---------------------------------------------------------------- build
# Other engineers edit the tree while this runs, so a build can fail for a
# moment: retry a few times. The binary is then copied, so a rebuild by someone
# else halfway through the benchmark does not change what is measured.
ROSTER=$OUT/roster
build() {
    if [ "$BUILD" = 1 ]; then
        local try
        for try in 1 2 3 4 5 6 7 8 9 10; do
            log "cargo build --release (attempt $try)"
            if (cd "$ROOT" && cargo build --release) >"$OUT/build.log" 2>&1; then
                break
            fi
            if [ "$try" = 10 ]; then
                tail -30 "$OUT/build.log" >&2
                die "cargo build --release failed 10 times (log: $OUT/build.log)"
            fi
            log "build failed (someone may be mid-edit; $(grep -m1 '^error' "$OUT/build.log" || echo 'see build.log')); retrying in 30s"
            sleep 30
        done
    fi
    [ -x "$ROOT/target/release/roster" ] || die "no $ROOT/target/release/roster; run without --no-build"
    cp "$ROOT/target/release/roster" "$ROSTER.tmp" && mv "$ROSTER.tmp" "$ROSTER"
    ROSTER_REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(cd "$ROOT" && git status --porcelain --untracked-files=no -- src crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
        ROSTER_REV="$ROSTER_REV + uncommitted changes"
    fi
    log "roster binary: $ROSTER (source $ROSTER_REV)"
}

# ---------------------------------------------------------------- data
gen() { # gen ROWS -> sets FILE
    FILE=$OUT/contacts-$1-s$SEED.csv
    if [ -s "$FILE" ] && [ -s "$FILE.expected.json" ] && [ "$FILE" -nt "$HERE/gen.py" ]; then
        log "reusing $FILE"
    else
        "$PY" "$HERE/gen.py" --rows "$1" --seed "$SEED" --out "$FILE"
    fi
}

# Untimed: roster init + the labels, 50 companies and 2 fields the file uses.
setup_roster() { # setup_roster DATABASE_URL
    local db=$1 name
    "$ROSTER" --database "$db" init 2>/dev/null || return 1
    while IFS= read -r name; do
        "$ROSTER" --database "$db" labels add "$name" >/dev/null
    done < <("$PY" "$HERE/gen.py" --print-labels)
    for name in $(seq 1 50); do
        "$ROSTER" --database "$db" companies add "Company $name" >/dev/null
    done
    "$ROSTER" --database "$db" fields add plan --type select --options Free,Pro,Enterprise >/dev/null
    "$ROSTER" --database "$db" fields add seats --type number >/dev/null
}

# measure NAME ROUND ROWS OK_EXITS CMD... : time CMD, append to results.tsv.
# OK_EXITS is a |-separated list (roster exits 1 when some rows are rejected).
measure() {
    local name=$1 round=$2 rows=$3 ok=$4; shift 4
    local base=$RUN/m/$name.$round
    local rc=0
    "${MEASURE[@]}" --json "$base.json" --stdout "$base.out" --stderr "$base.err" -- "$@" || rc=$?
    if [[ "|$ok|" != *"|$rc|"* ]]; then
        log "FAILED: $name (round $round) exited $rc; last lines of $base.err:"
        tail -5 "$base.err" >&2 || true
        printf '%s\t%s\t%s\tFAIL\t\t%s\n' "$name" "$round" "$rows" "$rc" >>"$RUN/results.tsv"
        return 0
    fi
    "$PY" - "$base.json" "$name" "$round" "$rows" >>"$RUN/results.tsv" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print("\t".join([sys.argv[2], sys.argv[3], sys.argv[4], str(m["wall_s"]), str(m["peak_rss_kib"]), str(m["exit"])]))
EOF
    log "$(printf '%-20s round %s: %ss (exit %s)' "$name" "$round" "$(tail -1 "$RUN/results.tsv" | cut -f4)" "$rc")"
}

machine_json() {
    "$PY" - "$@" <<'EOF'
import json, os, subprocess, sys, datetime
cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
mem = "unknown"
try:
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"; break
except OSError:
    pass
def out(*c):
    try:
        return subprocess.run(c, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "not installed"
print(json.dumps({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "nproc": os.cpu_count(), "cpu": cpu, "memory": mem,
    "loadavg": open("/proc/loadavg").read().split()[:3],
    "kernel": os.uname().release,
    "sqlite3": out("sqlite3", "--version").split(" ")[0],
    "psql": out("psql", "--version"),
}))
EOF
}

# ---------------------------------------------------------------- --memory
if [ "$MEMORY" = 1 ]; then
    build
    RUN=$OUT/memory-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$RUN/m"
    : >"$RUN/results.tsv"
    machine_json >"$RUN/machine.json"
    for n in 1000000 5000000; do
        gen "$n"
        cp "$FILE.expected.json" "$RUN/expected-$n.json"
        rm -f "$RUN"/mem.db*
        setup_roster "sqlite://$RUN/mem.db" || die "roster init failed on sqlite://$RUN/mem.db"
        cat "$FILE" >/dev/null
        log "roster import contacts at $n rows (peak RSS)"
        measure "roster_fresh_$n" 1 "$n" "0|1" "$ROSTER" --database "sqlite://$RUN/mem.db" import contacts "$FILE" --json
        rm -f "$RUN"/mem.db*
    done
    "$PY" "$HERE/report.py" memory "$RUN" | tee "$OUT/memory.md"
    exit 0
fi

# ---------------------------------------------------------------- main run
build
gen "$ROWS"
RUN=$OUT/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN/m" "$RUN/db"
: >"$RUN/results.tsv"
cp "$FILE.expected.json" "$RUN/expected.json"
machine_json >"$RUN/machine.json"
# The head: gen.py is sequential, so --rows K gives exactly the first K rows
# of the big file (same seed), with its own expected counts.
HEAD_ROWS=$(( UTILS_ROWS < ROWS ? UTILS_ROWS : ROWS ))
BIG=$FILE
gen "$HEAD_ROWS"
HEAD=$FILE
FILE=$BIG
cmp -s -n "$(stat -c %s "$HEAD")" "$HEAD" "$FILE" || die "$HEAD is not the head of $FILE (gen.py changed?); delete $OUT/contacts-*.csv and rerun"
cp "$HEAD.expected.json" "$RUN/expected-head.json"
log "file: $FILE ($ROWS rows, $(du -h "$FILE" | cut -f1)); head for sqlite-utils: $HEAD_ROWS rows"

# sqlite-utils from PyPI into a venv under bench/out (the only network use).
SQLITE_UTILS=$OUT/venv/bin/sqlite-utils
if [ ! -x "$SQLITE_UTILS" ]; then
    log "installing sqlite-utils from PyPI into $OUT/venv"
    if ! { "$PY" -m venv "$OUT/venv" && "$OUT/venv/bin/pip" install -q sqlite-utils; } >"$OUT/venv.log" 2>&1; then
        log "WARNING: could not install sqlite-utils (see $OUT/venv.log); SKIPPING the sqlite-utils baseline"
        SQLITE_UTILS=
    fi
fi
[ -n "$SQLITE_UTILS" ] && log "sqlite-utils $("$SQLITE_UTILS" --version | awk '{print $NF}')"

# PostgreSQL only when asked for, and only if this roster build supports it.
PG=0
pg_url() { # pg_url SCHEMA: roster's URL with ?schema=
    case "$PG_URL" in *\?*) printf '%s&schema=%s' "$PG_URL" "$1" ;; *) printf '%s?schema=%s' "$PG_URL" "$1" ;; esac
}
psql_q() { PGOPTIONS='-c client_min_messages=warning' psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 "$@"; }
if [ -z "$PG_URL" ]; then
    log "=============================================================="
    log "SKIPPING PostgreSQL: no --postgres URL and ROSTER_BENCH_POSTGRES_URL unset"
    log "=============================================================="
elif ! command -v psql >/dev/null; then
    log "SKIPPING PostgreSQL: psql is not installed (apt-get install postgresql-client)"
elif ! psql_q -c 'select 1' >/dev/null 2>"$RUN/pg-check.err"; then
    log "SKIPPING PostgreSQL: cannot connect to $PG_URL: $(head -1 "$RUN/pg-check.err")"
else
    psql_q -c 'DROP SCHEMA IF EXISTS bench_probe CASCADE' >/dev/null 2>&1 || true
    if "$ROSTER" --database "$(pg_url bench_probe)" init >/dev/null 2>"$RUN/pg-probe.err"; then
        PG=1
        log "PostgreSQL: $PG_URL (roster schemas bench_rN, baseline schemas bench_flat_rN)"
    else
        log "=============================================================="
        log "SKIPPING PostgreSQL: this roster build cannot use it:"
        log "  $(head -1 "$RUN/pg-probe.err")"
        log "=============================================================="
    fi
    psql_q -c 'DROP SCHEMA IF EXISTS bench_probe CASCADE' >/dev/null 2>&1 || true
fi
echo "$PG" >"$RUN/pg"

# --- the contenders -------------------------------------------------------
# sqlite3 baselines. The issue asks for ".import into email TEXT PRIMARY KEY
# (fresh)". Checked with sqlite3 3.40: on a row whose key is already there,
# .import prints "FILE:LINE: INSERT failed: UNIQUE constraint failed:
# contacts.email" on stderr, skips that row, carries on and exits 0: the
# FIRST row of each email wins, where roster applies rows in order (the last
# wins) and validates every value. That is the raw-speed floor (no
# validation, no merge), reported as "sqlite3 .import (PK)".
# The fairer baseline, "sqlite3 .import + upsert", does what a careful admin
# would do with the CLI alone, in one sqlite3 session: .import into a TEMP
# staging table without constraints, then one INSERT ... SELECT in file order
# with ON CONFLICT(email) DO UPDATE, lowercasing emails and keeping a column's
# old value where the file's cell is empty (the same merge rule as roster).
# It still skips validation, labels as a set, companies and custom-field
# typing. Run again on the same database, it is the re-import baseline.
# sqlite3's defaults (rollback journal, synchronous=FULL, 2 MB page cache)
# cost it ~30% at 1M rows against roster's own pragmas, so the upsert
# baseline and a second .import (PK) use roster's: SQLITE_PRAGMAS below,
# copied from crates/store/src/sqlite.rs.
SQLITE_PRAGMAS='PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16000;'
SQLITE_SCHEMA='CREATE TABLE IF NOT EXISTS contacts(email TEXT PRIMARY KEY, first_name, last_name, company_id, labels, plan, seats);'
SQLITE_UPSERT="INSERT INTO contacts SELECT lower(trim(email)), nullif(first_name,''), nullif(last_name,''), nullif(company_id,''), nullif(labels,''), nullif(plan,''), nullif(seats,'') FROM staging WHERE true ORDER BY rowid
 ON CONFLICT(email) DO UPDATE SET first_name=coalesce(excluded.first_name,first_name), last_name=coalesce(excluded.last_name,last_name), company_id=coalesce(excluded.company_id,company_id), labels=coalesce(excluded.labels,labels), plan=coalesce(excluded.plan,plan), seats=coalesce(excluded.seats,seats);"

# PostgreSQL baseline: one psql session that \copy-s the file into a TEMP
# (unlogged, session-local) staging table, then upserts into a flat table:
# DISTINCT ON (email) keeps the file's last row per email (roster's rule for
# repeated rows, minus the per-column merge), rows without '@' or with a
# non-numeric seats are dropped (a token of validation so the casts succeed).
pg_baseline_sql() { # pg_baseline_sql SCHEMA FILE
    cat <<EOF
CREATE SCHEMA IF NOT EXISTS $1;
SET search_path = $1;
CREATE TABLE IF NOT EXISTS flat(email text PRIMARY KEY, first_name text, last_name text, company_id bigint, labels text, plan text, seats numeric);
CREATE TEMP TABLE staging(n bigserial, email text, first_name text, last_name text, company_id text, labels text, plan text, seats text);
\\copy staging(email,first_name,last_name,company_id,labels,plan,seats) FROM '$2' WITH (FORMAT csv, HEADER true)
INSERT INTO flat
SELECT DISTINCT ON (lower(trim(email))) lower(trim(email)), nullif(first_name,''), nullif(last_name,''),
       nullif(company_id,'')::bigint, nullif(labels,''), nullif(plan,''), nullif(seats,'')::numeric
FROM staging
WHERE email LIKE '%_@_%' AND (seats = '' OR seats ~ '^[+-]?[0-9]+(\.[0-9]+)?$')
ORDER BY lower(trim(email)), n DESC
ON CONFLICT (email) DO UPDATE SET
  first_name = coalesce(excluded.first_name, flat.first_name), last_name = coalesce(excluded.last_name, flat.last_name),
  company_id = coalesce(excluded.company_id, flat.company_id), labels = coalesce(excluded.labels, flat.labels),
  plan = coalesce(excluded.plan, flat.plan), seats = coalesce(excluded.seats, flat.seats);
EOF
}

log "warming the page cache with the file"
cat "$FILE" "$HEAD" >/dev/null

for round in $(seq 1 "$RUNS"); do
    log "---- round $round of $RUNS ----"
    D=$RUN/db
    rm -f "$D"/*

    # a. roster into a fresh SQLite database, then again into the same one.
    setup_roster "sqlite://$D/roster.db" || die "roster init failed on sqlite://$D/roster.db"
    measure roster_fresh "$round" "$ROWS" "0|1" "$ROSTER" --database "sqlite://$D/roster.db" import contacts "$FILE" --json
    measure roster_again "$round" "$ROWS" "0|1" "$ROSTER" --database "sqlite://$D/roster.db" import contacts "$FILE" --json
    rm -f "$D"/roster.db*

    # b. sqlite3 CLI.
    measure sqlite3_import_pk "$round" "$ROWS" 0 sqlite3 "$D/pk.db" "$SQLITE_SCHEMA" '.mode csv' ".import --skip 1 '$FILE' contacts"
    rm -f "$D"/pk.db*
    measure sqlite3_import_pk_tuned "$round" "$ROWS" 0 sqlite3 "$D/pk.db" "$SQLITE_PRAGMAS" "$SQLITE_SCHEMA" '.mode csv' ".import --skip 1 '$FILE' contacts"
    rm -f "$D"/pk.db*
    for pass in fresh again; do
        measure "sqlite3_upsert_$pass" "$round" "$ROWS" 0 sqlite3 "$D/upsert.db" "$SQLITE_PRAGMAS" "$SQLITE_SCHEMA" \
            'CREATE TEMP TABLE staging(email, first_name, last_name, company_id, labels, plan, seats);' \
            '.mode csv' ".import --skip 1 '$FILE' staging" "$SQLITE_UPSERT"
    done
    rm -f "$D"/upsert.db*

    # c. sqlite-utils upsert on the head of the file, and roster on the same head.
    if [ -n "$SQLITE_UTILS" ]; then
        measure sqlite_utils_head "$round" "$HEAD_ROWS" 0 "$SQLITE_UTILS" upsert "$D/utils.db" contacts "$HEAD" --csv --pk email
        rm -f "$D"/utils.db*
    fi
    setup_roster "sqlite://$D/head.db" || die "roster init failed"
    measure roster_fresh_head "$round" "$HEAD_ROWS" "0|1" "$ROSTER" --database "sqlite://$D/head.db" import contacts "$HEAD" --json
    rm -f "$D"/head.db*

    # d. PostgreSQL.
    if [ "$PG" = 1 ]; then
        s=bench_r$round
        psql_q -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null
        if setup_roster "$(pg_url "$s")"; then
            measure pg_roster_fresh "$round" "$ROWS" "0|1" "$ROSTER" --database "$(pg_url "$s")" import contacts "$FILE" --json
            measure pg_roster_again "$round" "$ROWS" "0|1" "$ROSTER" --database "$(pg_url "$s")" import contacts "$FILE" --json
        else
            log "FAILED: roster init/setup on $(pg_url "$s")"
        fi
        psql_q -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null
        f=bench_flat_r$round
        psql_q -c "DROP SCHEMA IF EXISTS $f CASCADE" >/dev/null
        pg_baseline_sql "$f" "$FILE" >"$RUN/pg-baseline.sql"
        for pass in fresh again; do
            measure "pg_copy_upsert_$pass" "$round" "$ROWS" 0 psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f "$RUN/pg-baseline.sql"
        done
        psql_q -c "DROP SCHEMA IF EXISTS $f CASCADE" >/dev/null
    fi
done

{
    echo "roster_rev=$ROSTER_REV"
    echo "file=${FILE#"$ROOT"/}"
    echo "file_bytes=$(stat -c %s "$FILE")"
    echo "sqlite_utils=$([ -n "$SQLITE_UTILS" ] && "$SQLITE_UTILS" --version | awk '{print $NF}' || echo skipped)"
    echo "pg_url=$([ "$PG" = 1 ] && sed -E 's#//[^@/]*@#//…@#' <<<"$PG_URL" || echo skipped)"
    echo "command=bash bench/run.sh --rows $ROWS --runs $RUNS$([ "$PG" = 1 ] && echo ' --postgres URL')"
} >"$RUN/meta.env"
"$PY" "$HERE/report.py" main "$RUN" | tee "$OUT/latest.md"
log "report: $OUT/latest.md (raw measurements: $RUN)"
