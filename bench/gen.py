#!/usr/bin/env python3
"""Deterministic contacts CSV files for the import benchmark (Python 3.11 stdlib only).

    python3 bench/gen.py --shape realistic --rows 1000000 --seed 42 --out FILE
    python3 bench/gen.py --shape realistic --print setup      # labels and fields to create (JSON)
    python3 bench/gen.py --shape realistic --print columns    # the header, one name a line
    python3 bench/gen.py --print-labels                       # labels of the random shape, one a line

Shapes (`--shape`, default `random`):

* random — the first benchmark's file: email,first_name,last_name,company_id,
  labels,plan,seats. ASCII and non-ASCII names (a few needing CSV quotes),
  some non-ASCII email local parts and IDN domains, 0-3 of 20 labels,
  company 1..=50 or empty, plan a select, seats a number; ~1 % invalid rows,
  ~2 % repeats. Same bytes as before shapes existed.
* realistic — names from a small set, so emails share long prefixes
  (`christopher.montgomery123@customer-success.example.com`); 1-3 labels by
  name on most rows, `labels_id` on a few; four custom fields: `tier`
  (select), `seats` (number written `+0012`, `0007`, `42`), `renewal`
  (date), `subscribed` (boolean as true/TRUE/Yes/no/1/0…); ~11 % rejected rows
  (every kind of fault, one a row), ~4 % repeats.
* wide — 20 custom fields (text, number, select, date, boolean), each cell
  filled three times in four; ~2 % invalid, ~2 % repeats.
* labels-heavy — 200 labels, 4-12 by name on every row, `labels_id` on ~3 %;
  ~1.5 % invalid (unknown labels and label ids), ~3 % repeats.

Repeats take the email of an earlier valid, first-seen row with other values
drawn anew. Same --shape/--rows/--seed gives the same bytes, and generation
is sequential: `--rows K` is exactly the first K rows of a larger file.

Next to the file it writes FILE.expected.json with what a correct import
reports (default options, label ids 1.. in the order `--print setup` lists
them) — fresh: rows, created, updated, unchanged, rejected, repeated; `again`:
the same counts for importing the file a second time into the result — and
the rows each baseline must hold afterwards: `distinct_emails` (sqlite3
`.import` with the email as primary key, and the sqlite3 upsert) and
`pg_baseline_rows` (the psql baseline drops rows without '@' or with a
number it cannot cast). The expected updated/unchanged counts come from
replaying every repeated email's rows through the merge rules (a non-empty
cell replaces, labels add up, canonical values compare).
"""

import argparse
import datetime
import json
import random
import sys
import time
from array import array

M64 = (1 << 64) - 1


def mix(x):
    """splitmix64's finalizer: 64 fresh bits from 64 bits."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def csv_field(s):
    """RFC 4180 quoting, only when needed."""
    if any(c in s for c in ',"\r\n') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def canon_number(s):
    neg = s.startswith("-")
    body = s[1:] if s[:1] in "+-" else s
    i, _, f = body.partition(".")
    i = i.lstrip("0") or "0"
    f = f.rstrip("0")
    out = i + ("." + f if f else "")
    return ("-" + out) if neg and out != "0" else out


def canon_bool(s):
    return "true" if s.lower() in ("true", "yes", "1") else "false"


class State:
    """A contact as the import's rules see it (canonical values)."""
    __slots__ = ("vals", "labels")

    def __init__(self):
        self.vals = {}
        self.labels = set()

    def apply(self, vals, labels):
        """Applies one accepted row; returns whether it changed anything."""
        changed = False
        for k, v in vals.items():
            if v is not None and self.vals.get(k) != v:
                self.vals[k] = v
                changed = True
        if not labels <= self.labels:
            self.labels |= labels
            changed = True
        return changed


# ---------------------------------------------------------------- random
LABELS = [
    "Marketing", "Trial", "Demo", "VIP", "Newsletter", "Partner", "Lead",
    "Customer", "Churned", "Beta", "Support", "Billing", "Webinar",
    "Conference", "Referral", "Press", "Investor", "Reseller", "Prospect",
    "Événement",
]
BAD_LABELS = ["Marketting", "marketing", "vip", "Newsleter", "TRIAL"]
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
FIRST_Q = [csv_field(n) for n, _ in FIRST]
LAST_Q = [csv_field(n) for n, _ in LAST]


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


