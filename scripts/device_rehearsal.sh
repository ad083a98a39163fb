#!/usr/bin/env bash
# Rehearse the GPU check here, on a stand-in for the lent machine: a fresh Python 3.12 venv holding only what
# evalab uses that the machine has (at its versions: transformers 5.17, numpy 2.5.2, ...), then the kit from
# .devicekit/ installed on top exactly as there, then `scripts/device_check.sh --scale tiny` (CPU).
# It catches a wheel the kit lacks before device time is spent. Not part of CI (it downloads ~1 GB once).
#   python scripts/device_kit.py build && bash scripts/device_rehearsal.sh
# PYTHON312 (default: the first python3.12 found, pyenv's included), REHEARSAL_DIR (default /tmp/evalab-rehearsal),
# REHEARSAL_TORCH (default torch==2.13.0: a torch this machine's pip can install; the device has 2.11.0).
set -euo pipefail
cd "$(dirname "$0")/.."
py=""
for c in ${PYTHON312:-} python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do   # a pyenv shim may not run
  if "$c" -c "import sys; assert sys.version_info[:2] == (3, 12)" 2>/dev/null; then py=$c; break; fi
done
[ -n "$py" ] || { echo "no Python 3.12 here: set PYTHON312"; exit 2; }
dir=${REHEARSAL_DIR:-/tmp/evalab-rehearsal}
[ -f .devicekit/manifest.json ] || { echo "no kit: run python scripts/device_kit.py build first"; exit 2; }
t0=$SECONDS
if [ ! -x "$dir/venv/bin/python" ]; then
  "$py" -m venv "$dir/venv"
  python3 scripts/device_kit.py there | grep -v '^torch==' > "$dir/there.txt"
  "$dir/venv/bin/pip" install -q "${REHEARSAL_TORCH:-torch==2.13.0}" -r "$dir/there.txt" 2>&1 \
    | grep -v "is neither a file nor a directory" || true
  "$dir/venv/bin/python" -c "import torch, transformers as t; print('stand-in venv: torch', torch.__version__, \
'/ transformers', t.__version__)"
fi
rm -rf "$dir/kit" "$dir/site" "$dir/cache" "$dir/out"   # a fresh machine each time: the kit installs, the GGUF converts
PYTHON="$dir/venv/bin/python" EVALAB_KIT="$dir/kit" EVALAB_SITE="$dir/site" EVALAB_CACHE="$dir/cache" \
  OUT="$dir/out" bash scripts/device_check.sh --scale tiny
echo "rehearsal passed in $((SECONDS - t0)) s: $dir/out/device_check.json"
