#!/usr/bin/env bash
# The GPU check on a lent device machine (README "A GPU check in one script"). Build the kit here first:
#   python scripts/device_kit.py build          # wheels + the embedded model, in pieces under .devicekit/
# then make the device calls it prints, back to back: each but the last carries one piece and runs
#   bash scripts/device_check.sh stash          # keeps the carried piece in /tmp/evalab-kit (outside $OUT)
# and the last carries the last piece and runs
#   bash scripts/device_check.sh                # assemble, check sha256, install, python scripts/device_check.py
# Pieces stay on the machine while it is warm (30 s idle): a fresh machine starts the stash over.
#   bash scripts/device_check.sh run CMD ...    # instead of the check: CMD in the same environment (log: $OUT/run.log)
# EVALAB_KIT_SRC (default .devicekit), EVALAB_KIT (default /tmp/evalab-kit), EVALAB_SITE (default /tmp/evalab-site),
# OUT (default ./device-out), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
src=${EVALAB_KIT_SRC:-.devicekit}   # where the carried pieces arrive (a rehearsal points it elsewhere)
kit=${EVALAB_KIT:-/tmp/evalab-kit}
site=${EVALAB_SITE:-/tmp/evalab-site}
out=${OUT:-$PWD/device-out}
py=${PYTHON:-python3}
mkdir -p "$kit" "$out"
[ -f "$src/manifest.json" ] || {
  echo "no $src/manifest.json here: carry it (python scripts/device_kit.py build)"; exit 2; }
cp "$src/manifest.json" "$kit/"
for p in "$src"/part-*; do [ -e "$p" ] && cp "$p" "$kit/"; done

# which pieces are here, and do they match the manifest?
missing=$("$py" - "$kit" <<'EOF'
import hashlib, json, sys
from pathlib import Path
kit = Path(sys.argv[1]); m = json.loads((kit / "manifest.json").read_text())
bad = []
for p in m["pieces"]:
    f = kit / p["name"]
    if not f.exists():
        bad.append(p["name"] + " (not carried yet)")
    elif hashlib.sha256(f.read_bytes()).hexdigest() != p["sha256"]:
        bad.append(p["name"] + " (sha256 differs: carry it again)")
print("; ".join(bad))
EOF
)
echo "kit: $(ls "$kit" | tr '\n' ' ')"
if [ "${1:-}" = stash ]; then
  echo "stashed; still to carry: ${missing:-nothing}"
  # the machine as the check will find it (seconds; on record even if a later call fails)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true   # informative only
  "$py" -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| cuda', \
torch.cuda.is_available())" || true
  exit 0
fi
[ -z "$missing" ] || { echo "the kit is incomplete on this machine: $missing"; exit 2; }

read -r want pieces <<<"$("$py" -c "import json, sys; m = json.load(open(sys.argv[1]))
print(m['tar_sha256'], ' '.join(p['name'] for p in m['pieces']))" "$kit/manifest.json")"
if [ "$(cat "$site/.evalab-kit-installed" 2>/dev/null)" != "$want" ]; then   # not installed, or another kit
  t0=$SECONDS
  (cd "$kit" && cat $pieces > kit.tar)   # the manifest's pieces only: a warm machine may hold an older kit's
  have=$(sha256sum "$kit/kit.tar" | cut -d' ' -f1)
  [ "$have" = "$want" ] || { echo "kit.tar sha256 ${have:0:12} is not the manifest's ${want:0:12}"; exit 1; }
  rm -rf "$kit/whl" && tar -xf "$kit/kit.tar" -C "$kit" && rm "$kit/kit.tar"   # no older kit's wheels beside
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$kit"/whl/*.whl
  echo "$want" > "$site/.evalab-kit-installed"
  echo "kit installed into $site in $((SECONDS - t0)) s"
fi
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export EVALAB_CACHE=${EVALAB_CACHE:-/tmp/evalab-cache} PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true   # informative only
if [ "${1:-}" = run ]; then   # any command in the prepared environment, e.g. a reproduction run writing digests
  shift
  [ $# -gt 0 ] || { echo "run: name a command, e.g. bash scripts/device_check.sh run python3 -m evalab ..."; exit 2; }
  "$@" 2>&1 | tee "$out/run.log"
  exit "${PIPESTATUS[0]}"
fi
"$py" scripts/device_check.py --out "$out" "${@}" 2>&1 | tee "$out/device_check.log"
exit "${PIPESTATUS[0]}"