class RandomShape:
    """The first benchmark's file, byte for byte."""
    name = "random"
    invalid = 10      # of 1024 rows
    repeat = 21

    def __init__(self, rng):
        self.label_sets = []
        for _ in range(4096):
            k = rng.randrange(4)
            self.label_sets.append(":".join(rng.sample(LABELS, k)))
        self.bad_label_sets = [
            ":".join(rng.sample(LABELS, rng.randrange(2)) + [rng.choice(BAD_LABELS)])
            for _ in range(64)
        ]
        self.companies = [""] * 15 + [str(c) for c in range(1, 51)]
        self.seats = [""] * 24 + [str(s) for s in range(1, 1001)]
        self.bad_seats = ["12abc", "ten", "1.5e3", "0x1F", "12abc"]
        self.label_id = {n: k + 1 for k, n in enumerate(LABELS)}
        self.lsets = [frozenset(self.label_id[x] for x in s.split(":") if x) for s in self.label_sets]

    @staticmethod
    def columns():
        return ["email", "first_name", "last_name", "company_id", "labels", "plan", "seats"]

    @staticmethod
    def setup():
        return {"labels": LABELS, "fields": [
            {"name": "plan", "type": "select", "options": ["Free", "Pro", "Enterprise"]},
            {"name": "seats", "type": "number"}]}

    def parts(self, r):
        return (self.companies[(r >> 10) % len(self.companies)], self.label_sets[(r >> 20) & 4095],
                PLANS[(r >> 32) & 7], self.seats[(r >> 35) % len(self.seats)])

    def valid_row(self, i, r):
        comp, labs, plan, st = self.parts(r)
        em = email_of(i)
        fn, ln = names_of(i)
        return f"{em},{fn},{ln},{comp},{labs},{plan},{st}\n"

    def invalid_row(self, i, r):
        """(line, dropped by the psql baseline)"""
        comp, labs, plan, st = self.parts(r)
        fn, ln = names_of(i)
        fault = (r & 1023) % 3
        em = email_of(i)
        if fault == 0:
            em = em.replace("@", ".", 1)
        elif fault == 1:
            st = self.bad_seats[(r >> 50) % len(self.bad_seats)]
        else:
            labs = self.bad_label_sets[(r >> 50) & 63]
        return f"{em},{fn},{ln},{comp},{labs},{plan},{st}\n", fault in (0, 1)

    def values(self, i, r):
        comp, labs, plan, st = self.parts(r)
        fn, ln = names_of(i)
        return ({"f": fn, "l": ln, "c": comp or None, "plan": plan or None, "seats": st or None},
                self.lsets[(r >> 20) & 4095])


# ---------------------------------------------------------------- realistic
R_FIRST = ["christopher", "alexandra", "jonathan", "elizabeth", "maximilian", "katherine",
           "bartholomew", "anastasia"]
R_LAST = ["montgomery", "fitzgerald", "vanderbilt", "richardson", "abernathy", "worthington"]
R_DOMAINS = ["customer-success.example.com", "enterprise-accounts.example.org", "mail.example.net"]
R_LABELS = ["Customer", "Prospect", "Newsletter", "VIP", "Partner", "Trial", "Churned",
            "Beta", "Webinar", "Reseller", "Support", "Billing"]
R_TIERS = ["Free", "Starter", "Pro", "Enterprise"]
R_TRUE = ["true", "TRUE", "True", "yes", "Yes", "YES", "1"]
R_FALSE = ["false", "FALSE", "False", "no", "No", "NO", "0"]
DAY0 = datetime.date(2023, 1, 1).toordinal()
DATES = [datetime.date.fromordinal(DAY0 + k).isoformat() for k in range(1826)]


