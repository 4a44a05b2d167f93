#!/usr/bin/env python3
"""Single-client latency of the API, one keep-alive request at a time,
over the request lists that bench/api.sh writes (bench/out/api-*.txt):
the latency distribution without queueing, the pages that came back short
with a `next` cursor, and the slowest requests.

    python3 bench/api_single.py HOST:PORT TOKEN bench/out/api-search.txt [COUNT]
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    host, port = sys.argv[1].rsplit(":", 1)
    token, path = sys.argv[2], sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    lines = [l.split(" ", 1)[1].strip() for l in open(path) if l.startswith("GET ")][:count]
    conn = http.client.HTTPConnection(host, int(port))
    res = []
    for p in lines:
        t = time.perf_counter()
        conn.request("GET", p, headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t) * 1000
        if r.status != 200:
            sys.exit(f"{p}: HTTP {r.status}: {body[:200]!r}")
        d = json.loads(body)
        res.append((ms, len(d["items"]), d.get("next") is not None, urllib.parse.unquote(p)))
    res.sort()
    ds = [r[0] for r in res]
    q = lambda f: ds[min(len(ds) - 1, int(f * len(ds)))]
    print(f"n={len(ds)} mean={statistics.mean(ds):.2f} p50={q(.5):.2f} p90={q(.9):.2f} "
          f"p99={q(.99):.2f} max={ds[-1]:.2f} ms")
    short = sum(1 for r in res if r[2] and r[1] < 50)
    print(f"pages short of a full page with a next cursor: {short}")
    for r in res[-12:]:
        print(f"  {r[0]:8.2f} ms items={r[1]:3d} next={r[2]} {r[3]}")


if __name__ == "__main__":
    main()
