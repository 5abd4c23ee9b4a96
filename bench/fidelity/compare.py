#!/usr/bin/env python3
"""Compares the fidelity runs of glompo's CMA-ES and pycma and prints a Markdown table.

    python3 bench/fidelity/compare.py GLOMPO.jsonl PYCMA.jsonl [--tolerance 0.2]

For each problem and dimension it shows the median number of evaluations to reach the target over the
successful runs, the success counts and the ratio of the medians; a ratio outside 1 ± tolerance or
different success counts are flagged. Exits with 1 if anything is flagged.
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict


def load(path):
    runs = defaultdict(list)
    impl = None
    with open(path) as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                impl = r["impl"]
                runs[(r["problem"], r["n"])].append(r)
    return impl, runs


def summary(runs):
    ok = [r["evals"] for r in runs if r["success"]]
    median = statistics.median(ok) if ok else float("nan")
    fails = sorted({r["reason"] for r in runs if not r["success"]})
    return median, len(ok), len(runs), fails


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ours")
    p.add_argument("reference")
    p.add_argument("--tolerance", type=float, default=0.2)
    a = p.parse_args()
    name_a, ours = load(a.ours)
    name_b, ref = load(a.reference)
    print(f"| problem | n | {name_a} median | {name_b} median | ratio | {name_a} successes "
          f"| {name_b} successes | |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    flagged = 0
    for key in sorted(ours, key=lambda k: (["sphere", "elli", "rosen"].index(k[0]), k[1])):
        if key not in ref:
            continue
        ma, sa, ta, fa = summary(ours[key])
        mb, sb, tb, fb = summary(ref[key])
        ratio = ma / mb if mb == mb and mb else float("nan")
        bad = not (abs(ratio - 1) <= a.tolerance) or sa != sb
        flagged += bad
        note = "**deviates**" if bad else ""
        if fa or fb:
            note += f" failures: {','.join(fa) or '-'} / {','.join(fb) or '-'}"
        print(f"| {key[0]} | {key[1]} | {ma:.0f} | {mb:.0f} | {ratio:.3f} | {sa}/{ta} | {sb}/{tb} | {note} |")
    sys.exit(1 if flagged else 0)


if __name__ == "__main__":
    main()
