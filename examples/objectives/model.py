#!/usr/bin/env python3
"""A persistent objective: glompo starts this program once per worker and sends it one request per
line on stdin, {"x": [...], "opt_id": 3, "eval_id": 12} (with "call_id" where it is known and
"scratch" when the config asks for scratch directories); it answers one line per request on stdout.

It fits a decaying oscillation y = a exp(-b t) cos(c t + d) to data it makes itself, so the minimum
(0 at a=2, b=0.3, c=1.5, d=0.5) is known. Anything printed for a person goes to stderr.
"""
import json
import math
import sys

TRUE = (2.0, 0.3, 1.5, 0.5)
TIMES = [0.25 * i for i in range(40)]


def model(p, t):
    a, b, c, d = p
    return a * math.exp(-b * t) * math.cos(c * t + d)


DATA = [model(TRUE, t) for t in TIMES]


def main():
    for line in sys.stdin:
        request = json.loads(line)
        p = request["x"]
        residuals = [model(p, t) - y for t, y in zip(TIMES, DATA)]
        fx = sum(r * r for r in residuals)
        # The extras are logged beside the value with "detailed_log": true.
        extras = {"opt_id": request.get("opt_id"), "eval_id": request.get("eval_id")}
        print(json.dumps({"fx": fx, "extras": extras}), flush=True)


if __name__ == "__main__":
    main()
