#!/usr/bin/env bash
# Roster import benchmark: `roster import contacts` against the databases' own
# bulk loaders, on generated files of several shapes. See bench/README.md.
#
#   bash bench/run.sh [--rows 1000000] [--runs 3] [--postgres URL] [--seed 42]
#                     [--shapes random,realistic,wide,labels-heavy]
#                     [--utils-rows 100000] [--no-build] [--before BINARY]
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
BEFORE=
SHAPES=random,realistic,wide,labels-heavy

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --rows) ROWS=${2:?--rows needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        --utils-rows) UTILS_ROWS=${2:?--utils-rows needs a number}; shift 2 ;;
        --postgres) PG_URL=${2:?--postgres needs a URL}; shift 2 ;;
        --shapes) SHAPES=${2:?--shapes needs a comma-separated list}; shift 2 ;;
        --before) BEFORE=${2:?--before needs a roster binary}; shift 2 ;;
        --memory) MEMORY=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument '$1'" ;;
    esac
done
for v in ROWS RUNS SEED UTILS_ROWS; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || die "--$(tr 'A-Z_' 'a-z-' <<<"$v") must be a positive integer, not '${!v}'"
done

for shape in ${SHAPES//,/ }; do
    python3 "$HERE/gen.py" --shape "$shape" --print columns >/dev/null 2>&1 \
        || die "unknown shape '$shape' in --shapes; use some of random,realistic,wide,labels-heavy"
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
gen() { # gen ROWS [SHAPE] -> sets FILE
    local shape=${2:-random}
    FILE=$OUT/contacts-$shape-$1-s$SEED.csv
    if [ -s "$FILE" ] && [ -s "$FILE.expected.json" ] && [ "$FILE" -nt "$HERE/gen.py" ]; then
        log "reusing $FILE"
    else
        "$PY" "$HERE/gen.py" --shape "$shape" --rows "$1" --seed "$SEED" --out "$FILE"
    fi
}

# Untimed: roster init + the labels, 50 companies and the fields the shape uses
# (labels get ids 1.. in this order, which the files' labels_id rely on).
setup_roster() { # setup_roster DATABASE_URL [SHAPE]
    local db=$1 shape=${2:-random} name type options
    "$ROSTER" --database "$db" init 2>/dev/null || return 1
    while IFS= read -r name; do
        "$ROSTER" --database "$db" labels add "$name" >/dev/null || return 1
    done < <("$PY" "$HERE/gen.py" --shape "$shape" --print-labels)
    for name in $(seq 1 50); do
        "$ROSTER" --database "$db" companies add "Company $name" >/dev/null || return 1
    done
    while IFS=$'\t' read -r name type options; do
        if [ -n "$options" ]; then
            "$ROSTER" --database "$db" fields add "$name" --type "$type" --options "$options" >/dev/null || return 1
        else
            "$ROSTER" --database "$db" fields add "$name" --type "$type" >/dev/null || return 1
        fi
    done < <("$PY" "$HERE/gen.py" --shape "$shape" --print setup | "$PY" -c '
import json, sys
for f in json.load(sys.stdin)["fields"]:
    print(f["name"], f["type"], ",".join(f.get("options", [])), sep="\t")')
}

# count NAME ROUND SQL-COUNT-COMMAND... : the rows a contender left in its
# database, checked by report.py against what gen.py expects.
count() {
    local name=$1 round=$2 n; shift 2
    n=$("$@" 2>>"$RUN/count.err" | tr -d '[:space:]') || n=error
    printf '%s\t%s\t%s\n' "$name" "$round" "${n:-error}" >>"$RUN/counts.tsv"
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
    for shape in ${SHAPES//,/ }; do
        for n in 1000000 5000000; do
            gen "$n" "$shape"
            cp "$FILE.expected.json" "$RUN/expected-$shape-$n.json"
            rm -f "$RUN"/mem.db*
            setup_roster "sqlite://$RUN/mem.db" "$shape" || die "roster init failed on sqlite://$RUN/mem.db"
            cat "$FILE" >/dev/null
            log "roster import contacts, $shape, $n rows (peak RSS)"
            measure "roster_fresh_${shape}_$n" 1 "$n" "0|1" "$ROSTER" --database "sqlite://$RUN/mem.db" import contacts "$FILE" --json
            rm -f "$RUN"/mem.db*
        done
    done
    "$PY" "$HERE/report.py" memory "$RUN" | tee "$OUT/memory.md"
    exit 0
fi

# ---------------------------------------------------------------- main run
build
TOP=$OUT/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$TOP/db"
machine_json >"$TOP/machine.json"
echo "$SHAPES" | tr ',' '\n' >"$TOP/shapes"
declare -A FILES HEADS
for shape in ${SHAPES//,/ }; do
    RUN=$TOP/$shape
    mkdir -p "$RUN/m"
    : >"$RUN/results.tsv"
    : >"$RUN/counts.tsv"
    gen "$ROWS" "$shape"
    cp "$FILE.expected.json" "$RUN/expected.json"
    FILES[$shape]=$FILE
    # The head: gen.py is sequential, so --rows K gives exactly the first K
    # rows of the big file (same shape and seed), with its own expected counts.
    HEAD_ROWS=$(( UTILS_ROWS < ROWS ? UTILS_ROWS : ROWS ))
    gen "$HEAD_ROWS" "$shape"
    HEADS[$shape]=$FILE
    cmp -s -n "$(stat -c %s "${HEADS[$shape]}")" "${HEADS[$shape]}" "${FILES[$shape]}" \
        || die "${HEADS[$shape]} is not the head of ${FILES[$shape]} (gen.py changed?); delete $OUT/contacts-*.csv and rerun"
    cp "${HEADS[$shape]}.expected.json" "$RUN/expected-head.json"
    log "$shape: ${FILES[$shape]} ($ROWS rows, $(du -h "${FILES[$shape]}" | cut -f1)); head for sqlite-utils: $HEAD_ROWS rows"
done
RUN=$TOP

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
elif ! psql_q -c 'select 1' >/dev/null 2>"$TOP/pg-check.err"; then
    log "SKIPPING PostgreSQL: cannot connect to $PG_URL: $(head -1 "$TOP/pg-check.err")"
else
    psql_q -c 'DROP SCHEMA IF EXISTS bench_probe CASCADE' >/dev/null 2>&1 || true
    if "$ROSTER" --database "$(pg_url bench_probe)" init >/dev/null 2>"$TOP/pg-probe.err"; then
        PG=1
        psql_q -At -c "SELECT indexdef FROM pg_indexes WHERE schemaname = 'bench_probe' AND indexname = 'contacts_search'" >"$TOP/pg-search.sql"
        [ -s "$TOP/pg-search.sql" ] || die "roster's schema has no contacts_search index on PostgreSQL; bench/run.sh needs updating"
        log "PostgreSQL: $PG_URL (roster schemas bench_rN, baseline schemas bench_flat_rN)"
    else
        log "=============================================================="
        log "SKIPPING PostgreSQL: this roster build cannot use it:"
        log "  $(head -1 "$TOP/pg-probe.err")"
        log "=============================================================="
    fi
    psql_q -c 'DROP SCHEMA IF EXISTS bench_probe CASCADE' >/dev/null 2>&1 || true
fi
echo "$PG" >"$TOP/pg"
# Roster's SQLite search index, as its schema defines it, for the indexed baseline.
"$ROSTER" --database "sqlite://$TOP/db/probe.db" init >/dev/null 2>&1 || die "roster init failed on $TOP/db/probe.db"
sqlite3 "$TOP/db/probe.db" "SELECT sql || ';' FROM sqlite_master WHERE name = 'contacts_search'" >"$TOP/sqlite-search.sql"
grep -q 'fts5' "$TOP/sqlite-search.sql" || die "roster's schema has no contacts_search index on SQLite; bench/run.sh needs updating"
rm -f "$TOP"/db/probe.db*

# --- the contenders -------------------------------------------------------
# sqlite3 baselines. ".import into email TEXT PRIMARY KEY (fresh)": checked
# with sqlite3 3.40, on a row whose key is already there .import prints
# "FILE:LINE: INSERT failed: UNIQUE constraint failed: contacts.email" on
# stderr, skips that row, carries on and exits 0: the FIRST row of each
# email wins, where roster applies rows in order (the last wins) and
# validates every value. That is the raw-speed floor (no validation, no
# merge), with sqlite3's defaults (rollback journal, synchronous=FULL, 2 MB
# cache) and again with roster's own pragmas (SQLITE_PRAGMAS, copied from
# crates/store/src/sqlite.rs): the like-for-like ("tuned vs tuned") one.
# "sqlite3 .import + upsert" does what a careful admin would do with the CLI
# alone, in one sqlite3 session with roster's pragmas: .import into a TEMP
# staging table, then one INSERT ... SELECT in file order with ON
# CONFLICT(email) DO UPDATE, lowercasing emails and keeping a column's old
# value where the file's cell is empty (roster's merge rule). Run again on
# the same database it upserts the same rows again: the like-for-like
# baseline of a re-import. It still skips validation, labels as a set,
# companies and custom-field typing. SQL: bench/baselines.py.
SQLITE_PRAGMAS='PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-16000;'
# PostgreSQL baseline: one psql session that \copy-s the file into a TEMP
# staging table, then upserts into a flat table: DISTINCT ON (email) keeps the
# file's last row per email (roster's rule for repeated rows, minus the
# per-column merge); rows without '@' or with a number field that does not
# cast are dropped. Run twice: fresh, then the same rows again.
# Roster maintains a substring search index with every write (FTS5 trigram
# on SQLite, pg_trgm GIN on PostgreSQL); the loaders above have none. The
# "indexed" contenders give them the same index (bench/baselines.py), filled
# as roster fills it for an import's new contacts (one INSERT … SELECT after
# the rows on SQLite): the like-for-like comparison.

log "warming the page cache with the files"
for shape in ${SHAPES//,/ }; do cat "${FILES[$shape]}" "${HEADS[$shape]}" >/dev/null; done

sq_count() { sqlite3 "$1" 'SELECT count(*) FROM contacts'; }
pg_count() { psql_q -At -c "SELECT count(*) FROM $1"; }

# One group of contenders: what runs back to back and shares a database.
run_group() { # run_group GROUP SHAPE ROUND
    local g=$1 shape=$2 round=$3 D=$TOP/db pass s f
    local file=${FILES[$shape]} head=${HEADS[$shape]}
    local schema; schema=$("$PY" "$HERE/baselines.py" "$shape" sqlite-schema)
    rm -f "$D"/*
    case $g in
    roster)
        setup_roster "sqlite://$D/roster.db" "$shape" || die "roster setup failed on sqlite://$D/roster.db"
        measure roster_fresh "$round" "$ROWS" "0|1" "$ROSTER" --database "sqlite://$D/roster.db" import contacts "$file" --json
        count roster_fresh "$round" sq_count "$D/roster.db"
        measure roster_again "$round" "$ROWS" "0|1" "$ROSTER" --database "sqlite://$D/roster.db" import contacts "$file" --json
        count roster_again "$round" sq_count "$D/roster.db" ;;
    before)
        # Set up by the earlier build itself: its schema may be older.
        local current=$ROSTER
        ROSTER=$OUT/roster-before
        setup_roster "sqlite://$D/before.db" "$shape" || die "roster setup failed on sqlite://$D/before.db"
        ROSTER=$current
        measure before_fresh "$round" "$ROWS" "0|1" "$OUT/roster-before" --database "sqlite://$D/before.db" import contacts "$file" --json
        count before_fresh "$round" sq_count "$D/before.db"
        measure before_again "$round" "$ROWS" "0|1" "$OUT/roster-before" --database "sqlite://$D/before.db" import contacts "$file" --json
        count before_again "$round" sq_count "$D/before.db" ;;
    pk)
        measure sqlite3_import_pk "$round" "$ROWS" 0 sqlite3 "$D/pk.db" "$schema" '.mode csv' ".import --skip 1 '$file' contacts"
        count sqlite3_import_pk "$round" sq_count "$D/pk.db" ;;
    pk_tuned)
        measure sqlite3_import_pk_tuned "$round" "$ROWS" 0 sqlite3 "$D/pk.db" "$SQLITE_PRAGMAS" "$schema" '.mode csv' ".import --skip 1 '$file' contacts"
        count sqlite3_import_pk_tuned "$round" sq_count "$D/pk.db" ;;
    pk_indexed)
        measure sqlite3_import_pk_indexed "$round" "$ROWS" 0 sqlite3 "$D/pk.db" "$SQLITE_PRAGMAS" "$schema" \
            "$("$PY" "$HERE/baselines.py" "$shape" sqlite-search "$TOP/sqlite-search.sql")" '.mode csv' ".import --skip 1 '$file' contacts" \
            "$("$PY" "$HERE/baselines.py" "$shape" sqlite-search-fill)"
        count sqlite3_import_pk_indexed "$round" sq_count "$D/pk.db" ;;
    upsert)
        for pass in fresh again; do
            measure "sqlite3_upsert_$pass" "$round" "$ROWS" 0 sqlite3 "$D/upsert.db" "$SQLITE_PRAGMAS" "$schema" \
                "$("$PY" "$HERE/baselines.py" "$shape" sqlite-staging)" \
                '.mode csv' ".import --skip 1 '$file' staging" "$("$PY" "$HERE/baselines.py" "$shape" sqlite-upsert)"
            count "sqlite3_upsert_$pass" "$round" sq_count "$D/upsert.db"
        done ;;
    utils)
        [ -n "$SQLITE_UTILS" ] || return 0
        measure sqlite_utils_head "$round" "$HEAD_ROWS" 0 "$SQLITE_UTILS" upsert "$D/utils.db" contacts "$head" --csv --pk email
        count sqlite_utils_head "$round" sq_count "$D/utils.db" ;;
    roster_head)
        setup_roster "sqlite://$D/head.db" "$shape" || die "roster setup failed"
        measure roster_fresh_head "$round" "$HEAD_ROWS" "0|1" "$ROSTER" --database "sqlite://$D/head.db" import contacts "$head" --json
        count roster_fresh_head "$round" sq_count "$D/head.db" ;;
    pg_roster)
        s=bench_r$round
        psql_q -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null
        if setup_roster "$(pg_url "$s")" "$shape"; then
            measure pg_roster_fresh "$round" "$ROWS" "0|1" "$ROSTER" --database "$(pg_url "$s")" import contacts "$file" --json
            count pg_roster_fresh "$round" pg_count "$s.contacts"
            measure pg_roster_again "$round" "$ROWS" "0|1" "$ROSTER" --database "$(pg_url "$s")" import contacts "$file" --json
            count pg_roster_again "$round" pg_count "$s.contacts"
        else
            log "FAILED: roster init/setup on $(pg_url "$s")"
        fi
        psql_q -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null ;;
    pg_upsert)
        f=bench_flat_r$round
        psql_q -c "DROP SCHEMA IF EXISTS $f CASCADE" >/dev/null
        "$PY" "$HERE/baselines.py" "$shape" pg "$f" "$file" >"$RUN/pg-baseline.sql"
        for pass in fresh again; do
            measure "pg_copy_upsert_$pass" "$round" "$ROWS" 0 psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f "$RUN/pg-baseline.sql"
            count "pg_copy_upsert_$pass" "$round" pg_count "$f.flat"
        done
        psql_q -c "DROP SCHEMA IF EXISTS $f CASCADE" >/dev/null ;;
    pg_upsert_indexed)
        f=bench_flat_r$round
        psql_q -c "DROP SCHEMA IF EXISTS $f CASCADE" >/dev/null
        "$PY" "$HERE/baselines.py" "$shape" pg "$f" "$file" "$TOP/pg-search.sql" >"$RUN/pg-baseline-indexed.sql"
        for pass in fresh again; do
            measure "pg_copy_upsert_indexed_$pass" "$round" "$ROWS" 0 psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 -f "$RUN/pg-baseline-indexed.sql"
            count "pg_copy_upsert_indexed_$pass" "$round" pg_count "$f.flat"
        done
        psql_q -c "DROP SCHEMA IF EXISTS $f CASCADE" >/dev/null ;;
    esac
    rm -f "$D"/*
}

CONTENDERS=(roster pk pk_tuned pk_indexed upsert utils roster_head)
[ "$PG" = 1 ] && CONTENDERS+=(pg_roster pg_upsert pg_upsert_indexed)
if [ -n "$BEFORE" ]; then
    # Another roster build (an earlier commit), on SQLite, for before/after
    # ratios measured in the same run.
    cp "$BEFORE" "$OUT/roster-before"
    CONTENDERS+=(before)
fi
for round in $(seq 1 "$RUNS"); do
    # A new order every round (seeded, so a rerun repeats it): no contender
    # always runs first, or always right after the heaviest one.
    mapfile -t ORDER < <("$PY" -c 'import random, sys; g = sys.argv[2:]; random.Random(int(sys.argv[1])).shuffle(g); print("\n".join(g))' "$round" "${CONTENDERS[@]}")
    for shape in ${SHAPES//,/ }; do
        RUN=$TOP/$shape
        log "---- round $round of $RUNS, shape $shape: ${ORDER[*]} ----"
        echo "$round ${ORDER[*]}" >>"$RUN/order"
        for g in "${ORDER[@]}"; do
            run_group "$g" "$shape" "$round"
        done
    done
done
RUN=$TOP

{
    echo "roster_rev=$ROSTER_REV"
    echo "rows=$ROWS"
    echo "file_pattern=${OUT#"$ROOT"/}/contacts-SHAPE-$ROWS-s$SEED.csv"
    for shape in ${SHAPES//,/ }; do echo "file_bytes_$shape=$(stat -c %s "${FILES[$shape]}")"; done
    echo "sqlite_utils=$([ -n "$SQLITE_UTILS" ] && "$SQLITE_UTILS" --version | awk '{print $NF}' || echo skipped)"
    echo "pg_url=$([ "$PG" = 1 ] && sed -E 's#//[^@/]*@#//…@#' <<<"$PG_URL" || echo skipped)"
    echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "before=$BEFORE"
    echo "command=bash bench/run.sh --rows $ROWS --runs $RUNS --utils-rows $UTILS_ROWS --shapes $SHAPES$([ "$PG" = 1 ] && echo ' --postgres URL')$([ -n "$BEFORE" ] && echo ' --before BINARY')"
} >"$TOP/meta.env"
"$PY" "$HERE/report.py" main "$TOP" | tee "$OUT/latest.md"
log "report: $OUT/latest.md (raw measurements: $TOP)"
