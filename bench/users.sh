#!/usr/bin/env bash
# Users import throughput against the bound set by the hash itself:
# cores / (time of one production Argon2id hash), measured in the same run.
#
#   bash bench/users.sh [--users 2000]
#
# The per-hash time comes from importing a small file with --batch-size 1,
# which hashes one password at a time on one core; the throughput from
# importing N users into a fresh database with the default batches, which
# hash on every core. Both use the production parameters (m=19 MiB, t=2, p=1).
set -euo pipefail
cd "$(dirname "$0")/.."
N=2000
SAMPLE=40
while [ $# -gt 0 ]; do
  case "$1" in
    --users) N=$2; shift 2 ;;
    *) echo "usage: bash bench/users.sh [--users N]" >&2; exit 2 ;;
  esac
done
unset ROSTER_INSECURE_FAST_HASH
cargo build --release --quiet
roster=$PWD/target/release/roster
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 - "$out" "$N" "$SAMPLE" <<'PY'
import sys
out, n, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for name, count in (("users.csv", n), ("sample.csv", sample)):
    with open(f"{out}/{name}", "w", encoding="utf-8") as f:
        f.write("email,first_name,last_name,password,active\n")
        for i in range(count):
            f.write(f"{name[0]}user{i}@example.com,User{i},Ünïcode,pässword-{i:06d},{'true' if i % 10 else 'false'}\n")
PY
cores=$(nproc)
now() { date +%s.%N; }
t0=$(now)
ROSTER_DATABASE_URL="sqlite://$out/sample.db" "$roster" import users "$out/sample.csv" --batch-size 1 >/dev/null
t1=$(now)
ROSTER_DATABASE_URL="sqlite://$out/users.db" "$roster" import users "$out/users.csv" >/dev/null
t2=$(now)
# What the machine can really do: one sequential hashing process per core,
# all at once (Argon2id is memory-bound; cores share the memory bus).
for c in $(seq "$cores"); do
  ROSTER_DATABASE_URL="sqlite://$out/par$c.db" "$roster" import users "$out/sample.csv" --batch-size 1 >/dev/null &
done
wait
t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" "$N" "$SAMPLE" "$cores" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5]); n, sample, cores = map(int, sys.argv[5:8])
hash_s = (t1 - t0) / sample
bound = cores / hash_s
rate = n / (t2 - t1)
print(f"machine: {cores} cores")
print(f"one Argon2id hash (production parameters), sequential: {hash_s*1000:.1f} ms")
print(f"bound: cores / hash time = {bound:.1f} users/s")
par = cores * sample / (t3 - t2)
print(f"roster import users, {n} users: {t2 - t1:.2f} s = {rate:.1f} users/s = {rate / bound:.2f} x the bound")
print(f"reference: {cores} independent hashing processes at once: {par:.1f} hashes/s; roster reaches {rate / par:.2f} x that")
PY
