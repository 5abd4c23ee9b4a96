#!/bin/sh
# A per-call objective: glompo runs it once per evaluation as `model.sh {x0} {x1}` (see
# examples/per_call.json), in a scratch directory of its own, and reads the value from the last line
# it prints. The Rosenbrock function, minimum 0 at (1, 1).
set -eu
echo "optimizer ${GLOMPO_OPT_ID}, evaluation ${GLOMPO_EVAL_ID}, in ${GLOMPO_SCRATCH}" >&2
# A simulation would write its input and output files here; the directory is removed when the
# evaluation succeeds and kept when it fails.
printf '%s %s\n' "$1" "$2" > input.txt
awk '{ a = $1; b = $2; printf "%.17g\n", (1 - a) ^ 2 + 100 * (b - a * a) ^ 2 }' input.txt
