#!/usr/bin/env bash
# Supply chain check (deny.toml): licenses, duplicate versions and sources
# always; known vulnerabilities (RustSec advisories) whenever the advisory
# database can be fetched from github.com or a copy is already on this
# machine. Without either, the advisories check cannot run: this says so
# loudly (and CI shows it) instead of failing on the network or passing
# silently. ROSTER_DENY_REQUIRE_ADVISORIES=1 makes that case an error.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

if ! command -v cargo-deny >/dev/null; then
  cargo install cargo-deny --locked
fi

dbs=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
status=0
if timeout 20 git ls-remote -q https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny --locked check || status=$?
elif ls "$dbs"/advisory-db-* >/dev/null 2>&1; then
  echo "cargo deny: github.com unreachable; checking advisories against the copy in $dbs (may be old)"
  cargo deny --locked check --disable-fetch || status=$?
else
  echo "WARNING: cargo deny: the RustSec advisory database cannot be fetched (github.com unreachable)"
  echo "WARNING: and no copy is in $dbs: known vulnerabilities were NOT checked."
  if [ "${ROSTER_DENY_REQUIRE_ADVISORIES:-}" = "1" ]; then
    status=1
  fi
  cargo deny --locked check licenses bans sources || status=$?
fi
exit $status
