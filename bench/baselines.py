#!/usr/bin/env python3
"""SQL of the benchmark's baselines for one file shape (Python 3.11 stdlib only).

    python3 bench/baselines.py SHAPE sqlite-schema          # CREATE TABLE contacts(email TEXT PRIMARY KEY, …)
    python3 bench/baselines.py SHAPE sqlite-staging         # CREATE TEMP TABLE staging(…)
    python3 bench/baselines.py SHAPE sqlite-upsert          # INSERT … SELECT … ON CONFLICT DO UPDATE
    python3 bench/baselines.py SHAPE sqlite-search SQL_FILE # roster's search index table
    python3 bench/baselines.py SHAPE sqlite-search-fill     # …filled after the .import
    python3 bench/baselines.py SHAPE pg SCHEMA FILE [INDEXDEF_FILE]   # the whole psql script

The columns come from `gen.py --shape SHAPE`. Every column but the email is
kept as text, except the number custom fields on PostgreSQL, which are cast
to `numeric` (rows whose number does not cast are dropped, with rows
without '@': a token of validation so the casts succeed). Both upserts
lowercase the email and keep a column's old value where the file's cell is
empty (roster's merge rule, minus labels as a set).

Roster keeps a substring search index over email and names, updated with
every write: an FTS5 trigram table with triggers on SQLite, a `pg_trgm` GIN
index on PostgreSQL. `sqlite-search` and `pg … INDEXDEF_FILE` give the
baselines the same index, from definitions run.sh reads out of a database
roster created (so they follow roster's schema), for the like-for-like
comparison.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402


def q(name):
    return '"' + name.replace('"', '""') + '"'


def main():
    shape, what = sys.argv[1], sys.argv[2]
    cls = gen.SHAPES[shape]
    cols = cls.columns()
    rest = cols[1:]
    numbers = {f["name"] for f in cls.setup()["fields"] if f["type"] == "number"}
    if what == "sqlite-schema":
        print(f"CREATE TABLE IF NOT EXISTS contacts(email TEXT PRIMARY KEY, {', '.join(map(q, rest))});")
    elif what == "sqlite-staging":
        print(f"CREATE TEMP TABLE staging({', '.join(map(q, cols))});")
    elif what == "sqlite-upsert":
        sel = ", ".join(f"nullif({q(c)},'')" for c in rest)
        upd = ", ".join(f"{q(c)}=coalesce(excluded.{q(c)},{q(c)})" for c in rest)
        print(f"INSERT INTO contacts SELECT lower(trim(email)), {sel} FROM staging WHERE true ORDER BY rowid "
              f"ON CONFLICT(email) DO UPDATE SET {upd};")
    elif what == "sqlite-search":
        # roster's own index table (`SELECT sql FROM sqlite_master` of a
        # roster database, in argv[3]) on a table whose row id is `rowid`,
        # filled the way roster fills it for the contacts an import creates:
        # one INSERT … SELECT after the rows (`sqlite-search-fill`).
        sql = open(sys.argv[3]).read()
        table = sql[:sql.index(";") + 1]
        print(table.replace("content_rowid = 'id'", "content_rowid = 'rowid'"))
    elif what == "sqlite-search-fill":
        print("INSERT INTO contacts_search (rowid, email, first_name, last_name) "
              "SELECT rowid, email, first_name, last_name FROM contacts;")
    elif what == "pg":
        schema, path = sys.argv[3], sys.argv[4]
        index = ""
        if len(sys.argv) > 5:
            # roster's own index definition (pg_indexes.indexdef, in argv[5]),
            # on the baseline's table.
            d = open(sys.argv[5]).read().strip()
            d = re.sub(r"^CREATE INDEX \S+ ON \S+", "CREATE INDEX IF NOT EXISTS flat_search ON flat", d)
            index = d + ";"
        typed = ", ".join(f"{q(c)} {'numeric' if c in numbers else 'text'}" for c in rest)
        sel = ", ".join(f"nullif({q(c)},'')" + ("::numeric" if c in numbers else "") for c in rest)
        upd = ", ".join(f"{q(c)} = coalesce(excluded.{q(c)}, flat.{q(c)})" for c in rest)
        ok = "".join(f" AND ({q(c)} IS NULL OR {q(c)} = '' OR {q(c)} ~ '^[+-]?[0-9]+(\\.[0-9]+)?$')" for c in rest if c in numbers)
        print(f"""CREATE SCHEMA IF NOT EXISTS {schema};
SET search_path = {schema}, public;
CREATE TABLE IF NOT EXISTS flat(email text PRIMARY KEY, {typed});
{index}
CREATE TEMP TABLE staging(n bigserial, {', '.join(q(c) + ' text' for c in cols)});
\\copy staging({', '.join(map(q, cols))}) FROM '{path}' WITH (FORMAT csv, HEADER true)
INSERT INTO flat
SELECT DISTINCT ON (lower(trim(email))) lower(trim(email)), {sel}
FROM staging
WHERE email LIKE '%_@_%'{ok}
ORDER BY lower(trim(email)), n DESC
ON CONFLICT (email) DO UPDATE SET {upd};""")
    else:
        sys.exit(f"unknown: {what}")


if __name__ == "__main__":
    main()
