#!/usr/bin/env bash
# Users import throughput against the bound set by the hash itself, both
# measured in the same run:
#
#   bash bench/users.sh [--users 2000] [--no-build]
#
# - the hash alone: `crates/core/examples/hash_time.rs` hashes with the
#   production parameters (Argon2id, m=19 MiB, t=2, p=1) on one thread, then
#   on one thread per core at once (Argon2id is memory-bound: cores share the
#   memory bus, so this is what the machine can really do);
# - roster: `roster import users FILE --json` of N new users into a fresh
#   SQLite database; its report must say created N, rejected 0, and the
#   database must hold N users afterwards (checked, or the script fails).
set -euo pipefail
cd "$(dirname "$0")/.."
N=2000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --users) N=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    *) echo "usage: bash bench/users.sh [--users N] [--no-build]" >&2; exit 2 ;;
  esac
done
unset ROSTER_INSECURE_FAST_HASH
if [ "$BUILD" = 1 ]; then
  cargo build --release --quiet --bin roster
  cargo build --release --quiet -p roster-core --example hash_time
fi
roster=$PWD/target/release/roster
hash_time=$PWD/target/release/examples/hash_time
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 - "$out" "$N" <<'PY'
import sys
out, n = sys.argv[1], int(sys.argv[2])
with open(f"{out}/users.csv", "w", encoding="utf-8") as f:
    f.write("email,first_name,last_name,password,active\n")
    for i in range(n):
        f.write(f"user{i}@example.com,User{i},Ünïcode,pässword-{i:06d},{'true' if i % 10 else 'false'}\n")
PY
cores=$(nproc)
"$hash_time" 20 1 >"$out/one.json"
"$hash_time" 20 "$cores" >"$out/all.json"
t1=$(date +%s.%N)
rc=0
ROSTER_DATABASE_URL="sqlite://$out/users.db" "$roster" import users "$out/users.csv" --json >"$out/report.json" || rc=$?
t2=$(date +%s.%N)
rows=$(sqlite3 "$out/users.db" 'SELECT count(*) FROM users')
python3 - "$t1" "$t2" "$N" "$cores" "$out" "$rc" "$rows" <<'PY'
import json, sys
t1, t2 = map(float, sys.argv[1:3]); n, cores = int(sys.argv[3]), int(sys.argv[4])
out, rc, rows = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
one = json.load(open(f"{out}/one.json")); every = json.load(open(f"{out}/all.json"))
rep = json.load(open(f"{out}/report.json"))
problems = []
if rc != 0:
    problems.append(f"roster exited {rc}")
for k, v in (("rows", n), ("created", n), ("updated", 0), ("unchanged", 0), ("rejected", 0), ("repeated", 0)):
    if rep.get(k) != v:
        problems.append(f"report {k} = {rep.get(k)}, expected {v}")
if rows != n:
    problems.append(f"the database holds {rows} users, expected {n}")
hash_s = one["seconds_per_hash"]
bound = cores / hash_s
par = every["hashes_per_second"]
rate = n / (t2 - t1)
print(f"machine: {cores} cores")
print(f"one Argon2id hash alone (production parameters), one thread: {hash_s * 1000:.1f} ms")
print(f"bound: cores / hash time = {bound:.1f} hashes/s")
print(f"the hash alone on {cores} threads at once: {par:.1f} hashes/s")
print(f"roster import users, {n} users: {t2 - t1:.2f} s = {rate:.1f} users/s = "
      f"{rate / bound:.2f}x the bound, {rate / par:.2f}x the {cores}-thread hash rate")
print(f"checks: report rows/created {rep.get('rows')}/{rep.get('created')}, rejected {rep.get('rejected')}; "
      f"users in the database {rows}: " + ("as expected" if not problems else "PROBLEMS: " + "; ".join(problems)))
sys.exit(1 if problems else 0)
PY
