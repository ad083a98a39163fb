#!/usr/bin/env bash
# Mutation testing of the pure core (not part of CI): informativeness weights, subset sampling and the next-set mix,
# preference pairs, the constraint checkers. mutmut (pip install mutmut) mutates those modules (pyproject.toml,
# [tool.mutmut]) and runs only their fast unit and property tests against each mutant; the score and the survivors
# are in README's "Mutation testing" section.
#   MUTATION_JOBS=1 bash scripts/mutation.sh   # run (2278 mutants: 11 min with one job at load ~2.5, 30 min at
#                                              # load ~5), then print the results; rm -rf mutants to start afresh
#   bash scripts/mutation.sh results    # print the results of the last run
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip show mutmut >/dev/null 2>&1 || python3 -m pip install -q "mutmut>=3.3"
if [ "${1:-}" != "results" ]; then
  # mutmut imports evalab from its copy in mutants/: PYTHONPATH must not point at the checkout
  env -u PYTHONPATH OMP_NUM_THREADS=1 mutmut run --max-children "${MUTATION_JOBS:-2}" || true
fi
env -u PYTHONPATH mutmut results --all true 2>/dev/null | python3 scripts/mutation_score.py
