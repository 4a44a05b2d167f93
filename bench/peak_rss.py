#!/usr/bin/env python3
"""Run a command; report its wall time and peak resident set size.

    python3 bench/peak_rss.py [--json FILE] [--stdout FILE] [--stderr FILE] -- CMD ARG...

Prints `wall_s peak_rss_kib exit_code` on stderr, or writes
{"wall_s":…, "peak_rss_kib":…, "exit":…} to FILE with --json. The exit status
is the command's own. Peak RSS is getrusage(RUSAGE_CHILDREN).ru_maxrss after
the child is waited for: the largest of the child and of any descendants it
waited for (Linux reports KiB), the same figure as GNU time's %M. This wrapper
itself is not included. Python 3.11 stdlib only.
"""

import argparse
import json
import resource
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the measurement to this file")
    ap.add_argument("--stdout", help="send the command's stdout to this file")
    ap.add_argument("--stderr", help="send the command's stderr to this file")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given; usage: peak_rss.py [--json FILE] -- CMD ARG...")
    out = open(a.stdout, "wb") if a.stdout else None
    err = open(a.stderr, "wb") if a.stderr else None
    t0 = time.perf_counter()
    try:
        rc = subprocess.call(cmd, stdout=out, stderr=err)
    except OSError as e:
        print(f"peak_rss: cannot run {cmd[0]!r}: {e}", file=sys.stderr)
        return 127
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss = ru.ru_maxrss
    m = {"wall_s": round(wall, 4), "peak_rss_kib": rss, "exit": rc,
         "cpu_s": round(ru.ru_utime + ru.ru_stime, 3)}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(m, f)
            f.write("\n")
    else:
        print(f"{wall:.3f} {rss} {rc}", file=sys.stderr)
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main())
