#!/usr/bin/env bash
# Mutation testing of one engine file (see docs/testing.md):
#
#   scripts/mutants.sh FILE [NAME-REGEX] [TEST-FILTER]
#
#   scripts/mutants.sh crates/import/src/contacts.rs 'apply|changes|resolve'
#   scripts/mutants.sh crates/import/src/pipeline.rs 'write_rows|apply_batch|Counts' property::sqlite
#   MUTANTS_TEST=undo scripts/mutants.sh crates/store/src/undo.rs 'in run$' sqlite
#
# Each mutant of FILE whose name matches NAME-REGEX (default: all) is
# built and judged by the behaviour suite (the `behaviour` test binary, or
# the one MUTANTS_TEST names, e.g. `undo`; restricted to TEST-FILTER when
# given), one at a time, niced. Results
# go to mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt).
# Needs `cargo install cargo-mutants --locked`, and PostgreSQL as the
# suite does (ROSTER_TEST_POSTGRES_URL, or ROSTER_TEST_SKIP_POSTGRES=1).
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:?usage: scripts/mutants.sh FILE [NAME-REGEX] [TEST-FILTER]}
regex=${2:-.}
filter=${3:-}
command -v cargo-mutants >/dev/null || {
  echo "cargo-mutants is not installed: run cargo install cargo-mutants --locked" >&2
  exit 2
}
export ROSTER_INSECURE_FAST_HASH=1
args=(mutants --workspace --file "$file" --re "$regex" --test-workspace false --test-package roster
  --timeout "${MUTANTS_TIMEOUT:-600}" --build-timeout "${MUTANTS_BUILD_TIMEOUT:-1200}"
  --baseline "${MUTANTS_BASELINE:-run}" --no-shuffle)
if [ -n "${MUTANTS_IN_PLACE:-}" ]; then args+=(--in-place); fi
args+=(-- --test "${MUTANTS_TEST:-behaviour}")
if [ -n "$filter" ]; then args+=(-- "$filter"); fi
exec nice -n 10 cargo "${args[@]}"
