#!/usr/bin/env bash
# Imports examples/contacts.csv into a fresh embedded database and prints the
# report. Usage: bash examples/demo.sh [DATABASE_FOLDER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$(mktemp -d)}
cd "$here/.."
cargo build --release --quiet
roster="$PWD/target/release/roster"
export ROSTER_DATABASE_URL="sqlite://$dir/roster.db"
"$roster" init
"$roster" companies add "Acme Inc." >/dev/null
"$roster" companies add "Globex" >/dev/null
"$roster" labels add Marketing >/dev/null
"$roster" fields add plan --type select --options Free,Pro,Enterprise --name "Plan" >/dev/null
"$roster" fields add seats --type number --name "Seats" >/dev/null
"$roster" fields add renewal --type date --name "Renewal date" >/dev/null
echo "== roster import contacts examples/contacts.csv --create-labels"
status=0
"$roster" import contacts examples/contacts.csv --create-labels --rejects "$dir/rejects.csv" || status=$?
echo "== roster export contacts"
"$roster" export contacts
echo "== the rejected rows, ready to fix and import again: $dir/rejects.csv"
cat "$dir/rejects.csv"
# Exit status 1 means "some rows were rejected", which this example shows on purpose.
[ "$status" -le 1 ]
