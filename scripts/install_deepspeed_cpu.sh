#!/usr/bin/env bash
# DeepSpeed for CPU rehearsals of ZeRO-3 (tests/test_distributed.py), in a venv layered on evalab's env.
#   bash scripts/install_deepspeed_cpu.sh            # venv at /opt/ds-venv (override: DS_VENV=/path)
#   DS_ACCELERATOR=cpu /opt/ds-venv/bin/python -m accelerate.commands.launch \
#       --config_file configs/accelerate_zero3.yaml --num_processes 2 scripts/train_pairs.py ...
# Why a venv: with deepspeed importable, transformers/accelerate take DeepSpeed code paths at import time;
# evalab's own env stays without it. --system-site-packages reuses that env's torch, transformers and trl.
# Needs: bash scripts/install.sh first. A few seconds to install (DeepSpeed builds its CPU ops at first use).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DS_VENV:-/opt/ds-venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check deepspeed==0.19.8
DS_ACCELERATOR=cpu "$VENV/bin/python" -c "
import deepspeed, torch
from deepspeed.accelerator import get_accelerator
a = get_accelerator()
print('deepspeed', deepspeed.__version__, '| torch', torch.__version__, '| accelerator', a._name, a.communication_backend_name())
"
echo "DeepSpeed venv ready: $VENV"
