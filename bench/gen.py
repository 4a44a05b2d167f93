#!/usr/bin/env python3
"""Deterministic contacts CSV for the import benchmark (Python 3.11 stdlib only).

    python3 bench/gen.py --rows 1000000 --seed 42 --out bench/out/contacts-1000000.csv
    python3 bench/gen.py --print-labels      # the label names the file uses, one a line

Columns: email,first_name,last_name,company_id,labels,plan,seats.

* first/last names mix ASCII and non-ASCII (José, Zoë, Łukasz, 王芳, Søren, …);
  a few need CSV quoting (a comma or a double quote in the value); fields are
  quoted only when needed (quoting is decided once per pool entry, not per row).
* labels: 0-3 distinct names of LABELS, ':'-separated; company_id 1..=50 or
  empty; plan Free/Pro/Enterprise or empty; seats an integer or empty.
* ~1% invalid rows, one fault each: an email without '@', seats '12abc', or an
  unknown label (a misspelling or a case variant of a real one).
* ~2% repeated rows: the email of an earlier *valid, first-seen* row, with
  other values (labels, plan, seats, company) drawn anew.

Same --rows/--seed gives the same bytes. Next to the file it writes
FILE.expected.json with the counts a correct import must report on a fresh
database: rows, rejected (= invalid), repeated, created (= distinct emails).
"""

import argparse
import json
import random
import sys
import time
from array import array

LABELS = [
    "Marketing", "Trial", "Demo", "VIP", "Newsletter", "Partner", "Lead",
    "Customer", "Churned", "Beta", "Support", "Billing", "Webinar",
    "Conference", "Referral", "Press", "Investor", "Reseller", "Prospect",
    "Événement",
]
# Names that must be rejected (unknown label): a misspelling and case variants.
BAD_LABELS = ["Marketting", "marketing", "vip", "Newsleter", "TRIAL"]

# (display name, email local-part form). Some local parts stay non-ASCII
# (RFC 6531 allows it), most are folded to ASCII as people usually have.
FIRST = [
    ("José", "jose"), ("Zoë", "zoë"), ("Łukasz", "lukasz"), ("王芳", "王芳"),
    ("Søren", "soren"), ("Ana", "ana"), ("John", "john"), ("Mary", "mary"),
    ("Li", "li"), ("Fatima", "fatima"), ("Olivier", "olivier"),
    ("Björn", "björn"), ("Chloé", "chloe"), ("Dmitri", "dmitri"),
    ("Αλέξανδρος", "alexandros"), ("Мария", "maria"), ("Jürgen", "juergen"),
    ("Ingrid", "ingrid"), ("Mohammed", "mohammed"), ("Priya", "priya"),
    ("Hiroshi", "hiroshi"), ("Nguyễn", "nguyen"), ("Seán", "sean"),
    ("Emma", "emma"), ("Noah", "noah"), ("Olivia", "olivia"),
    ("Liam", "liam"), ("Sofía", "sofía"), ("Mateo", "mateo"), ("Aiko", "aiko"),
    ("Kwame", "kwame"), ("Ngozi", "ngozi"),
]
LAST = [
    ("García", "garcia"), ("Müller", "mueller"), ("Kowalski", "kowalski"),
    ("王", "wang"), ("Nielsen", "nielsen"), ("Smith", "smith"),
    ("O'Brien", "obrien"), ("Dubois", "dubois"), ("Rossi", "rossi"),
    ("Ivanova", "ivanova"), ("Papadopoulos", "papadopoulos"),
    ("Sato", "sato"), ("Nakamura", "nakamura"), ("Okafor", "okafor"),
    ("Svensson", "svensson"), ("Søndergaard", "søndergaard"),
    ("Brown", "brown"), ("Johnson", "johnson"), ("Lefèvre", "lefevre"),
    ("Ødegård", "odegard"), ("Schröder", "schroeder"), ("Novák", "novak"),
    ("Smith, Jr.", "smith.jr"), ('The "Rock" Johnson', "rock"),
    ("Van der Berg", "vanderberg"), ("Đorđević", "djordjevic"),
    ("Kim", "kim"), ("Patel", "patel"), ("Silva", "silva"),
    ("Yılmaz", "yilmaz"), ("Haddad", "haddad"), ("Nowak", "nowak"),
]
DOMAINS = [
    "gmail.com", "yahoo.com", "outlook.com", "acme-corp.com", "mail.de",
    "web.de", "globex.io", "initech.co.uk", "umbrella.fr", "hooli.xyz",
    "stark-industries.com", "wayne.enterprises", "münchen.de", "bücher.ch",
    "posteo.net", "fastmail.fm",
]
PLANS = ["Free", "Pro", "Enterprise", "", "Pro", "Free", "Free", "Enterprise"]


