"""The reproduction grid (evalab/reproduction.py): the pair budget, the per-iteration curves with CIs, the paired
differences, the results JSON, the `reproduce` command (its argument errors, and a resumed run end to end with the
stand-in generation backend of test_loop and a recording trainer) and the online arms' wiring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalab.config import IDENTITY_FIELDS, profile_config
from evalab.pairs import budget_pairs
from evalab.reproduction import (ARM_GROUPS, QUANTITIES, REPRODUCTION_ARMS, change_markdown_table, change_table,
                                 iteration_curves, load_results, markdown_tables, normalised_gains, online_curves,
                                 paired_differences, per_seed_rows, reproduction_arms, reproduction_results,
                                 run_online_arms, write_results)
from evalab.store import RunLocked, RunStore

ROOT = Path(__file__).resolve().parents[1]
from fake_run import build_fake_run


def _pairs(n):
    return pd.DataFrame({"prompt_id": [f"p{i}" for i in range(n)], "prompt": ["x"] * n, "chosen": ["a"] * n,
                         "rejected": ["b"] * n, "chosen_reward": [1.0] * n, "rejected_reward": [0.0] * n})


# --- the pair budget --------------------------------------------------------------------------------------------

def test_budget_pairs_subsamples_to_the_exact_count_seeded():
    p = _pairs(30)
    a, info = budget_pairs(p, 12, seed=7)
    assert len(a) == 12 and info == {"n_pairs_built": 30, "pairs_budget": 12, "n_pairs": 12, "pairs_shortfall": 0}
    assert a.prompt_id.is_unique and set(a.prompt_id) <= set(p.prompt_id)
    assert list(a.prompt_id) == sorted(a.prompt_id, key=lambda s: int(s[1:]))  # original order kept
    assert a.equals(budget_pairs(p, 12, seed=7)[0])                           # same seed, same pairs
    assert not a.equals(budget_pairs(p, 12, seed=8)[0])                       # another seed, another sample


def test_budget_pairs_records_the_shortfall_and_never_fills_it():
    p = _pairs(5)
    a, info = budget_pairs(p, 12, seed=0)
    assert a.equals(p) and info["pairs_shortfall"] == 7 and info["n_pairs"] == 5
    b, info0 = budget_pairs(p, 0, seed=0)  # 0 = all pairs, no budget
    assert b.equals(p) and info0["pairs_shortfall"] == 0 and info0["pairs_budget"] == 0
    with pytest.raises(ValueError, match="pairs_per_iteration"):
        budget_pairs(p, -1, seed=0)


def test_pairs_per_iteration_is_a_validated_identity_field():
    assert "pairs_per_iteration" in IDENTITY_FIELDS
    assert profile_config("ci").pairs_per_iteration == 0
    with pytest.raises(ValueError, match=r"EvaConfig.pairs_per_iteration=-2: must be >= 0"):
        profile_config("ci", pairs_per_iteration=-2)


def test_the_loop_trains_on_the_budgeted_pairs_and_stores_the_budget(tmp_path):
    from test_loop import make_run

    full = make_run(tmp_path, "full")
    full.run(until=(0, "pairs"))
    n_built = len(full.store.read_table(0, "pairs"))
    assert n_built > 3
    run = make_run(tmp_path, "budget", pairs_per_iteration=3)
    run.run(until=(0, "pairs"))
    pairs = run.store.read_table(0, "pairs")
    assert len(pairs) == 3 and set(pairs.prompt_id) <= set(full.store.read_table(0, "pairs").prompt_id)
    assert pairs.attrs["budget"] == {"n_pairs_built": n_built, "pairs_budget": 3, "n_pairs": 3, "pairs_shortfall": 0}
    short = make_run(tmp_path, "short", pairs_per_iteration=n_built + 4)
    short.run(until=(0, "pairs"))
    assert len(short.store.read_table(0, "pairs")) == n_built
    row = per_seed_rows({"eva": [short.store]}).iloc[0]
    assert row.pairs_shortfall == 4 and row.n_pairs_built == n_built and row.n_pairs == n_built


# --- arms -----------------------------------------------------------------------------------------------------

def test_named_arms_cover_the_issue_and_groups_expand():
    assert {"eva", "static", "fresh", "no_evolve-greedy", "no_evolve-sampled", "sampling=uniform"} <= set(
        REPRODUCTION_ARMS)
    assert REPRODUCTION_ARMS["sampling=uniform"] == {"sampling": "uniform"}
    metrics = {v["metric"] for k, v in REPRODUCTION_ARMS.items() if k.startswith("metric=")}
    assert metrics == {"a_avg", "var", "avg", "inv_avg", "inv_a_min", "uniform"}  # eva is a_min
    for arm, ov in REPRODUCTION_ARMS.items():
        profile_config("ci", **ov)  # every arm is a valid config
    assert list(reproduction_arms(["protocol", "eva", "sampling=uniform"])) == ARM_GROUPS["protocol"] + [
        "sampling=uniform"]
    with pytest.raises(ValueError, match="'bogus': not a named arm or group"):
        reproduction_arms(["eva", "bogus"])


# --- curves on fake stores ------------------------------------------------------------------------------------

def _fake_grid(tmp_path, arms=("eva", "static"), seeds=(1, 2), iterations=2, shift=None):
    """Fake stores with per-prompt held-out scores (arm ``shift`` adds to every score) and token counts."""
    stores = {}
    for arm in arms:
        stores[arm] = []
        for s in seeds:
            st = RunStore(build_fake_run(tmp_path / arm / f"seed{s}", n_iterations=iterations, n_prompts=12, seed=s))
            for t in st.iterations():
                if st.has(t, "eval"):
                    rng = np.random.default_rng(100 * s + t)
                    full = rng.integers(0, 2, 10).astype(float)
                    if shift and arm in shift and t > 0:
                        full = np.clip(full + shift[arm], 0, 1)
                    e = st.read_json(t, "eval")
                    e["per_prompt"] = {"prompt_id": [f"h{i}" for i in range(10)], "full": full.tolist(),
                                       "frac": rng.random(10).tolist()}
                    st.write_json(t, "eval", e)
                if st.has(t, "responses"):
                    r = st.read_table(t, "responses")
                    st.write_table(t, "responses", r.assign(n_tokens=10))
            stores[arm].append(st)
    return stores


def test_iteration_curves_have_every_quantity_and_cis_that_contain_the_mean(tmp_path):
    stores = _fake_grid(tmp_path)
    c = iteration_curves(stores, n_boot=300)
    assert list(c.columns) == ["arm", "iteration", "quantity", "mean", "ci_low", "ci_high", "n_seeds"]
    have = set(c.quantity)
    assert {"heldout_full", "heldout_frac", "informative_share", "all_fail", "all_pass", "mixed", "n_pairs",
            "gen_tokens", "prompt_chars", "n_constraints"} <= have  # the fake stores have no train_responses
    assert set(c.arm) == {"eva", "static"} and set(c.iteration) == {0, 1, 2}
    assert ((c.ci_low <= c["mean"] + 1e-12) & (c["mean"] <= c.ci_high + 1e-12)).all()
    assert (c.ci_high > c.ci_low).any()
    # the mean is the mean over seeds of the per-seed means (the per_seed rows)
    rows = per_seed_rows(stores)
    for q in ("heldout_full", "informative_share", "prompt_chars"):
        want = rows[(rows.arm == "eva") & (rows.iteration == 1)][q].mean()
        got = c[(c.arm == "eva") & (c.iteration == 1) & (c.quantity == q)]["mean"].item()
        assert got == pytest.approx(want)
    # the three outcome shares of a seed add up to 1
    r = rows.dropna(subset=["all_fail"])
    assert np.allclose(r.all_fail + r.all_pass + r.mixed, 1.0)
    with pytest.raises(ValueError, match="quantities"):
        iteration_curves(stores, quantities=["bogus"])


def test_paired_differences_see_a_shifted_arm_and_normalised_gains_divide_by_cost(tmp_path):
    stores = _fake_grid(tmp_path, shift={"eva": 1.0})  # after θ0, eva solves every held-out prompt
    d = paired_differences(stores, n_boot=300)
    assert set(d.vs) == {"static"} and set(d.iteration) == {0, 1, 2}
    at0 = d[d.iteration == 0].iloc[0]
    assert at0.delta == 0 and at0.ci_low == 0 == at0.ci_high   # same θ0 scores: no difference
    later = d[d.iteration > 0]
    assert (later.delta > 0).all() and (later.ci_low > 0).all() and (later.p_better == 1).all()
    g = normalised_gains(stores, n_boot=300)
    row = g[(g.arm == "eva") & (g.iteration == 2)].iloc[0]
    assert row.gen_tokens == 2 * 12 * 4 * 10          # two iterations × 12 prompts × N=4 × 10 tokens
    assert row.gain_per_mtok == pytest.approx(row.gain / (row.gen_tokens / 1e6))
    assert row.gain_per_pair == pytest.approx(row.gain / row.n_pairs)
    assert row.gain_ci_low <= row.gain <= row.gain_ci_high


def _set_full(st, t, full):
    e = st.read_json(t, "eval")
    e["per_prompt"] = {**e["per_prompt"], "full": [float(v) for v in full]}
    st.write_json(t, "eval", e)


def test_change_table_sees_one_arm_hold_while_the_other_falls(tmp_path):
    """change_table: each arm's score at t minus at ``since``, paired by seed and prompt, and the difference in
    differences, which is (eva − static) at t minus at ``since``."""
    stores = _fake_grid(tmp_path, seeds=(1, 2, 3), iterations=3)
    for st in stores["eva"]:      # eva holds one level from t = 1 on
        for t in (1, 2, 3):
            _set_full(st, t, [1.0] * 5 + [0.0] * 5)
    for st in stores["static"]:   # static peaks at t = 1, then falls
        for t, k in ((1, 10), (2, 5), (3, 0)):
            _set_full(st, t, [1.0] * k + [0.0] * (10 - k))
    c = change_table(stores, n_boot=300)
    assert list(c.columns) == ["row", "since", "iteration", "metric", "delta", "ci_low", "ci_high", "p_up", "n_seeds"]
    assert list(c.row.unique()) == ["eva", "static", "eva − static"] and set(c.iteration) == {2, 3}
    got = c.set_index(["row", "iteration"])
    for t in (2, 3):
        assert got.loc[("eva", t)].delta == 0 and got.loc[("eva", t)].ci_low == 0 == got.loc[("eva", t)].ci_high
    assert got.loc[("static", 2)].delta == pytest.approx(-0.5) and got.loc[("static", 3)].delta == pytest.approx(-1)
    assert got.loc[("static", 3)].p_up == 0 and got.loc[("static", 3)].ci_high < 0
    assert got.loc[("eva − static", 2)].delta == pytest.approx(0.5)
    assert got.loc[("eva − static", 3)].delta == pytest.approx(1) and got.loc[("eva − static", 3)].p_up == 1
    assert (c.n_seeds == 3).all()
    md = change_markdown_table(c)
    assert md.splitlines()[0] == "| t | eva: θ_t − θ_1 | static: θ_t − θ_1 | eva − static: change since t = 1 |"
    assert md.splitlines()[3].startswith("| 3 | +0.000 [+0.000, +0.000] (0.00) | −1.000 [−1.000, −1.000] (0.00) |")


def test_change_table_difference_is_the_paired_gap_at_t_minus_at_since_and_names_bad_input(tmp_path):
    stores = _fake_grid(tmp_path, seeds=(1, 2), iterations=3)  # random per-prompt scores
    c = change_table(stores, since=1, n_boot=200)
    d = paired_differences(stores, n_boot=200).set_index("iteration").delta
    for t in (2, 3):
        did = c[(c.row == "eva − static") & (c.iteration == t)].delta.item()
        assert did == pytest.approx(d[t] - d[1])
    one = change_table(stores, arms=["static"], since=0, n_boot=100)
    assert list(one.row.unique()) == ["static"] and set(one.iteration) == {1, 2, 3}
    with pytest.raises(ValueError, match=r"no runs of arm 'fresh'"):
        change_table(stores, arms=["eva", "fresh"])
    with pytest.raises(ValueError, match=r"arm 'eva' seed 1 has no evaluation at since=7"):
        change_table(stores, since=7)
    with pytest.raises(ValueError, match="one or two arms"):
        change_table(stores, arms=["eva", "static", "eva"])


def test_results_json_round_trips(tmp_path):
    stores = _fake_grid(tmp_path, seeds=(1,), iterations=1)
    base = profile_config("ci", pairs_per_iteration=6)
    res = reproduction_results(stores, base=base, arms={"eva": {}, "static": {"mode": "static"}},
                               wall={"eva": {"1": 1.5}}, command="python -m evalab reproduce ...", n_boot=100)
    path = write_results(tmp_path / "data" / "rep.json", res)
    raw = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert raw["pairs_per_iteration"] == 6 and "pairs_per_iteration" in raw["budget_rule"]
    assert raw["wall_s"] == {"eva": {"1": 1.5}} and set(raw["manifests"]) == {"eva", "static"}
    back = load_results(path)
    pd.testing.assert_frame_equal(back["curves"], iteration_curves(stores, n_boot=100), check_dtype=False)
    ps = per_seed_rows(stores)
    pd.testing.assert_frame_equal(back["per_seed"][ps.columns].astype({"acceptance": float}), ps,
                                  check_dtype=False)
    assert set(QUANTITIES) - {"train_reward"} <= set(back["per_seed"].columns)


def test_paired_markdown_table_gives_any_arms_view_from_the_stored_rows(tmp_path):
    """x − eva is the stored eva − x row negated (CI flipped, share ahead 1 − eva's); x − static is stored as is."""
    from evalab.reproduction import paired_ahead, paired_cell, paired_markdown_table

    stores = _fake_grid(tmp_path, arms=("eva", "x", "static"), shift={"x": 0.5})
    res = load_results(write_results(tmp_path / "r.json", reproduction_results(stores, n_boot=200)))
    lines = paired_markdown_table(res, "x").strip().splitlines()
    assert lines[0] == "| t | x − eva | x − static |" and [ln.split("|")[1].strip() for ln in lines[2:]] == ["1", "2"]
    p = res["paired"]
    for line in lines[2:]:
        t, vs_eva, vs_static = [c.strip() for c in line.strip("|").split("|")]
        rev = p[(p.arm == "eva") & (p.vs == "x") & (p.metric == "full") & (p.iteration == int(t))].iloc[0]
        assert vs_eva == paired_cell(-rev.delta, -rev.ci_high, -rev.ci_low, 1 - rev.p_better)
        assert float(vs_eva.split()[0].replace("−", "-")) > 0          # the shifted arm is ahead
        assert vs_static == paired_cell(*paired_ahead(p, "x", "static", "full", int(t)))
    with pytest.raises(ValueError, match="arms \\['aim=frontier'\\]: not in the results file"):
        paired_markdown_table(res, "aim=frontier")


def test_quantity_markdown_table_is_the_curves_row_by_row_and_names_bad_input(tmp_path):
    from evalab.reproduction import quantity_markdown_table

    stores = _fake_grid(tmp_path, iterations=2)
    res = load_results(write_results(tmp_path / "r.json", reproduction_results(stores, n_boot=100)))
    table = quantity_markdown_table(res, ["informative_share", "n_constraints"], ["static", "eva"])
    lines = table.strip().splitlines()
    assert lines[0] == "| t | quantity | static | eva |"
    c = res["curves"].set_index(["arm", "iteration", "quantity"])
    for line in lines[2:]:
        t, q, *cells = [x.strip() for x in line.strip("|").split("|")]
        for arm, cell in zip(["static", "eva"], cells):
            if cell == "—":
                assert (arm, int(t), q) not in c.index
                continue
            row = c.loc[(arm, int(t), q)]
            assert cell == f"{row['mean']:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]".replace("-", "−")
    assert {(ln.split("|")[1].strip(), ln.split("|")[2].strip()) for ln in lines[2:]} >= {
        ("0", "informative_share"), ("1", "n_constraints")}
    with pytest.raises(ValueError, match="quantities \\['bogus'\\]"):
        quantity_markdown_table(res, ["bogus"])
    with pytest.raises(ValueError, match="arms \\['aim=frontier'\\]: not in the results file"):
        quantity_markdown_table(res, ["all_fail"], ["eva", "aim=frontier"])
    with pytest.raises(ValueError, match="arms \\['aim=frontier'\\]: not in the results file"):
        markdown_tables(res, ["eva", "aim=frontier"])   # an arm the file lacks is named, not a column of "—"
    # the reference row (the paper's ordering): last, "—" under an arm it has no entry for; none by default
    plain = markdown_tables(res, ["eva", "static"])
    assert "| paper |" not in plain
    assert markdown_tables(res, ["eva", "static"], reference={"fresh": "x"}) == plain + "| paper | — |\n"
    ahead = markdown_tables(res, ["eva", "static"], reference={"static": "eva ahead"})
    assert ahead == plain + "| paper | eva ahead |\n"
    with pytest.raises(ValueError, match="reference arms \\['bogus'\\]: not reproduction arms"):
        markdown_tables(res, ["eva", "static"], reference={"bogus": "eva ahead"})


# --- the command ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, msg", [
    (["--arms", "eva,bogus"], "--arms bogus: not a named arm or group"),
    (["--seeds", "1,x"], "--seeds 1,x: a comma-separated list of integers"),
    (["--set", "pairs_per_iteration=-1"], "EvaConfig.pairs_per_iteration=-1: must be >= 0"),
    (["--set", "bogus=1"], "--set bogus=1: unknown EvaConfig field"),
    (["--iterations", "0"], "--iterations"),
    (["--config", "nope.yaml"], "--config nope.yaml: file not found"),
])
def test_reproduce_argument_errors_are_one_line_naming_the_field(tmp_path, capsys, args, msg):
    from evalab.__main__ import main

    rc = main(["reproduce", "--profile", "ci", "--root", str(tmp_path / "r"), "--out", str(tmp_path / "o.json"),
               *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and msg in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_reproduce_config_file_with_an_unknown_key_is_named(tmp_path, capsys):
    from evalab.__main__ import main

    cfg = tmp_path / "rep.yaml"
    cfg.write_text("profile: ci\nseeds: [1]\nitertions: 2\n")
    assert main(["reproduce", "--config", str(cfg), "--root", str(tmp_path / "r"), "--out", "x.json"]) == 2
    err = capsys.readouterr().err
    assert "itertions" in err and "iterations" in err


def test_reproduce_refuses_an_out_file_whose_arms_or_seeds_it_would_drop(tmp_path, capsys):
    """A smoke test (--arms eva --seeds 1) pointed at a grid's results file must not replace it: the command stops
    before anything runs, naming what would be lost; a superset of the file's arms and seeds is accepted."""
    from evalab.__main__ import main

    out = tmp_path / "o.json"
    out.write_text(json.dumps({"arms": {"eva": {}, "static": {"mode": "static"}}, "seeds": [1, 2]}))
    before = out.read_bytes()
    argv = ["reproduce", "--profile", "ci", "--root", str(tmp_path / "r"), "--out", str(out), "--collect"]
    assert main([*argv, "--arms", "eva", "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "it holds arm static, seed 2, which this command does not run" in err and len(err.splitlines()) == 1
    assert out.read_bytes() == before and not (tmp_path / "r").exists()
    assert main([*argv, "--arms", "eva,static,fresh", "--seeds", "1,2,3"]) == 2   # passes the check: nothing to collect
    assert "nothing to collect" in capsys.readouterr().err and out.read_bytes() == before
    out.write_text("not json")
    assert main([*argv, "--arms", "eva", "--seeds", "1"]) == 2
    assert "exists and is not a results json" in capsys.readouterr().err


def stand_in_loop(monkeypatch):
    """The real loop with stand-in generation (a table of answers) and a trainer that records its pair count."""
    import evalab.loop
    import evalab.training
    from evalab.creator import StructuredEvolver
    from test_loop import TableBackend

    monkeypatch.setattr(evalab.training, "train_preference",
                        lambda cfg, solver, pairs, out, **kw: (out / "w").write_text(str(len(pairs)))
                        and {"log_history": []})
    real = evalab.loop.EvaRun

    class StandIn(real):
        def __init__(self, cfg, **kw):
            super().__init__(cfg, backend_factory=TableBackend, creator=StructuredEvolver(llm_rewrite=False),
                             progress=False)

    monkeypatch.setattr(evalab.loop, "EvaRun", StandIn)


def test_reproduce_runs_resumes_and_writes_the_results(tmp_path, monkeypatch, capsys):
    """The command end to end through the real loop (stand-in generation, recording trainer): 2 arms × 1 seed ×
    2 iterations, then a rerun that finds everything done and only rewrites the JSON."""
    from evalab.__main__ import main

    stand_in_loop(monkeypatch)
    (tmp_path / "rep.yaml").write_text("profile: ci\narms: [eva, static]\nseeds: [3]\niterations: 2\n"
                                       "set: {n_prompts: 10, n_responses: 4, pairs_per_iteration: 2}\n")
    argv = ["reproduce", "--config", str(tmp_path / "rep.yaml"), "--root", str(tmp_path / "runs"),
            "--out", str(tmp_path / "rep.json"), "--n-boot", "50", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "arm=eva seed=3 done in" in out and "arm=static seed=3 done in" in out
    lines = [x for x in out.splitlines() if " done in " in x and "arm=" in x]  # run k of the runs left, and an ETA
    assert lines[0].startswith("[evalab] reproduce 1/2: arm=eva") and "; 1 left, about " in lines[0]
    assert lines[1].startswith("[evalab] reproduce 2/2: arm=static") and " left, about" not in lines[1]
    res = load_results(tmp_path / "rep.json")
    ps = res["per_seed"]
    assert set(ps.arm) == {"eva", "static"} and set(ps.iteration) == {0, 1, 2}
    trained = ps[ps.iteration < 2]
    assert (trained.n_pairs <= 2).all() and (trained.pairs_budget == 2).all()
    for arm in ("eva", "static"):
        ck = res["checkpoints"][arm]["3"]
        assert ck.endswith("iter_001/checkpoint") and (tmp_path / "runs" / arm / "seed3" / "iter_001" / "checkpoint"
                                                        / "w").read_text() in ("1", "2")
    assert {"eva", "static"} == set(res["curves"].arm) and set(res["paired"].vs) == {"static"}
    assert res["base_config"]["iterations"] == 2 and "reproduce" in res["command"]
    mtime = (tmp_path / "runs" / "eva" / "seed3" / "iter_001" / "pairs.parquet").stat().st_mtime
    assert main(argv) == 0  # resume: nothing left to run, same stores
    assert (tmp_path / "runs" / "eva" / "seed3" / "iter_001" / "pairs.parquet").stat().st_mtime == mtime


def test_reproduce_extends_finished_runs_and_rewrites_their_digests(tmp_path, monkeypatch, capsys):
    """A grid whose iterations grow after it finished: each run resumes from its last checkpoint (the first
    iteration's tables are not rewritten), its config.json and its digest record the new length, and the digest
    made before the extension neither stands in for the run nor stops the grid."""
    from evalab.__main__ import main
    from evalab.digest import load_digest

    stand_in_loop(monkeypatch)
    cfg = "profile: ci\narms: [eva]\nseeds: [3]\nset: {n_prompts: 10, n_responses: 4, pairs_per_iteration: 2}\n"
    argv = ["reproduce", "--config", str(tmp_path / "rep.yaml"), "--root", str(tmp_path / "runs"),
            "--out", str(tmp_path / "rep.json"), "--digests", str(tmp_path / "dig"), "--n-boot", "50", "--quiet"]
    run, dig = tmp_path / "runs" / "eva" / "seed3", tmp_path / "dig" / "eva" / "seed3.json"
    (tmp_path / "rep.yaml").write_text(cfg + "iterations: 1\n")
    assert main(argv) == 0
    assert load_digest(dig).config.iterations == 1 and sorted(load_digest(dig).data["eval"]) == ["0", "1"]
    mtime = (run / "iter_000" / "pairs.parquet").stat().st_mtime
    capsys.readouterr()
    (tmp_path / "rep.yaml").write_text(cfg + "iterations: 2\n")
    assert main(argv) == 0
    assert "1 to run or finish" in capsys.readouterr().out
    assert (run / "iter_000" / "pairs.parquet").stat().st_mtime == mtime   # resumed, not run again
    assert json.loads((run / "config.json").read_text())["iterations"] == 2
    d = load_digest(dig)
    assert d.config.iterations == 2 and sorted(d.data["eval"]) == ["0", "1", "2"]
    assert sorted(set(load_results(tmp_path / "rep.json")["per_seed"].iteration)) == [0, 1, 2]
    (tmp_path / "rep.yaml").write_text(cfg.replace("pairs_per_iteration: 2", "pairs_per_iteration: 3")
                                       + "iterations: 2\n")
    assert main(argv) != 0   # any other difference still stops the grid, naming the field
    assert "pairs_per_iteration: run has 2, config asks 3" in capsys.readouterr().err


@pytest.mark.parametrize("warmup", [False, True])
def test_a_longer_run_stands_for_a_shorter_grid_cut_to_its_iterations(tmp_path, monkeypatch, capsys, warmup):
    """A grid of fewer iterations than a run it finds (as a digest, or as a finished store under its root) reads
    that run cut to its iterations (RunDigest.upto) instead of rerunning it or stopping: every number of the results
    file equals the shorter grid's own run's; the cut run's stage seconds are unknown (None), not 0."""
    from evalab.__main__ import main
    from evalab.digest import load_digest

    stand_in_loop(monkeypatch)
    cfg = ("profile: ci\narms: [eva]\nseeds: [3]\nset: {n_prompts: 10, n_responses: 4, pairs_per_iteration: 2, "
           f"warmup_round: {str(warmup).lower()}}}\n")
    (tmp_path / "one.yaml").write_text(cfg + "iterations: 1\n")
    (tmp_path / "two.yaml").write_text(cfg + "iterations: 2\n")

    def reproduce(conf, root, dig, out):
        assert main(["reproduce", "--config", str(tmp_path / conf), "--root", str(tmp_path / root), "--out",
                     str(tmp_path / out), "--digests", str(tmp_path / dig), "--n-boot", "50", "--quiet"]) == 0
        return load_results(tmp_path / out)

    own = reproduce("one.yaml", "runs1", "dig1", "own.json")    # the 1-iteration run itself
    reproduce("two.yaml", "runs2", "dig2", "two.json")           # the same run continued to 2 iterations
    capsys.readouterr()
    cut = reproduce("one.yaml", "empty", "dig2", "cut.json")     # the 2-iteration digest stands for it
    assert "0 to run or finish, 1 from digests" in capsys.readouterr().out
    assert not (tmp_path / "empty" / "eva").exists()             # nothing ran
    shared = reproduce("one.yaml", "runs2", "dig_none", "shared.json")  # the 2-iteration store under the root
    assert not (tmp_path / "dig_none" / "eva").exists()          # a cut run writes no digest
    for res in (cut, shared):
        for k in ("per_seed", "curves", "paired", "normalised", "pass_rates"):
            pd.testing.assert_frame_equal(res[k], own[k], check_dtype=False)
        assert res["stage_seconds"] == {"eva": {"3": None}} and own["stage_seconds"]["eva"]["3"] > 0
    d = load_digest(tmp_path / "dig2" / "eva" / "seed3.json")
    assert d.config.iterations == 2                               # the longer run's digest is left as it was
    short = d.upto(1)
    assert short.config.iterations == 1 and short.data["cut_from"]["iterations"] == 2 and np.isnan(short.stage_seconds)
    assert short.longer_than(short.config) is False and d.longer_than(short.config) and not d.shorter_than(
        short.config)
    with pytest.raises(ValueError, match=r"upto\(3\): the run has 2 iterations"):
        d.upto(3)


# --- online ----------------------------------------------------------------------------------------------------

def test_online_arms_differ_only_in_evolution(tmp_path):
    calls = []
    base = profile_config("ci")
    run_online_arms(base, [1, 2], tmp_path, steps=6, evolve_every=2, progress=False,
                    run_fn=lambda cfg, **kw: calls.append((cfg.run_dir, cfg.seed, kw)))
    assert [(c[0].split("/")[-2], c[1]) for c in calls] == [("online-eva", 1), ("online-eva", 2),
                                                             ("online-seed", 1), ("online-seed", 2)]
    eva, seed_only = calls[0][2], calls[2][2]
    assert eva["evolve_every"] == 2 and seed_only["evolve_every"] == 7 > seed_only["steps"]  # no event fires
    assert {k: v for k, v in eva.items() if k != "evolve_every"} == {
        k: v for k, v in seed_only.items() if k != "evolve_every"}


def test_online_arms_hand_the_heap_back_after_each_run(tmp_path, monkeypatch):
    """A run's model, trainer and optimizer are garbage once it returns: run_online_arms releases them before the
    next run starts (not after a run another lane holds), so runs in a row do not pile up RSS."""
    import evalab.loop

    log = []
    monkeypatch.setattr(evalab.loop, "release_memory", lambda: log.append("release"))

    def fake(cfg, **kw):
        if cfg.seed == 2:
            raise RunLocked(f"{cfg.run_dir} is being written by pid 1")
        log.append(f"run {cfg.seed}")

    run_online_arms(profile_config("ci"), [1, 2, 3], tmp_path, steps=2, evolve_every=1, arms=["online-eva"],
                    progress=False, run_fn=fake)
    assert log == ["run 1", "release", "run 3", "release"]


def test_online_curves_per_step_with_cis(tmp_path):
    for arm, spread in (("online-eva", 0.5), ("online-seed", 0.0)):
        for s in (1, 2):
            d = tmp_path / arm / f"seed{s}"
            d.mkdir(parents=True)
            rng = np.random.default_rng(s)
            steps = np.repeat([1, 2, 3], 4)
            pd.DataFrame({"call": steps, "step": steps, "prompt_id": [f"p{i}" for i in range(12)],
                          "spread": np.where(rng.random(12) < 0.5, spread, 0.0),
                          "reward_mean": rng.random(12)}).to_parquet(d / "groups.parquet")
    runs = {a: [tmp_path / a / "seed1", tmp_path / a / "seed2"] for a in ("online-eva", "online-seed")}
    c = online_curves(runs, n_boot=200)
    assert set(c.step) == {1, 2, 3} and set(c.quantity) == {"reward", "zero_spread"}
    assert ((c.ci_low <= c["mean"] + 1e-12) & (c["mean"] <= c.ci_high + 1e-12)).all()
    assert (c[(c.arm == "online-seed") & (c.quantity == "zero_spread")]["mean"] == 1.0).all()
    with pytest.raises(FileNotFoundError, match="groups.parquet"):
        online_curves({"x": [tmp_path]})


@pytest.mark.slow
def test_online_arms_on_the_embedded_model(tmp_path):
    """Both online arms through GRPO on the embedded solver, tiny: the seed-stream arm has no evolution event and
    trains on seed prompts only; the curves cover every step of both."""
    from evalab.creator import StructuredEvolver
    from test_online import LengthReward, seed_prompts

    cfg = profile_config("ci", evolved_ratio=1.0, subset_fraction=1.0, n_variants=2, learning_rate=1e-5)
    runs = run_online_arms(cfg, [1], tmp_path, steps=3, evolve_every=1, prompts_per_step=2, num_generations=2,
                           max_completion_length=8, seed_prompts=seed_prompts(4), reward=LengthReward(),
                           creator=StructuredEvolver(llm_rewrite=False, n_variants=2), progress=False,
                           torch_threads=1, checkpoint_every=0)
    eva, seed_only = (pd.read_parquet(runs[a][0] / "groups.parquet") for a in ("online-eva", "online-seed"))
    assert eva.evolved.any() and not seed_only.evolved.any()
    assert set(seed_only.prompt_id) <= {p.id for p in seed_prompts(4)}
    assert json.loads((runs["online-seed"][0] / "online_summary.json").read_text())["n_events"] == 0
    c = online_curves(runs, n_boot=50)
    assert set(c.arm) == {"online-eva", "online-seed"} and set(c.step) >= {1, 2, 3}


@pytest.mark.parametrize("name", ["reproduction.yaml", "reproduction_metrics.yaml", "curricula.yaml",
                                  "replication_a_avg.yaml", "reproduction_seeds.yaml", "reproduction_long.yaml",
                                  "reproduction_long_confirm.yaml", "replication_a_avg_confirm.yaml", "aim_frontier.yaml",
                                  "aim_frontier_gentle.yaml",
                                  *sorted(p.name for p in (ROOT / "configs").glob("regime_*.yaml"))])
def test_the_shipped_grid_configs_pass_every_input_check(tmp_path, name):
    """Each configs/*.yaml the README names is a valid `reproduce` job (arms, fields, prompt files), checked
    without running it."""
    import argparse

    from evalab.__main__ import _prepare, build_parser

    a = build_parser().parse_args(["reproduce", "--config", str(ROOT / "configs" / name), "--root", str(tmp_path)])
    a.argv = []
    assert callable(_prepare(a))
    assert isinstance(a, argparse.Namespace) and not any(tmp_path.iterdir())  # nothing ran, nothing written


def test_two_lanes_on_one_grid_share_it_instead_of_colliding(tmp_path, monkeypatch, capsys):
    """A run another process is writing (its writer lock) is left to that process: the command runs the rest,
    names the one it left, and writes the results without it (``missing``); once the holder is gone a rerun
    finishes it."""
    from evalab.__main__ import main
    from evalab.ablation import arm_config
    from evalab.config import profile_config
    from evalab.store import RunStore
    from test_config_store import hold_run

    stand_in_loop(monkeypatch)
    argv = ["reproduce", "--profile", "ci", "--arms", "eva,static", "--seeds", "1", "--iterations", "1",
            "--set", "n_prompts=8", "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "r.json"), "--quiet"]
    run_dir = tmp_path / "runs" / "eva" / "seed1"
    base = profile_config("ci", iterations=1, n_prompts=8)
    RunStore(run_dir, arm_config(base, {}, 1, run_dir))  # created (released again), then held by another process
    p = hold_run(run_dir)
    try:
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert f"arm=eva seed=1: run directory {run_dir} is being written by pid {p.pid}" in out
        assert "; left to it" in out and "arm=static seed=1 done in" in out
        res = json.loads((tmp_path / "r.json").read_text())
        assert {r["arm"] for r in res["per_seed"]} == {"static"} and res["missing"] == [{"arm": "eva", "seed": 1}]
    finally:
        p.kill()
        p.wait()
    assert main(argv) == 0
    assert "arm=eva seed=1 done in" in capsys.readouterr().out
    res = json.loads((tmp_path / "r.json").read_text())
    assert {r["arm"] for r in res["per_seed"]} == {"eva", "static"} and res["missing"] == []


def test_a_run_another_lane_wrote_after_this_one_started_is_a_donor(tmp_path, monkeypatch):
    """Two lanes of one grid: a run the other lane writes after this call began (here eva's seed 1, written
    between this call's two runs) gives this call's next run of the same seed its iteration-0 responses; the root
    is scanned again before each run, not only at the start (stop 29's lanes missed each other's runs)."""
    from evalab.ablation import run_ablation
    from evalab.config import profile_config
    from evalab.store import RunStore

    stand_in_loop(monkeypatch)
    base = profile_config("ci", iterations=1, n_prompts=8)
    root = tmp_path / "runs"

    def other_lane(arm, seed, store, seconds):  # the other lane finishes eva's seed 1 meanwhile
        if seed == 2:
            run_ablation(base, ["eva"], [1], root, progress=False)

    run_ablation(base, {"metric=var": {"metric": "var"}}, [2, 1], root, progress=False, on_run_end=other_lane)
    var1, var2, eva1 = (RunStore(root / a / f"seed{s}") for a, s in (("metric=var", 1), ("metric=var", 2),
                                                                        ("eva", 1)))
    ev = var1.events()
    assert list(ev[ev.event == "responses_shared"].source) == [str(eva1.root)]
    pd.testing.assert_frame_equal(var1.read_table(0, "responses"), eva1.read_table(0, "responses"))
    assert "responses_shared" not in set(var2.events().event)  # seed 2 had no donor of its seed


def test_a_later_arm_group_reuses_theta0s_report_and_the_first_samples_of_the_runs_under_root(tmp_path, monkeypatch,
                                                                                             capsys):
    """The metric arms run after eva (another command, another results file): iteration 0's held-out report and
    step-1 responses are the same computation, so they are copied from eva's run of the seed (events
    eval_shared, responses_shared) and equal what the arm computes on its own; an arm that chooses step 1's
    prompts by a prediction (thompson) samples its own."""
    from evalab.ablation import run_ablation
    from evalab.config import profile_config
    from evalab.store import RunStore

    stand_in_loop(monkeypatch)
    common = ["--profile", "ci", "--seeds", "1", "--iterations", "1", "--set", "n_prompts=8", "--root",
              str(tmp_path / "runs"), "--quiet"]
    from evalab.__main__ import main

    assert main(["reproduce", "--arms", "eva", "--out", str(tmp_path / "a.json"), *common]) == 0
    assert main(["reproduce", "--arms", "metric=var,thompson", "--out", str(tmp_path / "b.json"), *common]) == 0
    eva, var, th = (RunStore(tmp_path / "runs" / a / "seed1") for a in ("eva", "metric=var", "thompson"))
    ev = var.events()
    assert set(ev[ev.event.isin(["eval_shared", "responses_shared"])].source) == {str(eva.root)}
    pd.testing.assert_frame_equal(var.read_table(0, "responses"), eva.read_table(0, "responses"))
    assert not (ev.stage == "responses").any()                  # not generated: no stage of its own
    assert "responses_shared" not in set(th.events().event)     # its plan chooses which prompts step 1 samples
    assert not var.read_table(0, "weights").equals(eva.read_table(0, "weights"))   # the arm's own metric after that

    # the copy is what the arm computes itself
    base = profile_config("ci", iterations=1, n_prompts=8)
    alone = run_ablation(base, {"metric=var": {"metric": "var"}}, [1], tmp_path / "alone", progress=False,
                         share_initial_responses=False)["metric=var"][0]
    pd.testing.assert_frame_equal(alone.read_table(0, "responses"), var.read_table(0, "responses"))
    capsys.readouterr()
