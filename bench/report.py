#!/usr/bin/env python3
"""Turns one `make bench` run's raw output into bench/results/<time>.json and .md: every
figure, its ratio to the ceiling or to PostgreSQL, and each target met or missed."""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def environment(args):
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kib = int(line.split()[1])
    commit = sh("git", "rev-parse", "--short", "HEAD")
    if sh("git", "status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "commit": commit,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "rustc": sh("rustc", "-V"),
        "wrk": (sh("wrk", "-v") or "").splitlines()[0] if sh("wrk", "-v") else "wrk",
        "postgresql": sh("psql", "--version"),
        "catalog": os.path.basename(args.catalog),
        "duration_s": args.duration,
        "wrk_threads": args.threads,
        "depot": "release build, SQLite, default configuration (search rate limit off)",
    }


def parse_import(path):
    text = open(path).read()
    m = re.search(r"imported (\d+) of (\d+) packages in ([\d.]+) s", text)
    if not m:
        raise SystemExit(f"{path}: no import summary in:\n{text}")
    imported, total, secs = int(m[1]), int(m[2]), float(m[3])
    return {
        "packages": imported,
        "of": total,
        "seconds": secs,
        "packages_per_s": round(imported / secs),
    }


def wrk_run(raw, name):
    d = json.load(open(os.path.join(raw, f"{name}.json")))
    secs = d["duration_us"] / 1e6
    errors = sum(d["errors"].values())
    lat = d["latency_us"]
    return {
        "requests": d["requests"],
        "rps": round(d["requests"] / secs),
        "errors": errors,
        "error_detail": d["errors"],
        "latency_ms": {k: round(v / 1000, 2) for k, v in lat.items()},
    }


