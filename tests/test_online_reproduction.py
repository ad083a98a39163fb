"""The online comparison of issue 11 (item 4): online eva against the same trainer on the seed stream (and with
dynamic sampling), several seeds, each final policy scored on the held-out set (`evalab.reproduction`:
evaluate_online_runs, online_results, online_summary_table; `python -m evalab reproduce-online`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalab.__main__ import main
from evalab.config import profile_config
from evalab.reproduction import (ONLINE_ARMS, ONLINE_FINAL, evaluate_online_runs, load_results, online_results,
                                 online_markdown_table, online_results_text, online_summary_table, online_summary_view,
                                 write_results)
from evalab.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


class PathBackend:
    """Fake generation backend: the answer depends on the weights path, so θ0 and each final policy differ."""

    calls: list[str] = []

    def __init__(self, path: str):
        self.path = path
        PathBackend.calls.append(path)

    def generate(self, prompts, n=1, **kw):
        # θ0 and the seed stream's policies answer one word; online eva's meet more constraints (a title, a
        # keyword, a postscript, a closing phrase), + dynamic sampling's some of them, on alternate prompts
        arm = Path(self.path).parts[-3] if "model" in self.path else "θ0"
        good = "<<Pace>> pace\nP.S. That is all."
        return [[good if arm == "online-eva" or (arm == "online-eva+dynamic" and i % 2) else "word"] * n
                for i in range(len(prompts))]


FAKE_ARMS = ("online-eva", "online-seed", "online-eva+dynamic", "online-thompson")


def fake_online_run(d: Path, seed: int, *, evolved: float, spread: float, extra: float = 0.0,
                    declined: float = 0.0) -> None:
    """An online run directory as run_online_eva leaves it: config, summary, scored groups, the final policy."""
    cfg = profile_config("ci", run_dir=str(d), seed=seed)
    RunStore(d, cfg)
    rng = np.random.default_rng(seed)
    steps = np.repeat([1, 2, 3, 4], 2)
    pd.DataFrame({"call": steps, "step": steps, "prompt_id": [f"p{i}" for i in range(8)],
                  "spread": np.where(rng.random(8) < 0.5, spread, 0.0), "reward_mean": rng.random(8),
                  "evolved": rng.random(8) < evolved}).to_parquet(d / "groups.parquet")
    summary = {"steps": 4, "groups_scored": 8, "num_generations": 4, "n_events": 2, "pool_size": 10,
               "pool_evolved": 2, "train_runtime": 12.5}
    if extra:
        summary["dynamic_sampling"] = {"extra_completions": extra, "groups_dropped": 1.0}
    if declined:
        summary["prediction"] = {"rollouts_declined": declined, "groups_skipped": 0.0, "groups_generated": 8.0}
    (d / "online_summary.json").write_text(json.dumps(summary))
    (d / "model").mkdir()
    (d / "model" / "config.json").write_text("{}")


def fake_online_results(tmp_path: Path) -> Path:
    """A results file of three fake arms × two seeds (notebook 05's test renders it)."""
    runs = make_fake_runs(tmp_path)
    stores = evaluate_online_runs(runs, progress=False, backend_factory=PathBackend)
    return write_results(tmp_path / "online.json", online_results(runs, stores, settings={
        "trainer": "grpo", "steps": 4, "evolve_every": 2, "prompts_per_step": 2}, command="reproduce-online (fake)",
        n_boot=200))


@pytest.fixture
def online_runs(tmp_path):
    return make_fake_runs(tmp_path)


def make_fake_runs(tmp_path: Path) -> dict[str, list[Path]]:
    runs = {}
    for arm, evolved, spread, extra, declined in (("online-eva", 0.5, 0.4, 0.0, 0.0),
                                                  ("online-seed", 0.0, 0.0, 0.0, 0.0),
                                                  ("online-eva+dynamic", 0.5, 0.6, 8.0, 0.0),
                                                  ("online-thompson", 0.5, 0.5, 0.0, 96.0)):
        runs[arm] = []
        for s in (1, 2):
            d = tmp_path / arm / f"seed{s}"
            fake_online_run(d, s, evolved=evolved, spread=spread, extra=extra, declined=declined)
            runs[arm].append(d)
    return runs


def test_evaluate_online_runs_decodes_theta0_once_and_resumes(online_runs):
    PathBackend.calls = []
    stores = evaluate_online_runs(online_runs, progress=False, backend_factory=PathBackend)
    solver = profile_config("ci").solver
    assert PathBackend.calls.count(solver) == 1  # θ0 once for the six runs
    assert sorted(c for c in PathBackend.calls if c != solver) == sorted(
        str(d / "model") for ds in online_runs.values() for d in ds)
    first = online_runs["online-eva"][0]
    for arm, rs in stores.items():
        for st in rs:
            e0, e1 = st.read_json(0, "eval"), st.read_json(ONLINE_FINAL, "eval")
            assert e0["solver"] == solver and e1["solver"] == str(st.root / "model") and e1["step"] == 4
            assert ("shared_from" in e0) == (st.root != first)
            assert len(e1["per_prompt"]["prompt_id"]) == profile_config("ci").n_eval
    PathBackend.calls = []
    evaluate_online_runs(online_runs, progress=False, backend_factory=PathBackend)
    assert PathBackend.calls == []  # every report stored: nothing decoded again


def test_evaluate_online_runs_names_a_run_without_its_final_policy(online_runs):
    d = online_runs["online-seed"][1]
    (d / "model" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="save_model=True"):
        evaluate_online_runs(online_runs, progress=False, backend_factory=PathBackend)
    (d / "online_summary.json").unlink()
    with pytest.raises(FileNotFoundError, match="not a finished online run"):
        evaluate_online_runs({"online-seed": [d]}, progress=False, backend_factory=PathBackend)


def test_online_results_pair_the_final_policies_by_seed_and_prompt(online_runs, tmp_path):
    stores = evaluate_online_runs(online_runs, progress=False, backend_factory=PathBackend)
    res = online_results(online_runs, stores, settings={"trainer": "grpo", "steps": 4}, n_boot=300)
    path = write_results(tmp_path / "online.json", res)
    r = load_results(path)
    assert r["arms"] == list(FAKE_ARMS) and r["seeds"] == [1, 2] and r["settings"]["steps"] == 4
    # the paired difference is the mean over seeds of the per-prompt differences of the stored reports
    frac = {a: [np.array(st.read_json(ONLINE_FINAL, "eval")["per_prompt"]["frac"]) for st in rs]
            for a, rs in stores.items()}
    want = np.mean([(x - y).mean() for x, y in zip(frac["online-eva"], frac["online-seed"])])
    p = r["paired"]
    row = p[(p.arm == "online-eva") & (p.vs == "online-seed") & (p.metric == "frac") & (p.iteration == ONLINE_FINAL)]
    assert row.delta.item() == pytest.approx(want) and row.ci_low.item() <= want <= row.ci_high.item()
    assert want != 0  # the fake policies differ, so the check above is not 0 == 0
    at0 = p[p.iteration == 0]
    assert (at0.delta == 0).all()  # θ0 is shared
    ps = r["per_seed"].set_index(["arm", "seed"])
    assert ps.loc[("online-eva+dynamic", 1), "extra_completions"] == 8.0
    assert ps.loc[("online-thompson", 2), "rollouts_declined"] == 96.0
    assert ps.loc[("online-eva", 1), "rollouts_declined"] == 0
    assert ps.loc[("online-seed", 2), "evolved_share"] == 0.0 and ps.loc[("online-seed", 2), "zero_spread"] == 1.0
    assert (ps.rollouts == 32).all()
    assert set(r["curves"].quantity) == {"reward", "zero_spread"} and set(r["heldout"].iteration) == {0, ONLINE_FINAL}
    t = online_summary_table(r, metric="frac").set_index("arm")
    assert t.loc["online-eva", "minus_seed"] == pytest.approx(want)
    assert t.loc["online-seed", "minus_eva"] == pytest.approx(-want)
    assert np.isnan(t.loc["online-seed", "minus_seed"])
    v = online_summary_view(t.reset_index())
    assert v.loc[v.arm == "online-seed", "minus_seed"].item() == "—"


def test_online_markdown_table_reads_the_results_file(tmp_path):
    r = load_results(fake_online_results(tmp_path))
    md = online_markdown_table(r)
    rows = {line.split(" | ")[0].lstrip("| "): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in md.splitlines()[2:]}
    assert list(rows) == list(FAKE_ARMS)
    h, p = r["heldout"], r["paired"]
    eva = rows["online-eva"]
    full0 = h[(h.arm == "online-eva") & (h.quantity == "heldout_full") & (h.iteration == 0)]["mean"].item()
    full1 = h[(h.arm == "online-eva") & (h.quantity == "heldout_full") & (h.iteration == ONLINE_FINAL)]["mean"].item()
    assert eva[1].startswith(f"{full0:.3f} [") and eva[2].startswith(f"{full1:.3f} [") and full1 > full0
    d = p[(p.arm == "online-eva") & (p.vs == "online-seed") & (p.metric == "full") & (p.iteration == ONLINE_FINAL)]
    assert eva[3].startswith(f"{d.delta.item():+.3f} [") and eva[3].endswith(f"({d.p_better.item():.2f})")
    assert rows["online-seed"][3] == "—"  # no difference with itself
    assert rows["online-seed"][6] == "0.000" and rows["online-eva+dynamic"][7] == "8"  # evolved share, extra
    assert rows["online-thompson"][8:] == ["96", "0"] and rows["online-eva"][8:] == ["0", "0"]  # declined, skips
    # against online eva: the other arms' rows read eva's paired rows negated, eva's own cell is empty
    vs_eva = {line.split(" | ")[0].lstrip("| "): [c.strip() for c in line.strip().strip("|").split("|")]
              for line in online_markdown_table(r, ref="online-eva").splitlines()[2:]}
    assert vs_eva["online-eva"][3] == "—"
    d = p[(p.arm == "online-eva") & (p.vs == "online-seed") & (p.metric == "full") & (p.iteration == ONLINE_FINAL)]
    assert vs_eva["online-seed"][3].replace("−", "-").startswith(f"{-d.delta.item():+.3f} [")
    assert vs_eva["online-seed"][3].endswith(f"({1 - d.p_better.item():.2f})")
    text = online_results_text(r, drop=["minus_seed"])  # what notebook 05 prints
    assert text.startswith("reproduce-online (fake)\n") and "rollouts_declined" in text and "minus_seed" not in text
    assert f"training {r['per_seed'].train_runtime_s.sum() / 60:.0f} min summed over runs" in text


@pytest.mark.parametrize("argv, needle", [
    (["--arms", "online-eva,bogus"], "--arms"),
    (["--arms", "online-eva+dynamic", "--trainer", "oaif"], "dynamic sampling needs a group trainer"),
    (["--seeds", "1,1"], "--seeds"),
    (["--set", "n_evl=4"], "n_evl"),
])
def test_reproduce_online_refuses_bad_input_naming_it(tmp_path, capsys, argv, needle):
    assert main(["reproduce-online", "--profile", "ci", "--root", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_reproduce_online_refuses_an_out_file_whose_arms_it_would_drop(tmp_path, capsys):
    out = tmp_path / "o.json"
    out.write_text(json.dumps({"arms": ["online-eva", "online-seed"], "seeds": [1]}))
    assert main(["reproduce-online", "--profile", "ci", "--root", str(tmp_path / "r"), "--out", str(out),
                 "--arms", "online-eva", "--seeds", "1"]) == 2
    err = capsys.readouterr().err
    assert "--out " + str(out) + ": it holds arm online-seed" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists() and json.loads(out.read_text())["arms"] == ["online-eva", "online-seed"]


def test_reproduce_online_config_file_is_checked(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("profile: ci\nroot: r\nstep: 3\n")
    assert main(["reproduce-online", "--config", str(cfg)]) == 2
    assert "unknown key 'step'; did you mean 'steps'?" in capsys.readouterr().err
    cfg.write_text("profile: ci\nroot: r\nsteps: 0\n")
    assert main(["reproduce-online", "--config", str(cfg)]) == 2
    assert "steps=0: an integer >= 1" in capsys.readouterr().err


def test_the_shipped_online_configs_are_valid():
    from evalab.__main__ import ONLINE_REPRODUCE_KEYS, _reproduce_file

    f = _reproduce_file(str(ROOT / "configs" / "online_reproduction.yaml"), ONLINE_REPRODUCE_KEYS)
    assert f["profile"] == "demo" and len(f["seeds"]) >= 3 and set(f["arms"]) <= set(ONLINE_ARMS)
    assert {"online-eva", "online-seed"} <= set(f["arms"])
    g = _reproduce_file(str(ROOT / "configs" / "online_curricula.yaml"), ONLINE_REPRODUCE_KEYS)
    assert g["profile"] == "demo" and len(g["seeds"]) >= 3 and g["root"] == f["root"]  # online-eva runs shared
    assert {"online-eva", "online-thompson", "online-greso"} <= set(g["arms"]) <= set(ONLINE_ARMS)


def test_online_arm_configs_set_only_their_fields():
    from evalab.reproduction import online_arm_config

    base = profile_config("ci", dynamic_sampling=True)
    assert online_arm_config(base, "online-eva") == base.replace(dynamic_sampling=False)
    assert online_arm_config(base, "online-thompson").sampling == "thompson"
    g = online_arm_config(base, "online-greso")
    assert (g.skip, g.sampling, g.dynamic_sampling) == ("greso", base.sampling, False)
    assert online_arm_config(base, "online-eva+dynamic").dynamic_sampling
    with pytest.raises(ValueError, match="arm='online-bogus'"):
        online_arm_config(base, "online-bogus")


@pytest.mark.slow
def test_reproduce_online_end_to_end_on_the_embedded_model(tmp_path):
    """Two real GRPO arms (1 step each) on the embedded solver, the held-out evaluation, the results file; a rerun
    trains and decodes nothing again."""
    out, root = tmp_path / "online.json", tmp_path / "runs"
    argv = [sys.executable, "-m", "evalab", "reproduce-online", "--profile", "ci", "--root", str(root), "--out",
            str(out), "--seeds", "1", "--steps", "1", "--evolve-every", "1", "--torch-threads", "1",
            "--set", "n_eval=2", "--quiet"]
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    res = load_results(out)
    assert res["arms"] == ["online-eva", "online-seed"] and res["settings"]["steps"] == 1
    assert set(res["wall_s"]) == {"online-eva", "online-seed"}
    for arm in res["arms"]:
        d = root / arm / "seed1"
        assert (d / "model" / "config.json").exists()
        assert RunStore(d).read_json(ONLINE_FINAL, "eval")["n"] == 2
    assert "online-eva" in r.stdout and "minus_seed" in r.stdout
    mtimes = {p: p.stat().st_mtime for p in root.rglob("*.json") if "iter_" in str(p)}
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert {p: p.stat().st_mtime for p in mtimes} == mtimes
