#!/usr/bin/env python3
"""pycma's time per generation (ask, evaluate the sphere, tell), for comparison with
`cargo bench -p glompo-optimizers --bench cma_es`, in the same setting: default options, x0 = 1·1,
sigma0 = 0.5, 40 generations (120 for n >= 1000) from a fresh start, repeated and the median taken.

    OMP_NUM_THREADS=1 python3 bench/speed/pycma_speed.py [--dims 10,100,200,1000] [--repeats 3]

Run it with one BLAS thread (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1) to compare with the
single-threaded Rust implementations.
"""
import argparse
import statistics
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
import cma  # noqa: E402


def generations(n):
    return 120 if n >= 1000 else 40


def run(n):
    opts = {"seed": 1, "verbose": -9, "verb_log": 0, "verb_disp": 0, "signals_filename": ""}
    es = cma.CMAEvolutionStrategy(n * [1.0], 0.5, opts)
    start = time.perf_counter()
    for _ in range(generations(n)):
        xs = es.ask()
        es.tell(xs, [float(np.dot(x, x)) for x in xs])
    return (time.perf_counter() - start) / generations(n)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dims", default="10,100,200,1000")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(f"pycma {cma.__version__.split()[0]}, time per generation (median of {a.repeats} runs)")
    for n in (int(d) for d in a.dims.split(",")):
        t = statistics.median(run(n) for _ in range(a.repeats))
        print(f"n = {n:5d}: {t * 1e3:9.3f} ms")


if __name__ == "__main__":
    main()
