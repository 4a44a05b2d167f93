#!/usr/bin/env bash
# Imports over HTTP against the CLI, on one generated file, alternating:
#
#   bash bench/http.sh [--rows N] [--runs R] [--no-build] [--upload-mib A,B]
#
# Each round imports the file into a fresh SQLite database twice:
#   cli  — `roster import contacts FILE --json`, wall time and peak RSS;
#   http — `roster serve`, then `curl --data-binary @FILE` to POST
#          /api/imports?kind=contacts and polling GET /api/imports/{id} until
#          it succeeded: the time from the upload's start to `succeeded`, and
#          the server's peak RSS (VmHWM) over the whole run.
# Then the upload's memory: a server whose worker is held busy (by the test
# pause hook on a first tiny import) receives bodies of A and B MiB (default
# 100 and 1024; streamed with curl -T, as --data-binary reads the whole
# file into curl's memory first); the server's VmHWM after each 202 shows
# whether receiving an upload grows with its size.
# Output: a markdown table on stdout and in bench/out/http/latest.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ROWS=1000000
RUNS=2
BUILD=1
UPLOADS="100,1024"
while [ $# -gt 0 ]; do
    case $1 in
        --rows) ROWS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --upload-mib) UPLOADS=$2; shift 2 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
PY=python3
OUT=$HERE/out/http
mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release --locked --bin roster >&2)
fi
ROSTER=$OUT/roster
cp "$ROOT/target/release/roster" "$ROSTER"
FILE=$OUT/contacts-$ROWS.csv
[ -f "$FILE" ] || "$PY" "$HERE/gen.py" --rows "$ROWS" --seed 42 --out "$FILE"
export ROSTER_INSECURE_FAST_HASH=1 ROSTER_LOG=warn

setup_roster() { # setup_roster DATABASE_URL
    local db=$1 name
    "$ROSTER" --database "$db" init 2>/dev/null
    while IFS= read -r name; do
        "$ROSTER" --database "$db" labels add "$name" >/dev/null
    done < <("$PY" "$HERE/gen.py" --print-labels)
    for name in $(seq 1 50); do
        "$ROSTER" --database "$db" companies add "Company $name" >/dev/null
    done
    "$ROSTER" --database "$db" fields add plan --type select --options Free,Pro,Enterprise >/dev/null
    "$ROSTER" --database "$db" fields add seats --type number >/dev/null
}

SERVER_PID=
BASE=
start_server() { # start_server DB DATA_DIR [VAR=VALUE ...]
    local db=$1 data=$2; shift 2
    rm -f "$data.out"
    env "$@" "$ROSTER" --database "$db" serve --listen 127.0.0.1:0 --data-dir "$data" \
        >"$data.out" 2>"$data.err" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        BASE=$(sed -n 's/^roster listening on //p' "$data.out" 2>/dev/null | head -1)
        [ -n "$BASE" ] && return 0
        sleep 0.05
    done
    echo "the server did not start: $(cat "$data.err")" >&2
    exit 1
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }
# The server's CPU seconds so far (user + system, all its threads): on a
# shared machine the steadier figure to compare, as the wall time also
# counts the waits for a core.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$SERVER_PID/stat"; }
now() { date +%s.%N; }
token_for() { # token_for DB
    echo 'bench password' | "$ROSTER" --database "$1" users create-admin bench@example.com >/dev/null
    "$ROSTER" --database "$1" tokens create --user bench@example.com
}
wait_done() { # wait_done TOKEN ID -> prints the final job JSON
    local j
    while :; do
        j=$(curl -s -H "Authorization: Bearer $1" "$BASE/api/imports/$2")
        case $(echo "$j" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["status"])') in
            succeeded|failed|cancelled) echo "$j"; return ;;
        esac
        sleep 0.1
    done
}

RESULTS=$OUT/results.tsv
printf 'round\tcontender\twall_s\tpeak_rss_kib\tcpu_s\n' >"$RESULTS"
for round in $(seq 1 "$RUNS"); do
    D=$OUT/run-$round
    rm -rf "$D"; mkdir -p "$D"
    log "round $round: CLI"
    setup_roster "sqlite://$D/cli.db"
    "$PY" "$HERE/peak_rss.py" --json "$D/cli.json" --stdout "$D/cli.report.json" -- \
        "$ROSTER" --database "sqlite://$D/cli.db" import contacts "$FILE" --json || true
    "$PY" - "$D/cli.json" "$round" >>"$RESULTS" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]}\tcli\t{m['wall_s']:.2f}\t{m['peak_rss_kib']}\t{m['cpu_s']:.1f}")
