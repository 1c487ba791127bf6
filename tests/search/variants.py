#!/usr/bin/env python3
"""Writes the generated typo and prefix judgment sets of tests/search from the 1,779-app catalog.

  typos-and-prefixes.tsv  for the 400 most depended-on apps with one-word names of five letters
                          or more: the name with one typo (two letters swapped, one dropped,
                          doubled or replaced) and the name cut short to a prefix no other
                          name starts with; the app is the one right answer.
  typos-in-names.tsv      names of several words (`claws-mail`) typed as words with one typo
                          in the longest word (`clws mail`).

Deterministic (seeded). Usage: tests/search/variants.py ../shared/data/apps.jsonl tests/search
"""

import json
import os
import random
import sys


def misspell(word, rng, kinds):
    """`word` with one typo of one of `kinds` at a letter other than the first and last."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(kinds)
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    letters = "aeiou" if word[i] in "aeiou" else "bcdfgklmnprst"
    return word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1 :]


def main():
    catalog, out = sys.argv[1], sys.argv[2]
    apps = [json.loads(line) for line in open(catalog, encoding="utf-8") if line.strip()]
    names = {a["name"] for a in apps}
    apps.sort(key=lambda a: (-a.get("rdepends", 0), a["name"]))

    rng = random.Random(7)
    typos, prefixes = [], []
    for a in apps[:400]:
        name = a["name"]
        if not name.isalpha() or len(name) < 5:
            continue
        typo = misspell(name, rng, ["swap", "drop", "double", "replace"])
        if typo != name and typo not in names:
            typos.append((typo, name))
        prefix = name[: max(4, len(name) - 3)]
        if prefix != name and sum(1 for n in names if n.startswith(prefix)) == 1:
            prefixes.append((prefix, name))
    with open(os.path.join(out, "typos-and-prefixes.tsv"), "w", encoding="utf-8") as f:
        f.write("query_id\tquery\tpackage\tgrade\n")
        for k, (q, name) in enumerate(typos[:80]):
            f.write(f"t{k:02d}\t{q}\t{name}\t3\n")
        for k, (q, name) in enumerate(prefixes[:80]):
            f.write(f"p{k:02d}\t{q}\t{name}\t3\n")

    rng = random.Random(11)
    rows = []
    for a in apps:
        parts = a["name"].split("-")
        if len(parts) < 2 or not all(p.isalpha() for p in parts):
            continue
        longest = max(range(len(parts)), key=lambda i: len(parts[i]))
        word = parts[longest]
        if len(word) < 5:
            continue
        typo = misspell(word, rng, ["swap", "drop", "double"])
        if typo == word:
            continue
        rows.append((" ".join(parts[:longest] + [typo] + parts[longest + 1 :]), a["name"]))
        if len(rows) == 60:
            break
    with open(os.path.join(out, "typos-in-names.tsv"), "w", encoding="utf-8") as f:
        f.write("query_id\tquery\tpackage\tgrade\n")
        for k, (q, name) in enumerate(rows):
            f.write(f"m{k:02d}\t{q}\t{name}\t3\n")


if __name__ == "__main__":
    main()
