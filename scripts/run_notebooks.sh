#!/usr/bin/env bash
# Run every notebook headlessly through papermill on the embedded default.
#   bash scripts/run_notebooks.sh [profile] [out_dir]     # profile: ci | demo (default) | paper
# Executed notebooks go to out_dir (default runs/notebooks/<profile>), run stores to out_dir/runs/, each
# notebook's papermill log to out_dir/<name>.log. It ends with where they are and one line of results.
#
# Lanes: on a machine with 2+ cores the notebooks run in two lanes at once (EVALAB_NB_LANES=1 runs them one after
# another), each process with one torch thread (EVALAB_NB_THREADS): on a 2-core CPU two single-threaded
# processes get more done than one process spin-waiting on two threads. A failed notebook fails the script
# (after the other lane finishes), naming the notebook and its log.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-demo}"
out="${2:-runs/notebooks/$profile}"
# seconds one cell may run before papermill stops it, naming the cell (EVALAB_CELL_TIMEOUT overrides): the longest
# demo cell is notebook 03's iteration loop or notebook 04's ablation; paper-scale cells run for days
case "$profile" in
  ci) default_timeout=900 ;;
  demo) default_timeout=3600 ;;
  *) default_timeout=604800 ;;
esac
cell_timeout="${EVALAB_CELL_TIMEOUT:-$default_timeout}"
cores=$(python3 -c "import os; print(len(os.sched_getaffinity(0)))")
lanes="${EVALAB_NB_LANES:-$([ "$cores" -ge 2 ] && echo 2 || echo 1)}"
threads="${EVALAB_NB_THREADS:-$([ "$lanes" -ge 2 ] && echo $((cores / 2)) || echo "$cores")}"
mkdir -p "$out/runs"
out=$(cd "$out" && pwd)  # absolute: papermill runs the notebooks from notebooks/
export LITELLM_LOCAL_MODEL_COST_MAP=True TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
export OMP_NUM_THREADS="$threads"

run_one() {  # run_one NAME: execute notebooks/NAME.ipynb into $out, its log in $out/NAME.log
  local name="$1" run_dir="$out/runs/$1" t0=$SECONDS
  # 02 visualizes a finished run: the demo run this repo ships (data/demo_run)
  if [ "$name" = "02_curriculum" ]; then run_dir="$PWD/data/demo_run"; fi
  echo "=== $name (profile=$profile) started"
  if python3 -m papermill "notebooks/$name.ipynb" "$out/$name.ipynb" -p profile "$profile" -p run_dir "$run_dir" \
      --cwd notebooks --log-level WARNING --execution-timeout "$cell_timeout" >"$out/$name.log" 2>&1; then
    echo "=== $name done in $((SECONDS - t0)) s"
  else
    echo "=== $name FAILED after $((SECONDS - t0)) s: see $out/$name.log"; tail -n 5 "$out/$name.log"; return 1
  fi
}

run_lane() { local nb; for nb in "$@"; do run_one "$nb" || return 1; done; }

t_start=$SECONDS
all=$(cd notebooks && ls 0*.ipynb | sed 's/\.ipynb$//')
if [ "$lanes" -ge 2 ]; then
  # two lanes of about equal work on the demo profile, from a timed run (stop 43: 05 847 s, 03 564 s, 04 473 s,
  # 01 156 s, 02 21 s, 06 7 s: it renders the stored data/curricula.json). So: 05 + 06 + 01 beside 03 + 04 + 02,
  # each lane starting with its longest notebook
  pick() { echo "$all" | grep -E "^($1)_" || true; }  # the notebooks whose number matches, in name order
  lane_a=$(pick 05; pick 06; pick 01; echo "$all" | grep -vE '^0[1-6]_' || true)  # notebooks added later go here
  lane_b=$(pick '03|04'; pick 02)
  echo "notebooks in 2 lanes ($threads torch thread(s) each): [$(echo $lane_a)] and [$(echo $lane_b)]"
  run_lane $lane_a & pid_a=$!
  run_lane $lane_b & pid_b=$!
  status=0
  wait "$pid_a" || status=1
  wait "$pid_b" || status=1
else
  status=0
  run_lane $all || status=1
fi
echo "executed notebooks: $out ($((SECONDS - t_start)) s)"
[ "$status" -eq 0 ] || { echo "some notebooks failed (see above)"; exit 1; }
python3 -c "import sys; from evalab.breakdown import heldout_headline; print('result (notebook 03):', heldout_headline(sys.argv[1]))" "$out/runs/03_iterations"
