#!/usr/bin/env bash
# Builds every fuzz target (fuzz/, cargo fuzz + libFuzzer) and runs each
# for a short, bounded time from the seed corpora: the test fixtures
# (tests/data) and fuzz/seeds. Any crash fails the run and leaves its input
# under fuzz/artifacts/TARGET/.
#
#   scripts/fuzz-smoke.sh                 # CI: FUZZ_SECS=10 per target
#   FUZZ_SECS=600 scripts/fuzz-smoke.sh   # a longer run, one target at a time
#   scripts/fuzz-smoke.sh email lmtp      # only these targets
#
# Stable rustc only: RUSTC_BOOTSTRAP=1 lets it take the -Z flags cargo
# fuzz passes (fuzz/README.md says why this route). A summary line per
# target (executions, coverage, features, corpus) goes to
# fuzz/smoke-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
secs=${FUZZ_SECS:-10}

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi

# No sanitizer: every crate of ours forbids unsafe code, and what we look
# for is panics, hangs, unbounded memory and broken invariants. Debug
# assertions (-a) turn integer overflow into a crash.
# The build is kept per machine (like cargo-fuzz in ~/.cargo/bin), so CI
# in any checkout rebuilds only what changed.
target_dir=${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roster-fuzz/target}
flags=(--fuzz-dir fuzz -s none -a --target-dir "$target_dir")
start=$(date +%s)
cargo fuzz build "${flags[@]}"
built=$(date +%s)
echo "fuzz targets built in $((built - start)) s"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
summary=${FUZZ_SUMMARY:-fuzz/smoke-summary.txt}
: > "$summary"

# Seeds made from the fixtures the tests use.
seeds_for() {
  local t=$1 d=$work/seeds-$1
  mkdir -p "$d"
  case $t in
    import_csv) echo "tests/data/contacts tests/data/foreign fuzz/seeds/import_csv" ;;
    mail_message) echo "tests/data/mail" ;;
    header_plan)
      # Each fixture's header, one column name per line, after an empty
      # line of maps.
      for f in tests/data/contacts/*.csv tests/data/foreign/*.csv; do
        { echo; head -n1 "$f" | tr ',;\t' '\n\n\n'; } > "$d/$(basename "$f")"
      done
      echo "$d fuzz/seeds/header_plan" ;;
    email)
      # Every quoted address in the validator's own tests, one per file.
      grep -o '"[^"]*@[^"]*"' crates/core/src/email.rs | sed 's/^"//; s/"$//' | head -n 400 |
        awk -v d="$d" '{ f = d "/" NR; printf "%s", $0 > f; close(f) }'
      echo "$d fuzz/seeds/email" ;;
    *) echo "fuzz/seeds/$t" ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus=$work/corpus-$t
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  # shellcheck disable=SC2046
  log=$work/$t.log
  if ! cargo fuzz run "${flags[@]}" "$t" "$corpus" $(seeds_for "$t") -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=1536 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
    status=1
    echo "FUZZ CRASH in $t (input under fuzz/artifacts/$t/):"
    grep -a -E -A30 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -n 60
  fi
  # libFuzzer's last status line and final stats.
  line=$(grep -a -E '^#[0-9]+' "$log" | tail -n1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  printf '%-16s %4ss  execs=%-9s %s\n' "$t" "$secs" "${execs:-?}" "$line" | tee -a "$summary"
done
echo "fuzz smoke: $(( $(date +%s) - start )) s in all"
exit $status
