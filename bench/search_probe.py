#!/usr/bin/env python3
"""How the SQLite search index answers two query forms, on a database an
import filled (for example the 1M-contact one of bench/api.sh):

    python3 bench/search_probe.py DATABASE.db [--terms 300] [--seed 7]

Terms are cut (3-12 characters) from the emails and names of the contacts
themselves. For each form — every third trigram of the text (Roster before
2026-12-03) and every distinct trigram (now) — it prints the time of the
index probe Roster runs (`MATCH … LIMIT 5001`: at most 5,001 candidates)
and how many candidates it returns. Fewer candidates mean fewer contacts
to look up and check; more terms mean more posting lists to read.
Python's sqlite3 module (SQLite >= 3.34 for the trigram tokenizer).
"""
import argparse
import random
import sqlite3
import statistics
import time


def every_third(q):
    starts = list(range(0, len(q) - 2, 3))
    if starts[-1] != len(q) - 3:
        starts.append(len(q) - 3)
    return " AND ".join('"%s"' % q[i:i + 3].replace('"', '""') for i in starts)


def every_trigram(q, cap=12):
    windows = [q[i:i + 3] for i in range(len(q) - 2)]
    if len(windows) > cap:
        windows = windows[:cap - 1] + windows[-1:]
    terms = []
    for w in windows:
        t = '"%s"' % w.replace('"', '""')
        if t not in terms:
            terms.append(t)
    return " AND ".join(terms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--terms", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    db = sqlite3.connect(a.db)
    rnd = random.Random(a.seed)
    rows = db.execute(
        "SELECT email, first_name, last_name FROM contacts WHERE id % 997 = 3").fetchall()
    terms = []
    while len(terms) < a.terms:
        e, f, l = rnd.choice(rows)
        s = rnd.choice([e, f or e, l or e]).lower()
        n = min(rnd.choice([3, 4, 5, 6, 8, 10, 12]), len(s))
        i = rnd.randint(0, len(s) - n)
        if n >= 3:
            terms.append(s[i:i + n])
    sql = ("SELECT count(*) FROM (SELECT rowid FROM contacts_search "
           "WHERE contacts_search MATCH ? LIMIT 5001)")

    def run(form):
        times, counts = [], []
        for q in terms:
            t = time.perf_counter()
            counts.append(db.execute(sql, (form(q),)).fetchone()[0])
            times.append((time.perf_counter() - t) * 1000)
        return sorted(times), counts

    counts = {}
    for r in range(a.rounds):
        for name, form in (("every third", every_third), ("every trigram", every_trigram)):
            times, counts[name] = run(form)
            print(f"round {r + 1} {name:13s}: probe mean {statistics.mean(times):5.2f} ms, "
                  f"p50 {times[len(times) // 2]:5.2f}, p99 {times[int(len(times) * .99)]:6.2f}; "
                  f"terms with over 5,000 candidates {sum(c > 5000 for c in counts[name])}/{len(terms)}")
    a3, aa = counts["every third"], counts["every trigram"]
    fewer = [(q, x, y) for q, x, y in zip(terms, a3, aa) if y < x]
    print(f"{len(fewer)} of {len(terms)} terms get fewer candidates from every trigram; "
          f"candidates in all {sum(min(x, 5001) for x in a3):,} -> {sum(min(y, 5001) for y in aa):,}")
    for q, x, y in fewer[:8]:
        print(f"  {q!r}: {x} -> {y}")


if __name__ == "__main__":
    main()
