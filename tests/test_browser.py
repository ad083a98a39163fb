"""Notebook 02 in a real browser: JupyterLab on 127.0.0.1 + Debian's headless chromium via Playwright.

    bash scripts/install_browser.sh && python -m pytest tests/test_browser.py -q

Starts JupyterLab (random free port, token) on a temporary folder holding a synthetic run and notebook
02 parameterized to it, runs all cells from the Run menu, checks that widgets and plotly figures render,
changes the metric dropdown and checks that the figure changed, and saves a screenshot (also copied to
$EVALAB_ARTIFACTS when set).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fake_run import build_fake_run

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.capability("browser"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} not found: run `bash scripts/install_browser.sh` (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path):
    """A JupyterLab serving tmp_path (with a fake run and notebook 02 pointed at it)."""
    import papermill as pm

    run = build_fake_run(tmp_path / "run", n_iterations=2, n_prompts=16, seed=7)
    pm.execute_notebook(str(ROOT / "notebooks" / "02_curriculum.ipynb"), str(tmp_path / "02.ipynb"),
                        parameters={"run_dir": str(run), "headless": False, "embedder": "hash"},
                        prepare_only=True, progress_bar=False)
    settings = tmp_path / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / ".lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / ".lab-workspaces"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}",
                             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
                             f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port_retries=0", "--allow-root"],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"jupyter lab exited: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 60 s")
        yield {"url": url, "token": token, "dir": tmp_path}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server we started, and its kernels (own session)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _switcher_state(page) -> dict:
    """Title and first trace of the metric switcher's figure (the FigureWidget next to the dropdown)."""
    return page.evaluate("""() => {
        const out = [...document.querySelectorAll('.jp-OutputArea-output')].find(o =>
            [...o.querySelectorAll('.widget-dropdown label')].some(l => l.textContent.trim() === 'metric'));
        const plot = out && out.querySelector('.js-plotly-plot');
        if (!plot || !plot.data) return null;
        return {title: plot.layout.title.text, x: Array.from(plot.data[0].x || [])};
    }""")


def test_notebook_02_in_jupyterlab(lab, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright==1.65.2")
    shot = tmp_path / "notebook02.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            _run_and_check(page, lab, shot)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("EVALAB_ARTIFACTS"):
        dest = Path(os.environ["EVALAB_ARTIFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / shot.name)


def _run_and_check(page, lab: dict, shot: Path) -> None:
    if True:
        page.goto(f"{lab['url']}/lab/tree/02.ipynb?token={lab['token']}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        try:  # a fresh JupyterLab may ask which kernel to start
            page.locator(".jp-Dialog .jp-mod-accept").click(timeout=10_000)
        except Exception:
            pass
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        page.wait_for_selector(".widget-dropdown select", timeout=120_000)
        page.wait_for_function("() => [...document.querySelectorAll('.widget-button')].length >= 2", timeout=180_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
        assert page.locator(".jp-OutputArea-output .jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                            ).filter(has_text="Traceback").count() == 0
        assert page.locator(".js-plotly-plot").count() >= 10, "static figures and FigureWidgets render"
        assert page.locator(".widget-select-multiple").count() >= 1 and page.locator(".widget-slider").count() >= 1
        page.wait_for_function("() => document.querySelectorAll('.widget-dropdown').length >= 4")
        before = None
        for _ in range(60):
            before = _switcher_state(page)
            if before:
                break
            time.sleep(0.5)
        assert before and "under a_min" in before["title"], before
        metric = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text="metric")).first
        metric.scroll_into_view_if_needed()
        metric.locator("select").select_option("avg")
        page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(p =>
            p.layout && p.layout.title && String(p.layout.title.text).includes('under avg'))""", timeout=60_000)
        after = _switcher_state(page)
        assert "under avg" in after["title"] and after["x"] != before["x"], "the figure was redrawn with new weights"
        page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text="under avg")).first \
            .scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=False)