class RealisticShape:
    name = "realistic"
    invalid = 113     # ~11 %
    repeat = 41       # ~4 %

    def __init__(self, rng):
        self.empty_emails = 0
        self.label_sets = []
        for _ in range(1024):
            self.label_sets.append(rng.sample(R_LABELS, 1 + rng.randrange(3)))
        self.label_id = {n: k + 1 for k, n in enumerate(R_LABELS)}

    @staticmethod
    def columns():
        return ["email", "first_name", "last_name", "company_id", "labels", "labels_id",
                "tier", "seats", "renewal", "subscribed"]

    @staticmethod
    def setup():
        return {"labels": R_LABELS, "fields": [
            {"name": "tier", "type": "select", "options": R_TIERS},
            {"name": "seats", "type": "number"},
            {"name": "renewal", "type": "date"},
            {"name": "subscribed", "type": "boolean"}]}

    @staticmethod
    def email(i):
        h = (i * 2654435761) & 0xFFFFFFFF
        return (R_FIRST[h % 8], R_LAST[(h >> 8) % 6],
                f"{R_FIRST[h % 8]}.{R_LAST[(h >> 8) % 6]}{i}@{R_DOMAINS[(h >> 16) % 3]}")

    def parts(self, i, r):
        f, l, em = self.email(i)
        x = mix(r)
        comp = "" if x & 7 < 2 else str(1 + (x >> 3) % 50)
        lk = (x >> 9) & 31
        if lk < 27:
            labs = self.label_sets[(x >> 14) & 1023]
            lab_s, ids = ":".join(labs), frozenset(self.label_id[n] for n in labs)
            lid_s = ""
        elif lk < 29:
            a, b = 1 + (x >> 14) % 12, 1 + (x >> 18) % 12
            lab_s, lid_s, ids = "", (f"{a}:{b}" if a != b else str(a)), frozenset((a, b))
        else:
            lab_s, lid_s, ids = "", "", frozenset()
        y = mix(x)
        tier = "" if y & 15 < 2 else R_TIERS[(y >> 4) & 3]
        n = 1 + (y >> 6) % 500
        sk = (y >> 16) & 7
        seats = ("" if sk == 0 else f"+{n:04d}" if sk < 3 else f"{n:05d}" if sk < 5
                 else f"+{n}" if sk == 5 else str(n))
        dk = (y >> 19) & 15
        renewal = "" if dk < 2 else DATES[(y >> 23) % len(DATES)]
        bk = (y >> 34) & 31
        active = "" if bk < 2 else (R_TRUE if bk & 1 else R_FALSE)[(y >> 40) % 7]
        return [em, f.capitalize(), l.capitalize(), comp, lab_s, lid_s, tier, seats, renewal, active], ids

    def valid_row(self, i, r):
        cells, _ = self.parts(i, r)
        return ",".join(cells) + "\n"

    def invalid_row(self, i, r):
        cells, _ = self.parts(i, r)
        z = mix(r ^ 0x5A5A)
        fault = z % 9
        v = (z >> 8) % 4
        drop = False
        if fault == 0:    # email
            cells[0] = [cells[0].replace("@", ".", 1), cells[0].replace("@", "@@", 1),
                        cells[0].split("@")[0] + "@", cells[0].replace("@", " at ", 1)][v]
            drop = v != 1   # the psql baseline keeps 'a@@b' (it has '_@_')
        elif fault == 1:  # number
            cells[7] = ["12abc", '"1,234"', "1.5e3", "ten"][v]
            drop = True
        elif fault == 2:  # date
            cells[8] = ["2024-02-30", "31/12/2024", "2024-13-01", "yesterday"][v]
        elif fault == 3:  # boolean
            cells[9] = ["maybe", "y", "on", "2"][v]
        elif fault == 4:  # select, a case variant or unknown
            cells[6] = ["pro", "ENTERPRISE", "Gold", "free"][v]
        elif fault == 5:  # unknown label
            cells[4] = ["Vip", "Newsleter", "customer", "Partner:Gold"][v]
            cells[5] = ""
        elif fault == 6:  # unknown label id
            cells[4], cells[5] = "", ["99", "3:77", "0", "x7"][v]
        elif fault == 7:  # unknown company
            cells[3] = ["51", "999", "1.5", "0"][v]
        else:             # empty email
            cells[0] = ""
            drop = True
            self.empty_emails += 1
        return ",".join(cells) + "\n", drop

    def values(self, i, r):
        cells, ids = self.parts(i, r)
        return ({"f": cells[1], "l": cells[2], "c": cells[3] or None, "tier": cells[6] or None,
                 "seats": canon_number(cells[7]) if cells[7] else None,
                 "renewal": cells[8] or None,
                 "subscribed": canon_bool(cells[9]) if cells[9] else None}, ids)


