#!/usr/bin/env bash
# Run every notebook headlessly through papermill on the embedded default.
#   bash scripts/run_notebooks.sh [profile] [out_dir]     # profile: ci | demo (default) | paper
# Executed notebooks go to out_dir (default runs/notebooks/<profile>), run stores to out_dir/runs/.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-demo}"
out="${2:-runs/notebooks/$profile}"
# seconds one cell may run before papermill stops it, naming the cell (EVALAB_CELL_TIMEOUT overrides): the longest
# cell is a whole ablation (notebook 04), ~25 min per run on 2 CPU cores for demo; paper-scale cells run for days
case "$profile" in
  ci) default_timeout=900 ;;
  demo) default_timeout=14400 ;;
  *) default_timeout=604800 ;;
esac
cell_timeout="${EVALAB_CELL_TIMEOUT:-$default_timeout}"
mkdir -p "$out/runs"
export LITELLM_LOCAL_MODEL_COST_MAP=True TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
for nb in notebooks/0*.ipynb; do
  name=$(basename "$nb" .ipynb)
  run_dir="$PWD/$out/runs/$name"
  # 02 visualizes a finished run: the demo run this repo ships (data/demo_run)
  if [ "$name" = "02_curriculum" ]; then run_dir="$PWD/data/demo_run"; fi
  echo "=== $name (profile=$profile)"
  python3 -m papermill "$nb" "$out/$name.ipynb" -p profile "$profile" -p run_dir "$run_dir" \
    --cwd notebooks --log-level WARNING --execution-timeout "$cell_timeout"
done
echo "executed notebooks: $out"
