#!/usr/bin/env python3
"""Writes the request mixes `make bench` drives depot (and PostgreSQL) with.

From the catalog file and the imported SQLite database it writes, into OUT:

  names.txt       1,000 package names for GET /v2/snaps/info/{name}
  queries.txt     the find mix: one query per line, all distinct — one to three words drawn
                  from the catalog's own vocabulary, misspelt words and name prefixes
  refresh/N.json  refresh bodies, each with a 40-snap context asking to refresh all 40, as
                  snapd sends them
  mix.json        how many of each kind the mix holds
  catalog.csv     name, title, summary, keywords, description: the text depot indexes, for the
                  PostgreSQL full-text comparison
  queries.csv     id, query: the find mix, for pgbench

Deterministic (seeded): two runs over the same catalog write the same files.
"""

import argparse
import csv
import gzip
import json
import os
import random
import re
import sqlite3
import string
from collections import Counter

STOP = set(
    "a an and are as at be by for from in into is it its of on or that the this to with "
    "without your you via using use based files file data package".split()
)
WORD = re.compile(r"[a-z][a-z0-9]+")


def read_catalog(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def misspell(word, rng):
    """One edit: a dropped, doubled, swapped or replaced letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice("dsrx")
    if kind == "d":
        return word[:i] + word[i + 1 :]
    if kind == "s":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "x":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--db", required=True, help="depot's SQLite database after the import")
    ap.add_argument("--out", required=True)
    ap.add_argument("--queries", type=int, default=1200)
    ap.add_argument("--bodies", type=int, default=200)
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    records = read_catalog(args.catalog)
    os.makedirs(os.path.join(args.out, "refresh"), exist_ok=True)

    db = sqlite3.connect(args.db)
    ids = dict(
        db.execute("SELECT name, id FROM packages WHERE namespace = 'snap'").fetchall()
    )
    names = sorted(n for n in (r["name"] for r in records) if n in ids)
    if len(names) < 1000:
        raise SystemExit(f"only {len(names)} imported packages found in {args.db}")

    with open(os.path.join(args.out, "names.txt"), "w") as f:
        for name in rng.sample(names, 1000):
            f.write(name + "\n")

    # The vocabulary: words of summaries, weighted by how often they occur (as people's
    # queries are), without stop words.
    counts = Counter()
    for r in records:
        counts.update(w for w in WORD.findall(r.get("summary", "").lower()) if w not in STOP)
    vocab = [w for w, c in counts.items() if c >= 3 and len(w) >= 3]
    weights = [counts[w] for w in vocab]
    long_names = [n for n in names if len(n) >= 6]

    queries = []
    seen = set()

    def add(q, kind):
        if q and q not in seen:
            seen.add(q)
            queries.append((kind, q))

    target = args.queries
    while len(queries) < target * 0.6:
        n = rng.choice((1, 1, 2, 2, 3))
        add(" ".join(rng.choices(vocab, weights, k=n)), "words")
    while len(queries) < target * 0.8:
        word = rng.choice([w for w in rng.choices(vocab, weights, k=8) if len(w) >= 5] or ["editor"])
        add(misspell(word, rng), "misspelt-word")
        name = rng.choice(long_names)
        add(misspell(name, rng), "misspelt-name")
    while len(queries) < target:
        name = rng.choice(long_names)
        add(name[: rng.randint(3, min(6, len(name) - 1))], "prefix")

    rng.shuffle(queries)
    with open(os.path.join(args.out, "queries.txt"), "w") as f:
        for _, q in queries:
            f.write(q + "\n")

    fields = [
        "architectures", "base", "confinement", "contact", "created-at", "description",
        "download", "epoch", "license", "name", "prices", "private", "publisher", "revision",
        "snap-id", "summary", "title", "type", "version", "website", "store-url", "categories",
    ]
    for b in range(args.bodies):
        chosen = rng.sample(names, 40)
        body = {
            "context": [
                {
                    "snap-id": ids[n],
                    "instance-key": ids[n],
                    "revision": 1,
                    "tracking-channel": "latest/stable",
                    "refreshed-date": "2026-11-01T10:00:00Z",
                    "epoch": {"read": [0], "write": [0]},
                }
                for n in chosen
            ],
            "actions": [
                {"action": "refresh", "instance-key": ids[n], "snap-id": ids[n]} for n in chosen
            ],
            "fields": fields,
        }
        with open(os.path.join(args.out, "refresh", f"{b}.json"), "w") as f:
            json.dump(body, f, separators=(",", ":"))

    with open(os.path.join(args.out, "queries.csv"), "w", newline="") as f:
        w = csv.writer(f)
        for i, (_, q) in enumerate(queries, 1):
            w.writerow([i, q])
    with open(os.path.join(args.out, "catalog.csv"), "w", newline="") as f:
        w = csv.writer(f)
        for r in records:
            if r["name"] not in ids:
                continue
            keywords = list(r.get("keywords") or [])
            keywords += [t.split("::", 1)[-1] for t in r.get("tags") or []]
            keywords += list(r.get("categories") or []) + ([r["section"]] if r.get("section") else [])
            w.writerow(
                [
                    r["name"],
                    r.get("title") or "",
                    r.get("summary") or "",
                    " ".join(keywords),
                    r.get("description") or "",
                ]
            )

    kinds = Counter(k for k, _ in queries)
    with open(os.path.join(args.out, "mix.json"), "w") as f:
        json.dump(
            {
                "info_names": 1000,
                "find_queries": len(queries),
                "find_query_kinds": dict(kinds),
                "refresh_bodies": args.bodies,
                "refresh_context_snaps": 40,
            },
            f,
            indent=2,
        )


if __name__ == "__main__":
    main()
