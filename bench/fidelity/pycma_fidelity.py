#!/usr/bin/env python3
"""The pycma side of the CMA-ES fidelity benchmark.

Runs pycma (the `cma` package from PyPI) with its default options on the sphere, the ellipsoid
(condition 1e6) and Rosenbrock, through ask/tell without bounds, and prints one JSON line per run with
the number of evaluations it took to reach f < 1e-8, in the same format as
`cargo run --release -p glompo-optimizers --example fidelity`.

    python3 bench/fidelity/pycma_fidelity.py [--problems sphere,elli,rosen] [--dims 2,5,10,20,40]
                                             [--seeds 11] [--target 1e-8] [--popsize-factor 1]

The only options given are the seed, `popsize_factor` (1 by default, that is pycma's default
population) and those that silence pycma's console and file output.
"""
import argparse
import json
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import cma  # noqa: E402


def sphere(x):
    return float(np.dot(x, x))


def elli(x):
    n = len(x)
    if n == 1:
        return float(x[0] ** 2)
    return float(np.sum(1e6 ** (np.arange(n) / (n - 1)) * np.asarray(x) ** 2))


def rosen(x):
    x = np.asarray(x)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


PROBLEMS = {"sphere": (sphere, 3.0), "elli": (elli, 3.0), "rosen": (rosen, 0.0)}


def run_one(name, n, seed, target, factor):
    f, x0 = PROBLEMS[name]
    opts = {"seed": seed, "verbose": -9, "verb_log": 0, "verb_disp": 0, "signals_filename": ""}
    if factor != 1:
        opts["popsize_factor"] = factor
    es = cma.CMAEvolutionStrategy(n * [x0], 1.0, opts)
    start = time.perf_counter()
    evals, fbest = 0, np.inf
    while True:
        xs = es.ask()
        fs = []
        for x in xs:
            fx = f(x)
            evals += 1
            fbest = min(fbest, fx)
            if fx < target:
                return evals, True, fbest, "target", time.perf_counter() - start
            fs.append(fx)
        es.tell(xs, fs)
        stop = es.stop()
        if stop:
            reason = ",".join(stop.keys())
            return evals, False, fbest, reason, time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", default="sphere,elli,rosen")
    p.add_argument("--dims", default="2,5,10,20,40")
    p.add_argument("--seeds", type=int, default=11)
    p.add_argument("--target", type=float, default=1e-8)
    p.add_argument("--popsize-factor", type=float, default=1.0)
    a = p.parse_args()
    for name in a.problems.split(","):
        for n in (int(d) for d in a.dims.split(",")):
            for seed in range(1, a.seeds + 1):
                evals, success, fbest, reason, seconds = run_one(name, n, seed, a.target,
                                                                 a.popsize_factor)
                record = {"impl": "pycma " + cma.__version__.split()[0], "problem": name, "n": n,
                          "seed": seed, "popsize_factor": a.popsize_factor, "evals": evals,
                          "success": success, "fbest": fbest, "reason": reason, "seconds": seconds}
                print(json.dumps(record), flush=True)

if __name__ == "__main__":
    main()