EOF
    log "round $round: HTTP"
    setup_roster "sqlite://$D/http.db"
    TOKEN=$(token_for "sqlite://$D/http.db")
    start_server "sqlite://$D/http.db" "$D/data"
    t0=$(now)
    ID=$(curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' \
        --data-binary @"$FILE" "$BASE/api/imports?kind=contacts" |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    JOB=$(wait_done "$TOKEN" "$ID")
    t1=$(now)
    echo "$JOB" >"$D/http.job.json"
    printf '%s\thttp\t%.2f\t%s\t%s\n' "$round" "$(echo "$t1 - $t0" | bc)" "$(hwm_kib)" "$(cpu_s)" >>"$RESULTS"
    stop_server
    # Same report (the id aside) as the CLI's.
    "$PY" - "$D/cli.report.json" "$D/http.job.json" <<'EOF' >&2
import json, sys
cli = json.load(open(sys.argv[1])); job = json.load(open(sys.argv[2]))
http = job["report"]
for r in (cli, http):
    r.pop("id", None)
print("reports equal" if cli == http else f"REPORTS DIFFER:\n{cli}\n{http}")
EOF
done

log "upload memory"
D=$OUT/upload
rm -rf "$D"; mkdir -p "$D"
"$ROSTER" --database "sqlite://$D/u.db" init 2>/dev/null
TOKEN=$(token_for "sqlite://$D/u.db")
start_server "sqlite://$D/u.db" "$D/data" ROSTER_TEST_PAUSE_AFTER_BATCHES=1 ROSTER_TEST_PAUSE_SECS=3600
printf 'email\na@example.com\nb@example.com\n' >"$D/tiny.csv"
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" --data-binary @"$D/tiny.csv" \
    "$BASE/api/imports?kind=contacts&batch_size=1"
sleep 1
UPLOAD_ROWS=$OUT/upload.tsv
printf 'body_mib\tupload_s\tserver_peak_rss_kib_after\n' >"$UPLOAD_ROWS"
printf '%s\t-\t%s\n' 0 "$(hwm_kib)" >>"$UPLOAD_ROWS"
for mib in ${UPLOADS//,/ }; do
    "$PY" - "$D/body.bin" "$mib" <<'EOF'
import sys
line = b"someone@example.com,Some,One,1,Marketing,Pro,3\n" * 21000
with open(sys.argv[1], "wb") as f:
    left = int(sys.argv[2]) << 20
    while left > 0:
        f.write(line[:left]); left -= len(line)
EOF
    t0=$(now)
    code=$(curl -s -o "$D/answer.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        -X POST -H 'Content-Type: text/csv' -T "$D/body.bin" "$BASE/api/imports?kind=contacts")
    t1=$(now)
    [ "$code" = 202 ] || { echo "upload of $mib MiB answered $code: $(cat "$D/answer.json")" >&2; exit 1; }
    printf '%s\t%.2f\t%s\n' "$mib" "$(echo "$t1 - $t0" | bc)" "$(hwm_kib)" >>"$UPLOAD_ROWS"
    rm -f "$D/body.bin"
done
stop_server

{
    echo "## Imports over HTTP vs the CLI ($ROWS rows, SQLite, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "| round | contender | wall s | CPU s | peak RSS MiB |"
    echo "|---|---|---|---|---|"
    tail -n +2 "$RESULTS" | awk -F'\t' '{printf "| %s | %s | %s | %s | %.1f |\n", $1, $2, $3, $5, $4/1024}'
    echo
    echo "### Upload memory (server peak RSS after each 202; the worker held busy)"
    echo
    echo "| body MiB | upload s | server peak RSS MiB |"
    echo "|---|---|---|"
    tail -n +2 "$UPLOAD_ROWS" | awk -F'\t' '{printf "| %s | %s | %.1f |\n", $1, $2, $3/1024}'
} | tee "$OUT/latest.md"
