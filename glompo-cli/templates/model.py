#!/usr/bin/env python3
"""A glompo objective: fits y = a * exp(-k * t) + c to measurements.

glompo starts this program once per worker slot and talks to it one line at a time: it writes a
request {"x": [a, k, c]} on stdin and reads the answer from stdout, {"fx": value} (or
{"error": "why"} when the point cannot be evaluated). Print anything else on stderr, never on
stdout. Replace `model` and `DATA` with your own.
"""
import json
import math
import sys

# (t, y) measurements, here made with a = 2.0, k = 0.5, c = 0.3.
DATA = [(t, 2.0 * math.exp(-0.5 * t) + 0.3) for t in (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0)]


def model(t, a, k, c):
    return a * math.exp(-k * t) + c


def cost(x):
    a, k, c = x
    return sum((model(t, a, k, c) - y) ** 2 for t, y in DATA)


for line in sys.stdin:
    try:
        answer = {"fx": cost(json.loads(line)["x"])}
    except Exception as e:  # a point the model cannot evaluate is an error, not a crash
        answer = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(answer), flush=True)
