#!/usr/bin/env python3
"""Writes the byte-exact CSV fixtures of the behaviour suite (tests/data).

The files are committed; this script documents how each was made. Run it
from this folder: python3 make_fixtures.py
"""
from pathlib import Path

OUT = Path(__file__).parent / "contacts"
OUT.mkdir(exist_ok=True)

HEADER = "email,first_name,last_name,company_id,labels,labels_id,plan,seats,renewal,vip,note"


def w(name, text, encoding="utf-8", bom=b"", newline="\n"):
    data = text.replace("\n", newline).encode(encoding)
    (OUT / name).write_bytes(bom + data)


w("basic.csv", f"""{HEADER}
ann@example.com,Ann,Lee,1,Marketing:Trial,,Pro,10,2025-01-31,yes,first customer
Bob@Example.COM,Bob,,,,3,,+007.50,,0,
""")

w("bom.csv", "email,first_name\nzoë@example.com,Zoë\n", bom=b"\xef\xbb\xbf")

w("crlf.csv", "email,first_name,last_name\nann@example.com,Ann,Lee\nbob@example.com,Bob,\nbad-email,X,Y\n", newline="\r\n")

w("quoted_newlines.csv", '''email,first_name,note
ann@example.com,"Ann, the ""first""","line one
line two"
bob@example.com,Bob,"multi
line
note"
not-an-email,Carl,x
''')

w("windows1252.csv", "email,first_name,last_name\nm.mueller@example.de,Jürgen,Müller\nzoe@example.fr,Zoë,Dœuf\n", encoding="cp1252")

w("utf16le.csv", "email\tfirst_name\tlast_name\nann@example.com\tÅsa\tNyström\nwang@example.cn\t芳\t王\n",
  encoding="utf-16-le", bom=b"\xff\xfe", newline="\r\n")

w("utf16be.csv", "email,first_name\nann@example.com,Ånn\n", encoding="utf-16-be", bom=b"\xfe\xff")

w("semicolon.csv", "email;first_name;last_name;seats\nann@example.com;Ann;Lee, Jr.;12.50\nbob@example.com;\"Bob; B.\";;3\n")

w("uppercase_header.csv", "Email,First_Name\nann@example.com,Ann\n")

w("unknown_column.csv", "email,frist_name,phone\nann@example.com,Ann,555\n")

w("repeated_column.csv", "email,first_name,first_name\nann@example.com,Ann,Annie\n")

w("short_row.csv", "email,first_name,last_name\nann@example.com,Ann,Lee\nbob@example.com,Bob\ncarl@example.com,Carl,Cole,extra\ndee@example.com,Dee,Dunn\n")

w("bad_email.csv", """email,first_name
ann@example.com,Ann
ann.example.com,NoAt
bob@example,OneLabel
carl@exam ple.com,Space
dee@example.test,Reserved
"Eve <eve@example.com>",DisplayName
.fay@example.com,LeadingDot
gus@例え.jp,IDN
""")

w("unknown_label.csv", """email,labels,labels_id
ann@example.com,Marketing:Nope,
bob@example.com,,99
carl@example.com,Trial:,2
dee@example.com, Demo : Trial ,1
""")

w("case_variant_label.csv", "email,labels\nann@example.com,marketing\nbob@example.com,MARKETING:Trial\n")

w("bad_values.csv", f"""{HEADER}
a1@example.com,,,,,,Gold,,,,
a2@example.com,,,,,,pro,,,,
a3@example.com,,,,,,,1.23457E+11,,,
a4@example.com,,,,,,,"1,234",,,
a5@example.com,,,,,,,,2023-02-29,,
a6@example.com,,,,,,,,31/01/2025,,
a7@example.com,,,,,,,,,maybe,
a8@example.com,,,,,,,-0.50,2024-02-29,TRUE,ok
a9@example.com,,,7,,,,,,,
b1@example.com,,,x1,,,,,,,
""")

w("repeated_emails.csv", """email,first_name,last_name,labels,seats
ann@example.com,Ann,,Marketing,1
bob@example.com,Bob,,,
ANN@example.com,Annie,Lee,Trial,
ann@example.com,,,,2
bob@example.com,Bob,,,
""")

w("update_full.csv", f"""{HEADER}
ann@example.com,Ann,Lee,1,Marketing,,Pro,10,2025-01-31,true,keep me
""")

w("update_empty_cells.csv", f"""{HEADER}
ann@example.com,,,,,,,,,,
ann@example.com,,Leigh,,,,,,,,
""")

w("blank_lines.csv", "email,first_name,,last_name\nann@example.com,Ann,,Lee\n,,,\n\n  ,  ,,\nbob@example.com,Bob,oops,Bee\n")

w("google_export.csv", "Name,Given Name,E-mail 1 - Value,Phone 1 - Value,Notes\nAnn Lee,Ann,ann@example.com,555,hi\n")
print("fixtures written to", OUT)