# ---------------------------------------------------------------- wide
W_TYPES = (["text"] * 5 + ["number"] * 5 + ["select"] * 4 + ["date"] * 3 + ["boolean"] * 3)
W_WORDS = ["Berlin", "Lisboa", "Nairobi", "Osaka", "Toronto", "Lima", "Oslo", "Pune",
           "Sales engineer", "Account manager", "Founder", "CTO", "Support lead",
           "Procurement", "Operations", "Head of growth"]
W_OPTIONS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]


class WideShape:
    name = "wide"
    invalid = 20
    repeat = 21

    def __init__(self, rng):
        self.label_sets = [rng.sample(LABELS, rng.randrange(3)) for _ in range(1024)]
        self.label_id = {n: k + 1 for k, n in enumerate(LABELS)}

    @staticmethod
    def fields():
        return [f"f{k + 1:02d}_{t}" for k, t in enumerate(W_TYPES)]

    @classmethod
    def columns(cls):
        return ["email", "first_name", "last_name", "company_id", "labels"] + cls.fields()

    @classmethod
    def setup(cls):
        out = []
        for name, t in zip(cls.fields(), W_TYPES):
            f = {"name": name, "type": t}
            if t == "select":
                f["options"] = W_OPTIONS
            out.append(f)
        return {"labels": LABELS, "fields": out}

    def parts(self, i, r):
        em = email_of(i)
        fn, ln = names_of(i)
        x = mix(r)
        comp = "" if x & 3 == 0 else str(1 + (x >> 2) % 50)
        labs = self.label_sets[(x >> 8) & 1023]
        cells = [em, fn, ln, comp, ":".join(labs)]
        vals = {"f": fn, "l": ln, "c": comp or None}
        for k, t in enumerate(W_TYPES):
            if k % 4 == 0:
                x = mix(x)
            b = (x >> (16 * (k % 4))) & 0xFFFF
            if b & 3 == 0:
                cells.append("")
                vals[k] = None
                continue
            b >>= 2
            if t == "text":
                v = c = W_WORDS[b % len(W_WORDS)]
            elif t == "number":
                v = str(b % 5000) if b & 1 else f"{(b >> 1) % 900}.{b % 100:02d}"
                c = canon_number(v)
            elif t == "select":
                v = c = W_OPTIONS[b % 6]
            elif t == "date":
                v = c = DATES[b % len(DATES)]
            else:
                v = ["true", "false", "Yes", "no"][b & 3]
                c = canon_bool(v)
            cells.append(v)
            vals[k] = c
        return cells, vals, frozenset(self.label_id[n] for n in labs)

    def valid_row(self, i, r):
        return ",".join(self.parts(i, r)[0]) + "\n"

    def invalid_row(self, i, r):
        cells = self.parts(i, r)[0]
        z = mix(r ^ 0xA5A5)
        fault = z % 4
        if fault == 0:
            cells[0] = cells[0].replace("@", ".", 1)
        elif fault == 1:
            cells[5 + 5 + (z >> 4) % 5] = "12abc"     # a number field
        elif fault == 2:
            cells[5 + 10 + (z >> 4) % 4] = "Zulu"      # a select field
        else:
            cells[5 + 14 + (z >> 4) % 3] = "2024-02-30"  # a date field
        return ",".join(cells) + "\n", fault in (0, 1)

    def values(self, i, r):
        _, vals, ids = self.parts(i, r)
        return vals, ids


# ---------------------------------------------------------------- labels-heavy
H_LABELS = [f"{w}-{k:03d}" for k, w in enumerate(
    ["segment", "campaign", "event", "source", "region"] * 40)]


class LabelsHeavyShape:
    name = "labels-heavy"
    invalid = 15
    repeat = 31

    def __init__(self, rng):
        self.label_sets = [rng.sample(range(len(H_LABELS)), 4 + rng.randrange(9)) for _ in range(4096)]

    @staticmethod
    def columns():
        return ["email", "first_name", "last_name", "labels", "labels_id"]

    @staticmethod
    def setup():
        return {"labels": H_LABELS, "fields": []}

    def parts(self, i, r):
        em = email_of(i)
        fn, ln = names_of(i)
        x = mix(r)
        ls = self.label_sets[x & 4095]
        ids = set(k + 1 for k in ls)
        lid = ""
        if (x >> 12) & 31 == 0:
            extra = [1 + (x >> (17 + 8 * j)) % len(H_LABELS) for j in range(3)]
            lid = ":".join(map(str, extra))
            ids.update(extra)
        return [em, fn, ln, ":".join(H_LABELS[k] for k in ls), lid], frozenset(ids)

    def valid_row(self, i, r):
        return ",".join(self.parts(i, r)[0]) + "\n"

    def invalid_row(self, i, r):
        cells, _ = self.parts(i, r)
        z = mix(r ^ 0x3C3C)
        if z & 1:
            cells[3] += ":" + ["Segment-001", "segment-1", "campain-007"][(z >> 1) % 3]
        else:
            cells[4] = "777"
        return ",".join(cells) + "\n", False

    def values(self, i, r):
        cells, ids = self.parts(i, r)
        return {"f": cells[1], "l": cells[2]}, ids


