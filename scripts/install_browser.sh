#!/usr/bin/env bash
# Headless browser for the JupyterLab test (tests/test_browser.py) and PNG export (kaleido):
# Debian's chromium + PyPI playwright driving it through its executable path. Idempotent and quiet.
#   bash scripts/install_browser.sh
# (`playwright install` downloads a browser build and cannot work without a network: we never call it.)
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore playwright==1.65.2 kaleido==1.5.0
echo "browser: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"
