#!/usr/bin/env python3
"""pycma's IPOP and BIPOP, and Nevergrad's NGOpt, on the quality suite: the peers of `cargo xtask bench quality`.

    python3 bench/quality/pycma_peer.py SERVER CASES.json [--jobs J]

CASES.json is a list of cases {"function", "dim", "variant", "seed", "config", "budget"} with
`config` one of `pycma-ipop`, `pycma-bipop` or `ngopt`. NGOpt (nevergrad 1.0.12: `pip install
nevergrad`) runs as the issue measured it: `ng.optimizers.NGOpt` on an `ng.p.Array` with the box as
`set_bounds`, `num_workers=1`, its random state seeded, one ask and tell per evaluation, stopped once
solved; it costs about a minute per run, so `cargo xtask bench quality` does not run it but reads its
results from `bench/quality/ngopt.jsonl` (made once with this script, the command in `bench/NOTES.md`). Each case runs `SERVER --serve` (the quality benchmark's
binary), which builds the suite's function exactly as glompo's runs see it (shift and rotation
included) and evaluates the batches pycma asks for. pycma runs as the issue measured it:
`cma.fmin2(None, x0, sigma0, restarts=9, bipop=...)` with `parallel_objective`, x0 drawn uniformly
in the box at every restart, sigma0 a quarter of the mean width, the box as pycma's `bounds`, its
seed, and `ftarget` f* + 5e-7 (stopping once solved only saves time). The run is judged like
glompo's: on its first `budget` evaluations. Prints one JSON line per case:
{"function", "dim", "variant", "seed", "config", "budget", "gap", "solved_at"}.
"""
import argparse
import json
import math
import subprocess
import sys
from multiprocessing import Pool

SOLVED = 1e-6


class Spent(Exception):
    """The budget is spent: ends pycma's run."""


def objective_spec(case):
    spec = {"function": case["function"], "dim": case["dim"]}
    if case["variant"] != "plain":
        spec["shift"] = 0.4
        spec["shift_seed"] = case["seed"]
    if case["variant"] == "rotated":
        spec["rotate"] = True
        spec["rotate_seed"] = case["seed"]
    return spec


def run(args):
    server, case = args
    import numpy as np

    proc = subprocess.Popen([server, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(json.dumps(objective_spec(case)) + "\n")
        proc.stdin.flush()
        header = json.loads(proc.stdout.readline())
        fstar = header["fstar"]
        lo = np.array([b[0] for b in header["bounds"]])
        hi = np.array([b[1] for b in header["bounds"]])
        budget = case["budget"]
        state = {"count": 0, "gap": math.inf, "solved_at": None}

        def batch(xs):
            if state["count"] >= budget:
                raise Spent()
            proc.stdin.write(json.dumps([list(map(float, x)) for x in xs]) + "\n")
            proc.stdin.flush()
            values = json.loads(proc.stdout.readline())
            for v in values:
                if state["count"] >= budget:
                    break
                state["count"] += 1
                gap = v - fstar if v is not None else math.inf
                state["gap"] = min(state["gap"], gap)
                if gap < SOLVED and state["solved_at"] is None:
                    state["solved_at"] = state["count"]
            return [v if v is not None else math.inf for v in values]

        if case["config"] == "ngopt":
            import nevergrad as ng

            param = ng.p.Array(shape=(len(lo),)).set_bounds(lo, hi)
            param.random_state = np.random.RandomState(case["seed"])
            opt = ng.optimizers.NGOpt(parametrization=param, budget=budget, num_workers=1)
            for _ in range(budget):
                cand = opt.ask()
                (v,) = batch([cand.value])
                opt.tell(cand, v)
                if state["solved_at"] is not None:
                    break
            raise Spent()
        rng = np.random.default_rng(case["seed"])
        sigma0 = 0.25 * float(np.mean(hi - lo))
        options = {
            "bounds": [list(lo), list(hi)],
            "seed": case["seed"],
            "ftarget": fstar + 5e-7,
            "maxfevals": budget,
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
        }
        import cma

        cma.fmin2(
            None,
            lambda: rng.uniform(lo, hi),
            sigma0,
            options,
            restarts=9,
            bipop=case["config"] == "pycma-bipop",
            parallel_objective=batch,
        )
    except Spent:
        pass
    finally:
        proc.stdin.close()
        proc.wait()
    out = {k: case[k] for k in ("function", "dim", "variant", "seed", "config", "budget")}
    out["gap"] = state["gap"] if math.isfinite(state["gap"]) else None
    out["solved_at"] = state["solved_at"]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("server")
    p.add_argument("cases")
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    with open(a.cases) as fh:
        cases = json.load(fh)
    with Pool(a.jobs) as pool:
        for out in pool.imap(run, [(a.server, c) for c in cases]):
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")
    sys.exit(main())