def csv_field(s):
    """RFC 4180 quoting, only when needed."""
    if any(c in s for c in ',"\r\n') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def email_of(i):
    """Email of row index i: a pure function of i, so repeats regenerate it."""
    h = (i * 2654435761) & 0xFFFFFFFF
    f = FIRST[h % len(FIRST)][1]
    l = LAST[(h >> 8) % len(LAST)][1]
    d = DOMAINS[(h >> 16) % len(DOMAINS)]
    if (h >> 24) & 7 == 0:  # 1 in 8 written with capitals; stored lowercased
        return f"{f.capitalize()}.{l.capitalize()}{i}@{d.capitalize()}"
    return f"{f}.{l}{i}@{d}"


def names_of(i):
    h = (i * 2654435761) & 0xFFFFFFFF
    return FIRST_Q[h % len(FIRST)], LAST_Q[(h >> 8) % len(LAST)]


FIRST_Q = [csv_field(n) for n, _ in FIRST]
LAST_Q = [csv_field(n) for n, _ in LAST]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", help="output CSV file")
    ap.add_argument("--print-labels", action="store_true",
                    help="print the label names to create, one a line, and exit")
    a = ap.parse_args()
    if a.print_labels:
        print("\n".join(LABELS))
        return 0
    if not a.out:
        ap.error("--out FILE is required")
    if a.rows < 1:
        ap.error("--rows must be at least 1")

    t0 = time.monotonic()
    rng = random.Random(a.seed)
    # Pools drawn once from the seeded generator; rows index into them with
    # bits of one getrandbits(64) per row, which keeps the loop cheap.
    label_sets = []
    for _ in range(4096):
        k = rng.randrange(4)
        label_sets.append(":".join(rng.sample(LABELS, k)))
    bad_label_sets = [
        ":".join(rng.sample(LABELS, rng.randrange(2)) + [rng.choice(BAD_LABELS)])
        for _ in range(64)
    ]
    companies = [""] * 15 + [str(c) for c in range(1, 51)]  # ~23% without a company
    seats = [""] * 24 + [str(s) for s in range(1, 1001)]    # ~2% empty
    bad_seats = ["12abc", "ten", "1.5e3", "0x1F", "12abc"]

    normal = array("I")  # indices of valid first-seen rows (candidates for repeats)
    n_invalid = n_repeat = 0
    getbits = rng.getrandbits
    lc, ls_ = len(companies), len(seats)
    out = open(a.out, "w", encoding="utf-8", newline="", buffering=1 << 20)
    buf = ["email,first_name,last_name,company_id,labels,plan,seats\n"]
    app = buf.append
    for i in range(a.rows):
        r = getbits(64)
        k = r & 1023
        comp = companies[(r >> 10) % lc]
        labs = label_sets[(r >> 20) & 4095]
        plan = PLANS[(r >> 32) & 7]
        st = seats[(r >> 35) % ls_]
        if k < 10:  # ~1% invalid, one fault each
            n_invalid += 1
            fn, ln = names_of(i)
            fault = k % 3
            if fault == 0:
                em = email_of(i).replace("@", ".", 1)
            else:
                em = email_of(i)
                if fault == 1:
                    st = bad_seats[(r >> 50) % len(bad_seats)]
                else:
                    labs = bad_label_sets[(r >> 50) & 63]
        elif k < 31 and normal:  # ~2% repeat an earlier accepted email
            n_repeat += 1
            j = normal[(r >> 45) % len(normal)]
            em = email_of(j)
            fn, ln = names_of(j)
        else:
            normal.append(i)
            em = email_of(i)
            fn, ln = names_of(i)
        app(f"{em},{fn},{ln},{comp},{labs},{plan},{st}\n")
        if len(buf) >= 20000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    out.close()

    expected = {
        "rows": a.rows,
        "rejected": n_invalid,
        "repeated": n_repeat,
        "created": len(normal),
        "seed": a.seed,
    }
    with open(a.out + ".expected.json", "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(f"gen: wrote {a.rows} rows to {a.out} in {time.monotonic() - t0:.1f}s "
          f"({n_invalid} invalid, {n_repeat} repeated, {len(normal)} distinct emails)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