def pgbench_run(raw, name):
    text = open(os.path.join(raw, f"{name}.txt")).read()
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    if not m:
        raise SystemExit(f"pgbench {name} failed:\n{text}")
    lat = []
    failed = 0
    with open(os.path.join(raw, f"{name}.log")) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                if parts[2] in ("failed", "skipped"):
                    failed += 1
                else:
                    lat.append(int(parts[2]))
    lat.sort()

    def pct(p):
        return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1000, 2) if lat else None

    return {
        "requests": len(lat),
        "rps": round(float(m[1])),
        "errors": failed,
        "latency_ms": {
            "mean": round(statistics.mean(lat) / 1000, 2) if lat else None,
            "p50": pct(50),
            "p90": pct(90),
            "p99": pct(99),
            "p999": pct(99.9),
            "max": round(lat[-1] / 1000, 2) if lat else None,
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--mix", required=True)
    ap.add_argument("--connections", required=True)
    ap.add_argument("--duration", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--catalog", required=True)
    ap.add_argument("--depot", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown", required=True)
    args = ap.parse_args()
    raw = args.raw
    levels = [int(c) for c in args.connections.split()]

    def runs(kind, name):
        return [kind(open(os.path.join(raw, name.format(i))).read()) for i in (1, 2, 3)]

    cold = runs(float, "cold-start-{}.txt")
    rss = runs(int, "rss-kib-cold-start-{}.txt")
    warm = runs(float, "cold-start-checkpoint-{}.txt")
    warm_rss = runs(int, "rss-kib-cold-start-checkpoint-{}.txt")
    results = {
        "environment": environment(args),
        "mix": json.load(open(args.mix)),
        "import": {
            "sqlite": parse_import(os.path.join(raw, "import-sqlite.txt")),
            "postgres": parse_import(os.path.join(raw, "import-postgres.txt")),
        },
        # Starts that build the search index (no checkpoint: a first start, or the first
        # after an upgrade that changes what is indexed) and starts that read the checkpoint an earlier one wrote.
        "cold_start": {
            "runs_s": cold,
            "median_s": statistics.median(cold),
            "rss_mib": round(statistics.median(rss) / 1024),
        },
        "cold_start_from_checkpoint": {
            "runs_s": warm,
            "median_s": statistics.median(warm),
            "rss_mib": round(statistics.median(warm_rss) / 1024),
        },
        "visibility": json.load(open(os.path.join(raw, "visibility.json"))),
        "http": {},
    }
    for c in levels:
        level = {
            name: wrk_run(raw, f"{name}-c{c}")
            for name in ("ceiling", "healthz", "info", "refresh", "find")
        }
        level["pg-fts"] = pgbench_run(raw, f"pg-fts-c{c}")
        ceiling = level["ceiling"]["rps"]
        for name in ("healthz", "info", "refresh", "find"):
            level[name]["of_ceiling"] = round(level[name]["rps"] / ceiling, 3)
        level["find"]["of_pg_fts"] = round(level["find"]["rps"] / max(1, level["pg-fts"]["rps"]), 1)
        results["http"][str(c)] = level

    top = str(max(levels))
    low = str(min(levels))
    h = results["http"]
    targets = []

    def target(what, goal, measured, met):
        targets.append({"target": what, "goal": goal, "measured": measured, "met": bool(met)})

    imp = results["import"]["sqlite"]
    target("import 63,666 packages (SQLite)", "well under 60 s", f"{imp['seconds']} s", imp["seconds"] < 45)
    target(
        f"info rate vs bare axum ({top} conns)",
        ">= 60 %",
        f"{h[top]['info']['of_ceiling']:.0%}",
        h[top]["info"]["of_ceiling"] >= 0.6,
    )
    for c in levels:
        target(
            f"refresh, 40 snaps ({c} conns)",
            ">= 10,000 req/s, p99 < 10 ms" if str(c) == top else "(for reference)",
            f"{h[str(c)]['refresh']['rps']:,} req/s, p99 {h[str(c)]['refresh']['latency_ms']['p99']} ms",
            (h[str(c)]["refresh"]["rps"] >= 10000 and h[str(c)]["refresh"]["latency_ms"]["p99"] < 10)
            if str(c) == top
            else True,
        )
    for c in levels:
        f = h[str(c)]["find"]
        target(
            f"find p99 ({c} conns)",
            "< 5 ms",
            f"{f['latency_ms']['p99']} ms",
            f["latency_ms"]["p99"] < 5,
        )
        target(
            f"find rate vs PostgreSQL FTS ({c} clients each)",
            ">= 10x",
            f"{f['of_pg_fts']}x ({f['rps']:,} vs {h[str(c)]['pg-fts']['rps']:,} req/s)",
            f["of_pg_fts"] >= 10,
        )
    for key, label in (
        ("cold_start_from_checkpoint", "cold start, 63,666 packages, index from its checkpoint"),
        ("cold_start", "cold start, 63,666 packages, index built (first start)"),
    ):
        median = results[key]["median_s"]
        target(label, "< 3 s", f"{median:.2f} s (median of 3)", median < 3)
    vis = results["visibility"]["after_commit"]
    target(
        "release on one process visible on another (PostgreSQL)",
        "< 1 s",
        f"median {vis['median_ms']} ms, max {vis['max_ms']} ms",
        vis["max_ms"] < 1000,
    )
    errors = {f"{n}-c{c}": h[str(c)][n]["errors"] for c in levels for n in h[str(c)]}
    target("no errors in any run", "0", str(sum(errors.values())), sum(errors.values()) == 0)
    results["targets"] = targets
    results["errors"] = errors

    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")

    env = results["environment"]
    md = [
        "# depot benchmark results",
        "",
        f"Commit {env['commit']}; {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB; "
        f"kernel {env['kernel']}; {env['rustc']}; {env['wrk']}; {env['postgresql']}.",
        f"Catalog {env['catalog']}; {env['depot']}. Load: wrk, {env['wrk_threads']} threads, "
        f"{env['duration_s']} s per run, on loopback, sharing the machine's cores with the server.",
        f"Mix: {results['mix']['info_names']} names for info; {results['mix']['find_queries']} distinct "
        f"find queries ({', '.join(f'{v} {k}' for k, v in results['mix']['find_query_kinds'].items())}); "
        f"{results['mix']['refresh_bodies']} refresh bodies of {results['mix']['refresh_context_snaps']} snaps.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | met |",
        "| --- | --- | --- | --- |",
    ]
    for t in targets:
        md.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    md += ["", "## HTTP", ""]
    for c in levels:
        md += [
            f"### {c} connections",
            "",
            "| endpoint | req/s | of ceiling | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        level = h[str(c)]
        for name in ("ceiling", "healthz", "info", "refresh", "find", "pg-fts"):
            r = level[name]
            lat = r["latency_ms"]
            share = f"{r['rps'] / level['ceiling']['rps']:.0%}"
            label = {
                "ceiling": "bare axum, constant body",
                "healthz": "GET /healthz (depot's request layers alone)",
                "info": "GET /v2/snaps/info/{name}",
                "refresh": "POST /v2/snaps/refresh (40 snaps)",
                "find": "GET /v2/snaps/find",
                "pg-fts": "PostgreSQL FTS (pgbench, same queries)",
            }[name]
            md.append(
                f"| {label} | {r['rps']:,} | {share} | {lat['p50']} | {lat['p90']} | {lat['p99']} | {lat['p999']} | {r['errors']} |"
            )
        md.append("")
    md += [
        "## Import, cold start, visibility",
        "",
        f"* Import into SQLite: {imp['packages']:,} packages in {imp['seconds']} s ({imp['packages_per_s']:,}/s); "
        f"into PostgreSQL: {results['import']['postgres']['packages']:,} in {results['import']['postgres']['seconds']} s.",
        f"* Cold start (process start to /readyz answering, catalog and search index loaded), "
        f"reading the index from the checkpoint an earlier start wrote: "
        f"{', '.join(f'{c:.2f}' for c in warm)} s; resident memory "
        f"{results['cold_start_from_checkpoint']['rss_mib']} MiB.",
        f"* Cold start building the index (no checkpoint: a first start, or the first after an "
        f"upgrade that changes what is indexed): {', '.join(f'{c:.2f}' for c in cold)} s; resident memory "
        f"{results['cold_start']['rss_mib']} MiB.",
        f"* A release on one process served by a second one sharing PostgreSQL, after the release "
        f"request returned: median {vis['median_ms']} ms, p90 {vis['p90_ms']} ms, max {vis['max_ms']} ms "
        f"({vis['count']} releases).",
        "",
    ]
    with open(args.markdown, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
