#!/usr/bin/env python3
"""Cross-process change visibility (make bench): releases a revision on one depot process and
times how long until a second one, sharing the PostgreSQL database, serves it.

For each of --count packages: POST /v1/snap/{name}/releases (revision 1 to latest/edge) on
--writer, then poll GET /v2/snaps/info/{name} on --reader every millisecond until its channel
map has the edge entry. Prints JSON: the times from the writer's answer (the commit) and from
the request being sent, in milliseconds.
"""

import argparse
import json
import statistics
import time
import urllib.request


def call(url, method="GET", body=None, token=None):
    headers = {"Snap-Device-Series": "16"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def edge(info):
    """The channel map's edge entries (a closed edge shows what it falls back to, so the
    release is seen by the entries changing, not by edge appearing)."""
    return [e for e in info.get("channel-map", []) if e["channel"]["risk"] == "edge"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writer", required=True)
    ap.add_argument("--reader", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--names", required=True)
    ap.add_argument("--count", type=int, default=30)
    args = ap.parse_args()
    names = [n.strip() for n in open(args.names) if n.strip()][: args.count]
    after_commit, after_send = [], []
    for name in names:
        info_url = f"{args.reader}/v2/snaps/info/{name}"
        before = edge(call(info_url))
        sent = time.monotonic()
        call(
            f"{args.writer}/v1/snap/{name}/releases",
            "POST",
            [{"channel": "edge", "revision": 1}],
            args.token,
        )
        committed = time.monotonic()
        while edge(call(info_url)) == before:
            if time.monotonic() - sent > 30:
                raise SystemExit(f"the reader never showed {name} on edge")
            time.sleep(0.001)
        seen = time.monotonic()
        after_commit.append((seen - committed) * 1000)
        after_send.append((seen - sent) * 1000)

    def stats(xs):
        xs = sorted(xs)
        return {
            "count": len(xs),
            "median_ms": round(statistics.median(xs), 1),
            "p90_ms": round(xs[int(0.9 * (len(xs) - 1))], 1),
            "max_ms": round(xs[-1], 1),
        }

    print(json.dumps({"after_commit": stats(after_commit), "after_send": stats(after_send)}))


if __name__ == "__main__":
    main()