SHAPES = {s.name: s for s in (RandomShape, RealisticShape, WideShape, LabelsHeavyShape)}


def generate(shape_cls, rows, seed, out_path):
    rng = random.Random(seed)
    shape = shape_cls(rng)
    normal = array("I")       # row indices of valid first-seen rows
    seeds = array("Q")        # their random bits, to rebuild their values
    history = {}              # email row index -> [(row index, bits), ...] once repeated
    n_invalid = n_repeat = n_pg_drop = 0
    getbits = rng.getrandbits
    thresh_inv = shape.invalid
    thresh_rep = shape.invalid + shape.repeat
    out = open(out_path, "w", encoding="utf-8", newline="", buffering=1 << 20)
    buf = [",".join(shape.columns()) + "\n"]
    app = buf.append
    for i in range(rows):
        r = getbits(64)
        k = r & 1023
        if k < thresh_inv:
            n_invalid += 1
            line, drop = shape.invalid_row(i, r)
            n_pg_drop += drop
            app(line)
        elif k < thresh_rep and normal:
            n_repeat += 1
            pick = (r >> 45) % len(normal)
            j = normal[pick]
            h = history.get(j)
            if h is None:
                h = history[j] = [seeds[pick]]
            h.append(r)
            app(shape.valid_row(j, r))
        else:
            normal.append(i)
            seeds.append(r)
            app(shape.valid_row(i, r))
        if len(buf) >= 20000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))
    out.close()

    # Replay each repeated email's rows through the merge rules, twice.
    updated = unchanged = again_updated = 0
    for j, bits in history.items():
        rows_vals = [shape.values(j, b) for b in bits]
        st = State()
        st.apply(*rows_vals[0])
        for v in rows_vals[1:]:
            if st.apply(*v):
                updated += 1
            else:
                unchanged += 1
        for v in rows_vals:
            again_updated += st.apply(*v)
    accepted = rows - n_invalid
    expected = {
        "shape": shape.name,
        "rows": rows,
        "rejected": n_invalid,
        "repeated": n_repeat,
        "created": len(normal),
        "updated": updated,
        "unchanged": unchanged,
        "again": {"created": 0, "updated": again_updated, "unchanged": accepted - again_updated},
        # Rows with an empty email are one key to sqlite3 (the first one wins).
        "distinct_emails": rows - n_repeat - max(0, getattr(shape, "empty_emails", 0) - 1),
        "pg_baseline_rows": rows - n_repeat - n_pg_drop,
        "seed": seed,
    }
    return expected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="random", choices=sorted(SHAPES))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", help="output CSV file")
    ap.add_argument("--print", choices=["setup", "columns"],
                    help="print the shape's labels and fields (JSON) or columns, and exit")
    ap.add_argument("--print-labels", action="store_true",
                    help="print the shape's label names, one a line, and exit")
    a = ap.parse_args()
    shape = SHAPES[a.shape]
    if a.print_labels:
        print("\n".join(shape.setup()["labels"]))
        return 0
    if a.print == "setup":
        print(json.dumps(shape.setup(), ensure_ascii=False))
        return 0
    if a.print == "columns":
        print("\n".join(shape.columns()))
        return 0
    if not a.out:
        ap.error("--out FILE is required")
    if a.rows < 1:
        ap.error("--rows must be at least 1")
    t0 = time.monotonic()
    expected = generate(shape, a.rows, a.seed, a.out)
    with open(a.out + ".expected.json", "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(f"gen: wrote {a.rows} {a.shape} rows to {a.out} in {time.monotonic() - t0:.1f}s "
          f"({expected['rejected']} invalid, {expected['repeated']} repeated, "
          f"{expected['created']} distinct valid emails)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
