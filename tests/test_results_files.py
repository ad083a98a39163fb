"""The results files in data/ are what the README and docs/experiments.md (each further design's section, read
through ``docs.section``) say: README's reproduction tables are the rendering of
data/reproduction.json (`markdown_tables`), every number of them is read back from the file's curves and paired
differences, and the file is a complete results file (per-seed rows for every arm × seed × iteration, the budget
rule, the checkpoints of the runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import docs

from evalab.reproduction import (ONLINE_FINAL, ONLINE_RESULT_TABLES, PAPER_ORDERING, RESULT_TABLES, load_results,
                                 markdown_tables, online_markdown_table)

ROOT = Path(__file__).resolve().parents[1]
REP = ROOT / "data" / "reproduction.json"
SECTION = "## Does evolving beat a fixed set?"


def _fmt(v: float, signed: bool = False) -> str:
    return (f"{v + 0.0:+.3f}" if signed else f"{v:.3f}").replace("-", "−")


def _ci(d: float, lo: float, hi: float) -> str:
    """A signed difference and its CI as the README's prose quotes it: ``+0.014 [−0.053, +0.083]``."""
    from evalab.reproduction import format_ci

    return format_ci(d, (lo, hi)).replace("-", "−")


def _readme_tables() -> list[list[list[str]]]:
    """The markdown tables of README's reproduction section, as rows of cells (header first, separator dropped)."""
    text = docs.section(SECTION)
    tables, cur = [], []
    for line in text.splitlines():
        if line.startswith("| "):
            if not line.startswith("| ---"):
                cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            tables.append(cur)
            cur = []
    return tables + ([cur] if cur else [])


@pytest.mark.skipif(not REP.exists(), reason="data/reproduction.json is written by `python -m evalab reproduce`")
def test_readme_reproduction_tables_are_the_results_file():
    res = load_results(REP)
    assert set(RESULT_TABLES) <= set(res) and res["budget_rule"] and res["pairs_per_iteration"] == 24
    ps = res["per_seed"]
    arms, seeds = list(dict.fromkeys(ps.arm)), sorted(set(ps.seed))
    assert len(seeds) >= 3 and len(ps) == len(arms) * len(seeds) * 4   # iterations 0..3, θ3 evaluated
    assert {"eva", "static"} <= set(arms)
    assert set(res["checkpoints"]) == set(arms)
    tables = _readme_tables()
    scores = next(t for t in tables if t[0][0] == "t" and t[0][1] == "eva")
    shown = scores[0][1:]
    assert set(shown) <= set(arms) and {"eva", "static"} <= set(shown)
    # the README is the file's rendering, not numbers typed in by hand
    rendered = markdown_tables(res, arms=shown, reference=PAPER_ORDERING)
    assert rendered in (ROOT / "README.md").read_text()
    # and every number of it is the file's (an independent read of the curves and the paired table)
    curves, paired = res["curves"], res["paired"]
    for row in scores[1:]:
        t = int(row[0])
        for arm, cell in zip(shown, row[1:]):
            c = curves[(curves.arm == arm) & (curves.quantity == "heldout_full") & (curves.iteration == t)].iloc[0]
            assert cell == f"{_fmt(c['mean'])} [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]", (arm, t, cell)
    diffs = next(t for t in tables if t[0][0] == "t" and t[0][1].startswith("eva − "))
    assert [h.removeprefix("eva − ") for h in diffs[0][1:]] == [a for a in shown if a != "eva"]
    # the last row is the paper's ordering, for reference: eva ahead of fresh and of both no-evolve arms
    assert diffs[-1] == ["paper", *(PAPER_ORDERING.get(a, "—") for a in shown if a != "eva")]
    assert {"fresh", "no_evolve-greedy", "no_evolve-sampled"} <= set(PAPER_ORDERING) <= set(shown)
    assert [int(r[0]) for r in diffs[1:-1]] == [1, 2, 3]
    for row in diffs[1:-1]:
        t = int(row[0])
        for vs, cell in zip(diffs[0][1:], row[1:]):
            d = paired[(paired.arm == "eva") & (paired.vs == vs.removeprefix("eva − ")) & (paired.metric == "full")
                       & (paired.iteration == t)].iloc[0]
            assert cell == (f"{_fmt(d.delta, True)} [{_fmt(d.ci_low, True)}, {_fmt(d.ci_high, True)}] "
                            f"({d.p_better:.2f})"), (vs, t, cell)


EASY = ROOT / "data" / "regime_easy.json"


@pytest.mark.skipif(not EASY.exists(), reason="data/regime_easy.json is written by `python -m evalab reproduce`")
def test_readme_easy_regime_tables_are_the_results_file():
    res = load_results(EASY)
    assert res["base_config"]["prompt_set"].endswith("seed_easy_constraint_prompts.jsonl")
    assert sorted(set(res["per_seed"].seed)) == [1, 2, 3] and set(res["per_seed"].arm) == {"eva", "static"}
    assert markdown_tables(res, arms=["eva", "static"]) in docs.section("## An easier seed set")


def _regime_grid(config: str, heading: str) -> tuple[dict, dict, str]:
    """(results, config, docs section) of a finished regime grid (configs/<config>): every (arm, seed) of the
    config in the file, over all its iterations, with its digest in git; the section starts at ``heading``."""
    cfg = yaml.safe_load((ROOT / "configs" / config).read_text())
    res = load_results(ROOT / cfg["out"])
    ps = res["per_seed"]
    assert res["missing"] == []
    assert {(a, int(s)) for a, s in zip(ps.arm, ps.seed)} == {(a, s) for a in cfg["arms"] for s in cfg["seeds"]}
    assert sorted(set(ps.iteration)) == list(range(cfg["iterations"] + 1))
    for a in cfg["arms"]:
        for s in cfg["seeds"]:
            assert (ROOT / cfg["digests"] / a / f"seed{s}.json").is_file(), (a, s)
    return res, cfg, docs.section(heading)


def test_readme_all_pairs_regime_is_the_results_file_and_the_digests():
    """The pair-budget lever (configs/regime_all_pairs.yaml): every run of the grid is in the file and has its digest
    in git, each arm trained on every pair it built, and the README's tables are the file's and the digests'."""
    from evalab.reproduction import lever_markdown_table, lever_table

    res, cfg, section = _regime_grid("regime_all_pairs.yaml", "## Every pair trained on")
    assert res["pairs_per_iteration"] == 0
    ps = res["per_seed"]
    trained = ps[ps.iteration < cfg["iterations"]]
    assert (trained.n_pairs == trained.n_pairs_built).all() and (trained.n_pairs > 24).all()  # no sub-sample
    assert markdown_tables(res, arms=["eva", "static"]) in section
    assert lever_markdown_table(lever_table(ROOT, "all pairs")) in section


def test_readme_small_set_regime_is_the_results_file_and_the_digests():
    """The prompt-set-size and iterations levers (configs/regime_small_set.yaml): 16 prompts per set, 6 iterations,
    every run in the file with its digest in git; the README's tables are the file's, the digests' and all the
    regimes' side by side."""
    from evalab.reproduction import REGIMES, lever_markdown_table, lever_table, load_regimes, regime_markdown_table

    res, cfg, section = _regime_grid("regime_small_set.yaml", "## A small set over six iterations")
    assert res["base_config"]["n_prompts"] == 16 and cfg["iterations"] == 6
    assert markdown_tables(res, arms=["eva", "static"]) in section
    assert lever_markdown_table(lever_table(ROOT, "small set")) in section
    four = ["standard", "easy seed set", "all pairs", "small set"]   # the regimes measured by then
    regimes = load_regimes(ROOT, {k: REGIMES[k] for k in four})
    assert list(regimes) == four
    assert regime_markdown_table(regimes) in section


def test_readme_high_lr_regime_and_its_recipe_pilot():
    """The learning-rate lever (configs/regime_high_lr.yaml): every run in the file with its digest in git, DPO at
    the config's lr; the README's tables are the file's, the digests' (the lever against the standard grid), all
    the regimes side by side, and the recipe pilot that picked the lr (from its digests)."""
    from evalab.reproduction import (REGIMES, lever_markdown_table, lever_table, load_regimes,
                                     recipe_pilot_markdown_table, recipe_pilot_table, regime_markdown_table)

    res, cfg, section = _regime_grid("regime_high_lr.yaml", "## A stronger recipe")
    assert res["base_config"]["learning_rate"] == cfg["set"]["learning_rate"] == 1e-4
    assert markdown_tables(res, arms=["eva", "static"]) in section
    assert lever_markdown_table(lever_table(ROOT, "lr ×5")) in section
    five = ["standard", "easy seed set", "all pairs", "small set", "lr ×5"]   # the regimes measured by then
    regimes = load_regimes(ROOT, {k: REGIMES[k] for k in five})
    assert list(regimes) == five
    assert regime_markdown_table(regimes) in section
    pilot = recipe_pilot_table(ROOT)
    for q in ("pass_rate", "train_reward"):
        assert recipe_pilot_markdown_table(pilot, q) in section


def test_readme_high_lr_ep3_regime_is_the_results_file_and_the_digests():
    """The epochs lever on top of the learning rate (configs/regime_high_lr_ep3.yaml, extended to 5 iterations): every
    run in the file with its digest in git, each digest made from the extended run; DPO at the config's lr for its
    epochs; the README's tables are the file's, the digests' (the regime against the standard grid and against
    lr ×5 alone, each arm's change since t = 1 here and in every regime) and all the regimes side by side."""
    from evalab.digest import load_digests
    from evalab.reproduction import (REGIME_DIGESTS, REGIMES, change_markdown_table, change_table,
                                     lever_markdown_table, lever_table, load_regimes, regime_change_markdown_table,
                                     regime_change_table, regime_markdown_table)

    res, cfg, section = _regime_grid("regime_high_lr_ep3.yaml", "## Three epochs at the stronger lr")
    assert res["base_config"]["learning_rate"] == cfg["set"]["learning_rate"] == 1e-4
    assert res["base_config"]["epochs"] == cfg["set"]["epochs"] == 3
    assert res["base_config"]["iterations"] == cfg["iterations"] == 5
    digests = load_digests(ROOT / cfg["digests"], arms=cfg["arms"])
    for runs in digests.values():
        for d in runs:
            assert d.config.iterations == 5 and sorted(map(int, d.data["eval"])) == [0, 1, 2, 3, 4, 5]
    six = ["standard", "easy seed set", "all pairs", "small set", "lr ×5", "lr ×5, 3 epochs"]  # measured by then
    assert change_markdown_table(change_table(digests)) in section
    with_digests = {k: REGIME_DIGESTS[k] for k in six if k in REGIME_DIGESTS}
    assert regime_change_markdown_table(regime_change_table(ROOT, with_digests)) in section
    assert markdown_tables(res, arms=["eva", "static"]) in section
    for ref in ("standard", "lr ×5"):
        assert lever_markdown_table(lever_table(ROOT, "lr ×5, 3 epochs", ref=ref)) in section
    regimes = load_regimes(ROOT, {k: REGIMES[k] for k in six})
    assert list(regimes) == six
    assert regime_markdown_table(regimes) in section


def test_readme_large_set_regime_is_the_results_file_and_the_digests():
    """The prompt-set-size lever upward (configs/regime_large_set.yaml): 96 prompts with <= 48 pairs per iteration,
    every run in the file with its digest in git, each arm's X_0 the first 96 seed prompts (so its first 48 are the
    standard grid's X_0); the README's tables are the file's (held-out, paired, the mechanism), the digests' (the
    lever against the standard grid, paired by seed and prompt) and all the regimes side by side."""
    from evalab.digest import load_digests
    from evalab.reproduction import (REGIMES, lever_markdown_table, lever_table, load_regimes,
                                     quantity_markdown_table, regime_markdown_table)

    res, cfg, section = _regime_grid("regime_large_set.yaml", "## A larger set")
    assert res["base_config"]["n_prompts"] == cfg["set"]["n_prompts"] == 96
    assert res["pairs_per_iteration"] == cfg["set"]["pairs_per_iteration"] == 48
    for runs in load_digests(ROOT / cfg["digests"], arms=cfg["arms"]).values():
        for d in runs:
            assert d.config.n_prompts == 96 and d.config.pairs_per_iteration == 48
            assert d.config.learning_rate == 2e-5 and d.config.epochs == 1   # the standard grid's recipe
    assert markdown_tables(res, arms=["eva", "static"]) in section
    quantities = ["informative_share", "mixed", "all_fail", "all_pass", "n_pairs", "n_constraints"]
    assert quantity_markdown_table(res, quantities, ["eva", "static"]) in section
    assert lever_markdown_table(lever_table(ROOT, "large set")) in section
    regimes = load_regimes(ROOT)
    assert list(regimes) == list(REGIMES)
    assert regime_markdown_table(regimes) in section


AIM_GRIDS = {  # config: (docs heading, the new arm, its overrides, {reused arm: the results file it comes from})
    "aim_frontier.yaml": ("## A creator aimed at the frontier, in the 3-epoch", "aim=frontier",
                          {"creator_aim": "frontier"}, {"eva": "regime_high_lr_ep3.json",
                                                        "static": "regime_high_lr_ep3.json"}),
    "aim_frontier_gentle.yaml": ("## A gentler aim: ease only the all-fail", "aim=frontier@0.25",
                                 {"creator_aim": "frontier", "aim_pass_rate": 0.25},
                                 {"eva": "regime_high_lr_ep3.json", "static": "regime_high_lr_ep3.json",
                                  "aim=frontier": "aim_frontier.json"}),
}


@pytest.mark.parametrize("config", list(AIM_GRIDS))
def test_readme_aim_grids_are_their_results_files_and_reuse_the_earlier_runs(config):
    """The creators aimed at the frontier (configs/aim_frontier*.yaml): every run in the file with its digest in
    git; the arms not rerun have the numbers of the file they come from (the same runs); the new arm ran with its
    aim; the README's tables are the file's."""
    from evalab.digest import load_digests
    from evalab.reproduction import paired_markdown_table, quantity_markdown_table

    heading, arm, overrides, reused = AIM_GRIDS[config]
    res, cfg, section = _regime_grid(config, heading)
    assert set(cfg["arms"]) == {arm, *reused} and res["arms"][arm] == overrides
    k = cfg["iterations"]
    for other, source in reused.items():
        theirs_res = load_results(ROOT / "data" / source)
        for name in ("curves", "per_seed"):
            mine, theirs = res[name], theirs_res[name]
            mine = mine[mine.arm == other].reset_index(drop=True)
            theirs = theirs[(theirs.arm == other) & (theirs.iteration <= k)].reset_index(drop=True)
            if k < 5:  # cut runs: the last iteration is eval only, so only its held-out and prompt-set rows compare
                mine, theirs = mine[mine.iteration < k].reset_index(drop=True), theirs[theirs.iteration < k]
                theirs = theirs.reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)
    new = load_digests(ROOT / cfg["digests"], arms=[arm])[arm]
    assert [d.config.creator_aim for d in new] == ["frontier"] * 3
    assert [d.config.aim_pass_rate for d in new] == [overrides.get("aim_pass_rate", 0.5)] * 3
    assert all(d.config.iterations == k for d in new)
    assert markdown_tables(res, arms=cfg["arms"]) in section
    assert paired_markdown_table(res, arm) in section
    quantities = ["informative_share", "mixed", "all_fail", "all_pass", "n_constraints"]
    assert quantity_markdown_table(res, quantities + (["prompt_chars"] if arm == "aim=frontier" else []),
                                   cfg["arms"]) in section


def test_readme_gentle_aim_offspring_table_and_secondary_are_the_digests():
    """The offspring table of the gentler aim's section, and its secondary comparison (− aim=frontier at t = 3),
    recomputed from the digests in git."""
    from evalab.digest import load_digests
    from evalab.reproduction import offspring_markdown_table, offspring_outcomes, paired_cell, paired_differences

    _, _, section = _regime_grid("aim_frontier_gentle.yaml", "## A gentler aim: ease only the all-fail")
    d = load_digests(ROOT / "data" / "digests" / "regime_high_lr_ep3", arms=["eva", "aim=frontier",
                                                                              "aim=frontier@0.25"])
    assert offspring_markdown_table(offspring_outcomes(d)) in section
    p = paired_differences({a: d[a] for a in ("aim=frontier@0.25", "aim=frontier")}, arm="aim=frontier@0.25",
                           baselines=["aim=frontier"], n_boot=2000)
    r = p[p.iteration == 3].iloc[0]
    assert f"− aim=frontier at t = 3: {paired_cell(r.delta, r.ci_low, r.ci_high, r.p_better)}" in section


def test_pooled_regime_delta_is_each_regimes_paired_delta_and_their_mean(tmp_path):
    """pooled_regime_delta: each regime's row is its results file's eva − static at its last evaluated iteration
    (the same point estimate), the pooled row their mean over the regimes; the README's table is this one; regimes
    whose held-out prompts differ are refused by name."""
    import shutil

    from evalab.digest import digest_path, load_digest
    from evalab.reproduction import REGIME_DIGESTS, load_regimes, pooled_markdown_table, pooled_regime_delta

    t = pooled_regime_delta(ROOT, n_boot=300)
    assert list(t.regime) == [*REGIME_DIGESTS, "pooled"]
    regimes = load_regimes(ROOT)
    for r in t[t.regime != "pooled"].itertuples():
        c, p = regimes[r.regime]["curves"], regimes[r.regime]["paired"]
        assert r.iteration == c[c.quantity == "heldout_full"].iteration.max()
        d = p[(p.arm == "eva") & (p.vs == "static") & (p.metric == "full") & (p.iteration == r.iteration)]
        assert r.delta == pytest.approx(d.delta.item(), abs=1e-12) and r.n_seeds == 3
    pooled = t.iloc[-1]
    assert pooled.delta == pytest.approx(t.delta[:-1].mean()) and pooled.n_seeds == 3 * len(REGIME_DIGESTS)
    assert (t.ci_low <= t.delta).all() and (t.delta <= t.ci_high).all()
    assert pooled.ci_high - pooled.ci_low < (t.ci_high - t.ci_low)[:-1].min()   # the regimes narrow the interval
    readme = (ROOT / "README.md").read_text()
    table = pooled_markdown_table(pooled_regime_delta(ROOT))
    assert "\n".join("  " + ln for ln in table.strip().splitlines()) in readme

    for name in ("a", "b"):  # two copies of one regime, one seed's held-out prompts renamed in the second
        shutil.copytree(ROOT / REGIME_DIGESTS["standard"], tmp_path / name)
    path = digest_path(tmp_path / "b", "eva", 1)
    d = load_digest(path)
    d.data["eval"] = {k: {**v, "prompt_id": [f"x{i}" for i in v["prompt_id"]]} for k, v in d.data["eval"].items()}
    d.write(path)
    with pytest.raises(ValueError, match="regime 'b', seed 1: its held-out prompts differ"):
        pooled_regime_delta(tmp_path, {"a": "a", "b": "b"}, n_boot=10)
    with pytest.raises(ValueError, match="regime 'a': no digests of \\['fresh'\\]"):
        pooled_regime_delta(tmp_path, {"a": "a"}, vs="fresh", n_boot=10)
    # a regime in several directories (a grid and seeds added to it later) is the same design as one directory
    for arm in ("eva", "static"):
        (tmp_path / "later" / arm).mkdir(parents=True)
        shutil.move(digest_path(tmp_path / "a", arm, 3), digest_path(tmp_path / "later", arm, 3))
    split = pooled_regime_delta(tmp_path, {"std": ["a", "later"]}, n_boot=200)
    whole = pooled_regime_delta(ROOT, {"std": REGIME_DIGESTS["standard"]}, n_boot=200)
    pd.testing.assert_frame_equal(split, whole)
    assert split.n_seeds.iloc[0] == 3 and not pooled_regime_delta(tmp_path, {"std": "a"}, n_boot=10).n_seeds[0] == 3
    with pytest.raises(ValueError, match="arm 'eva' seed 1: a digest in both"):
        pooled_regime_delta(tmp_path, {"twice": ["a", "a"]}, n_boot=10)


def test_seed_power_projects_the_measured_spread_and_the_textbook_case(monkeypatch):
    """seed_power: on the shipped digests, k = 3 projects about the half-width the regimes measured at 3 seeds, and
    more seeds narrow it; on synthetic differences (60 regimes of 3 seeds, a seed offset of sd 0.05, no prompt or
    cell noise) the half-width is 1.96 × the seeds' sd / sqrt(k) and the 80%-power difference (1.96 + 0.84) × sd /
    sqrt(k); with every seed alike it is 1.96 × the prompts' sd / sqrt(prompts), whatever k; bad k and one-seed
    regimes are refused by name. The README's table is this one."""
    from evalab import reproduction
    from evalab.reproduction import seed_power, seed_power_markdown_table

    t = seed_power(ROOT, ks=(3, 6, 12), n_boot=1500)
    assert list(t.k) == [3, 6, 12] and list(t.runs) == [6, 12, 24]
    assert t.half_width.is_monotonic_decreasing and (t.mde > t.half_width).all()
    assert 0.75 < t.half_width[0] / t.attrs["observed_half_width"] < 1.33
    readme = (ROOT / "README.md").read_text()
    table = seed_power_markdown_table(seed_power(ROOT))
    assert "\n".join("  " + ln for ln in table.strip().splitlines()) in readme

    rng = np.random.default_rng(0)
    fake = {f"r{j}": (3, np.repeat(rng.normal(0, 0.05, (3, 1)), 40, axis=1)) for j in range(60)}  # 3 seeds each
    monkeypatch.setattr(reproduction, "_regime_delta_matrices", lambda *a, **k: (fake, [f"p{i}" for i in range(40)]))
    sd = np.sqrt(np.mean([((d - d.mean(axis=0)) ** 2).sum(axis=0)[0] / (len(d) - 1) for _, d in fake.values()]))
    for row in seed_power(ROOT, ks=(4, 16), n_boot=6000).itertuples():
        assert row.half_width == pytest.approx(1.96 * sd / np.sqrt(row.k), rel=0.08)
        assert row.mde == pytest.approx((1.96 + 0.8416) * sd / np.sqrt(row.k), rel=0.08)
    v = rng.normal(0, 0.1, 40)  # the prompts alone: every seed alike, so only the prompt resampling is left
    fake = {f"r{j}": (3, np.tile(v, (3, 1))) for j in range(2)}
    for row in seed_power(ROOT, ks=(2, 8), n_boot=6000).itertuples():
        assert row.half_width == pytest.approx(1.96 * v.std() / np.sqrt(40), rel=0.08)
    with pytest.raises(ValueError, match="every k must be >= 1"):
        seed_power(ROOT, ks=(0,))
    fake["one"] = (3, np.zeros((1, 40)))
    with pytest.raises(ValueError, match=r"regimes \['one'\] have fewer than 2 seeds"):
        seed_power(ROOT)


def test_regime_change_table_is_each_regimes_change_table_at_its_last_iteration():
    """regime_change_table: one block per regime with digests, in REGIME_DIGESTS' order, each the rows of that
    regime's change_table (eva, static, their difference) at its last evaluated iteration."""
    from evalab.digest import load_digests
    from evalab.reproduction import REGIME_DIGESTS, change_table, regime_change_table

    t = regime_change_table(ROOT, n_boot=200)
    assert list(dict.fromkeys(t.regime)) == list(REGIME_DIGESTS)
    for regime, d in REGIME_DIGESTS.items():
        full = change_table(load_digests(ROOT / d, arms=["eva", "static"]), n_boot=200)
        want = full[full.iteration == full.iteration.max()].reset_index(drop=True)
        got = t[t.regime == regime].drop(columns="regime").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
        assert list(got.row) == ["eva", "static", "eva − static"]
    with pytest.raises(ValueError, match="no regimes given"):
        regime_change_table(ROOT, {})


def test_recipe_pilot_pairs_static_runs_by_seed_and_training_prompt():
    """recipe_pilot_table: every recipe's static runs sample from the same θ0 at t = 0 (identical pass rates, so a
    zero difference), later differences are recomputed from the digests' per-prompt pass rates, and pilots that do
    not train on one prompt set (or an unknown reference) are refused by name."""
    import numpy as np

    from evalab.digest import load_digests
    from evalab.reproduction import RECIPE_PILOTS, recipe_pilot_markdown_table, recipe_pilot_table

    t = recipe_pilot_table(ROOT, n_boot=200)
    assert list(dict.fromkeys(t.recipe)) == list(RECIPE_PILOTS)
    assert sorted(set(t.iteration)) == [0, 1, 2] and (t.n_seeds == 3).all()
    assert (t.ci_low <= t["mean"] + 1e-12).all() and (t["mean"] <= t.ci_high + 1e-12).all()
    assert (t[t.iteration == 0].delta == 0).all()
    runs = {k: {int(d.config.seed): d for d in load_digests(ROOT / v, arms=["static"])["static"]}
            for k, v in RECIPE_PILOTS.items()}
    ref, other = list(RECIPE_PILOTS)[0], list(RECIPE_PILOTS)[1]
    assert {d.config.learning_rate for d in runs[ref].values()} == {2e-5}
    assert {d.config.learning_rate for d in runs[other].values()} == {1e-4}
    for s in (1, 2, 3):
        assert np.array_equal(runs[ref][s].pass_rates()[0], runs[other][s].pass_rates()[0])
    for it in (1, 2):
        want = np.mean([np.nanmean(runs[other][s].pass_rates()[it] - runs[ref][s].pass_rates()[it]) for s in (1, 2, 3)])
        row = t[(t.recipe == other) & (t.iteration == it) & (t.quantity == "pass_rate")].iloc[0]
        assert row.delta == pytest.approx(want)
    with pytest.raises(ValueError, match=r"recipe 'standard' seed \d: n_prompts=48"):
        recipe_pilot_table(ROOT, {**RECIPE_PILOTS, "standard": "data/digests/reproduction"})
    other_ref = recipe_pilot_markdown_table(recipe_pilot_table(ROOT, ref=other, n_boot=50))
    assert f"| pass_rate | − {other} |" in other_ref and f"| {ref} | 1 | " in other_ref
    assert other_ref.count("(0.") + other_ref.count("(1.") == 3 * 2   # the 3 other recipes at t = 1, 2
    with pytest.raises(ValueError, match="ref='nope'"):
        recipe_pilot_table(ROOT, ref="nope")
    with pytest.raises(FileNotFoundError, match="data/digests/nowhere is not a directory"):
        recipe_pilot_table(ROOT, {"x": "data/digests/nowhere"})
    with pytest.raises(ValueError, match="recipe 'x': no static digest in data/digests/regime_high_lr/eva"):
        recipe_pilot_table(ROOT, {"x": "data/digests/regime_high_lr/eva"})


def test_lever_table_pairs_one_arm_across_two_regimes_by_seed_and_prompt():
    """lever_table: the same arm in two regimes, paired by seed and held-out prompt from the digests; the mean
    difference is recomputed here from the digests' per-prompt scores; regimes or arms it cannot pair are named."""
    from evalab.digest import load_digests
    from evalab.reproduction import REGIME_DIGESTS, lever_table

    t = lever_table(ROOT, "all pairs", n_boot=200)
    assert sorted(set(t.solver_arm)) == ["eva", "static"] and sorted(set(t.iteration)) == [1, 2, 3]
    assert (t.n_seeds == 3).all() and (t.ci_low <= t.delta).all() and (t.delta <= t.ci_high).all()
    a = load_digests(ROOT / REGIME_DIGESTS["all pairs"], arms=["static"])["static"]
    b = {int(d.config.seed): d for d in load_digests(ROOT / REGIME_DIGESTS["standard"], arms=["static"])["static"]}
    for it in (1, 2, 3):
        diffs = []
        for d in a:
            x = d.eval_cells("full").query("iteration == @it").set_index("prompt_id").score
            y = b[int(d.config.seed)].eval_cells("full").query("iteration == @it").set_index("prompt_id").score
            assert len(x) == len(y) == 120 and set(x.index) == set(y.index)
            diffs.append((x - y.loc[x.index]).mean())
        row = t[(t.solver_arm == "static") & (t.iteration == it)].iloc[0]
        assert row.delta == pytest.approx(sum(diffs) / len(diffs))
    with pytest.raises(ValueError, match="'easy seed set' has no digests"):
        lever_table(ROOT, "easy seed set")
    with pytest.raises(ValueError, match="no digest of arm 'fresh' in data/digests/regime_all_pairs"):
        lever_table(ROOT, "all pairs", arms=("fresh",))


ONLINE = ROOT / "data" / "online_reproduction.json"


@pytest.mark.skipif(not ONLINE.exists(), reason="data/online_reproduction.json is written by `python -m evalab "
                    "reproduce-online`")
def test_readme_online_table_is_the_results_file():
    res = load_results(ONLINE)
    arms = yaml.safe_load((ROOT / "configs" / "online_reproduction.yaml").read_text())["arms"]
    assert set(ONLINE_RESULT_TABLES) <= set(res) and res["arms"] == arms and len(res["seeds"]) >= 3
    ps = res["per_seed"]
    assert len(ps) == len(arms) * len(res["seeds"]) and ps.train_runtime_s.notna().all()
    assert (ps[ps.arm == "online-seed"].evolved_share == 0).all() and (ps[ps.arm != "online-seed"].evolved_share > 0).all()
    assert (ps[ps.arm == "online-eva+dynamic"].extra_completions > 0).all()
    section = docs.section("## Online eva over seeds")
    assert online_markdown_table(res) in section
    # the final policies' held-out scores are the file's, read independently of the renderer
    h = res["heldout"]
    for arm in arms:
        c = h[(h.arm == arm) & (h.quantity == "heldout_full") & (h.iteration == ONLINE_FINAL)].iloc[0]
        assert f"| {arm} | " in section
        assert f"{_fmt(c['mean'])} [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]" in online_markdown_table(res)


ONLINE_PRED = ROOT / "data" / "online_curricula.json"


def test_readme_online_prediction_table_is_the_results_file():
    """data/online_curricula.json (configs/online_curricula.yaml): every arm × seed ran; the prediction arms
    declined candidates and online eva none; README's table against online eva is its rendering, and each final
    policy's held-out score is read back from the file."""
    res = load_results(ONLINE_PRED)
    arms = yaml.safe_load((ROOT / "configs" / "online_curricula.yaml").read_text())["arms"]
    assert set(ONLINE_RESULT_TABLES) <= set(res) and res["arms"] == arms and len(res["seeds"]) >= 3
    ps = res["per_seed"]
    assert len(ps) == len(arms) * len(res["seeds"]) and ps.train_runtime_s.notna().all()
    assert (ps[ps.arm == "online-eva"].rollouts_declined == 0).all()
    assert (ps[ps.arm != "online-eva"].rollouts_declined > 0).all()
    assert (ps[ps.arm == "online-greso"].groups_skipped >= 0).all() and (ps.rollouts == ps.rollouts.iloc[0]).all()
    md = online_markdown_table(res, ref="online-eva")
    assert md in docs.section("## Prediction before sampling, online")
    h = res["heldout"]
    for arm in arms:
        c = h[(h.arm == arm) & (h.quantity == "heldout_full") & (h.iteration == ONLINE_FINAL)].iloc[0]
        assert f"| {arm} | " in md and f"{_fmt(c['mean'])} [{_fmt(c.ci_low)}, {_fmt(c.ci_high)}]" in md


CURRICULA = ROOT / "data" / "curricula.json"


def test_readme_curricula_table_is_the_results_file_and_names_what_is_missing():
    """data/curricula.json (`python -m evalab reproduce --config configs/curricula.yaml`, or `--collect` mid-grid)
    is rendered in README's curricula section; every run of the grid is either in it or listed as missing, and each
    run in it has a digest in git that rebuilds it (data/digests/reproduction)."""
    from evalab.digest import digest_path, load_digest
    from evalab.reproduction import ARM_GROUPS, curricula_markdown_table

    res = load_results(CURRICULA)
    ps = res["per_seed"]
    assert list(res["arms"]) == ARM_GROUPS["curricula"] and res["pairs_per_iteration"] == 24
    grid = {(a, s) for a in res["arms"] for s in (1, 2, 3)}
    have = set(zip(ps.arm, ps.seed.astype(int)))
    assert have | {(m["arm"], m["seed"]) for m in res["missing"]} == grid and not have & {
        (m["arm"], m["seed"]) for m in res["missing"]}
    assert (ps.groupby(["arm", "seed"]).size() == 4).all()          # iterations 0..3, θ3 evaluated
    for arm, seed in have:
        d = load_digest(digest_path(ROOT / "data" / "digests" / "reproduction", arm, seed))
        assert d.arm == arm and d.config.seed == seed and d.config.iterations == 3
        rows = ps[(ps.arm == arm) & (ps.seed == seed)].sort_values("iteration")
        assert [r["heldout_full"] for r in d.rows()] == pytest.approx(rows.heldout_full.tolist())
    assert curricula_markdown_table(res) in docs.section("## Beyond eva: the comparison")


METRICS = ROOT / "data" / "reproduction_metrics.json"


def test_readme_metric_ablation_tables_are_the_results_file_and_name_what_is_missing():
    """data/reproduction_metrics.json (`python -m evalab reproduce --config configs/reproduction_metrics.yaml`, or
    `--collect` mid-grid): every run of the grid is in it or listed as missing, each run in it has a digest in git,
    and README's metric-ablation tables are its rendering for the arms with every seed."""
    from evalab.digest import digest_path, load_digest
    from evalab.reproduction import ARM_GROUPS

    res = load_results(METRICS)
    ps = res["per_seed"]
    assert list(res["arms"]) == ARM_GROUPS["metrics"] and res["pairs_per_iteration"] == 24
    grid = {(a, s) for a in res["arms"] for s in (1, 2, 3)}
    have = set(zip(ps.arm, ps.seed.astype(int)))
    missing = {(m["arm"], m["seed"]) for m in res["missing"]}
    assert have | missing == grid and not have & missing
    assert (ps.groupby(["arm", "seed"]).size() == 4).all()          # iterations 0..3, θ3 evaluated
    for arm, seed in have:
        d = load_digest(digest_path(ROOT / "data" / "digests" / "reproduction", arm, seed))
        assert d.arm == arm and d.config.seed == seed and d.config.iterations == 3
    complete = [a for a in res["arms"] if all((a, s) in have for s in (1, 2, 3))]
    assert "eva" in complete and len(complete) >= 3
    section = docs.section("## The metric ablation")
    assert markdown_tables(res, arms=complete) in section
    for arm, seed in sorted(missing):
        assert f"{arm} seed {seed}" in section or arm in section


def test_regime_table_is_each_results_files_paired_rows():
    """The regimes view (notebook 04, README) takes eva − static from each regime's own results file, unchanged,
    with each arm's pairs of the iteration before; a regime file without one of the two arms is refused by name."""
    from evalab.reproduction import REGIMES, load_regimes, regime_curves, regime_table

    regimes = load_regimes(ROOT)
    assert {"standard", "easy seed set", "all pairs", "small set"} <= set(regimes) <= set(REGIMES)
    table = regime_table(regimes)
    for name, res in regimes.items():
        p = res["paired"]
        rows = table[table.regime == name]
        assert list(rows.iteration) == list(range(1, int(res["per_seed"].iteration.max()) + 1))
        for r in rows.itertuples():
            d = p[(p.arm == "eva") & (p.vs == "static") & (p.metric == "full") & (p.iteration == r.iteration)].iloc[0]
            assert (r.delta, r.ci_low, r.ci_high) == (d.delta, d.ci_low, d.ci_high)
            ps = res["per_seed"]
            prev = ps[(ps.iteration == r.iteration - 1) & (ps.arm == "static")]
            assert r.n_pairs_static == pytest.approx(prev.n_pairs.mean())
    curves = regime_curves(regimes)
    assert set(curves.arm) == {f"{n} · {a}" for n in regimes for a in ("eva", "static")}
    only_eva = {"x": {**regimes["standard"], "curves": regimes["standard"]["curves"].query("arm == 'eva'")}}
    with pytest.raises(ValueError, match=r"regime 'x'.*no arm 'static'"):
        regime_table(only_eva)


def test_every_regime_is_one_shipped_config_and_every_regime_config_is_a_regime():
    """``REGIMES`` and ``REGIME_DIGESTS`` name each regime's results file and digest directory; they are the
    ``out:`` (default data/reproduction.json) and ``digests:`` fields of one configs/*.yaml, and every
    configs/regime_*.yaml is listed (its digests too, once they exist), so a new regime config cannot be left out of
    notebook 04 and the README's side-by-side table, and a moved file cannot leave a stale path behind."""
    from evalab.__main__ import REPRODUCE_KEYS
    from evalab.reproduction import REGIME_DIGESTS, REGIMES

    configs = {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "configs").glob("*.yaml"))}
    configs = {c: cfg for c, cfg in configs.items() if "arms" in cfg and set(cfg) <= set(REPRODUCE_KEYS)}  # the grids
    out = {c: cfg.get("out", "data/reproduction.json") for c, cfg in configs.items()}
    for name, rel in REGIMES.items():
        owners = [c for c in configs if out[c] == rel]
        assert len(owners) == 1, (name, rel, owners)
        if name in REGIME_DIGESTS:
            assert configs[owners[0]].get("digests") == REGIME_DIGESTS[name], (name, owners[0])
            assert (ROOT / REGIME_DIGESTS[name]).is_dir() or not (ROOT / rel).exists(), name
    assert set(REGIME_DIGESTS) <= set(REGIMES)
    regime_configs = [c for c in configs if c.startswith("regime_")]
    assert regime_configs and {out[c] for c in regime_configs} <= set(REGIMES.values())
    assert {configs[c]["digests"] for c in regime_configs if (ROOT / configs[c]["digests"]).is_dir()} <= set(
        REGIME_DIGESTS.values())


def test_readme_replication_of_the_a_avg_lead_is_its_file_and_the_pooled_digests():
    """The A*_avg re-test (configs/replication_a_avg.yaml): the README's tables are the replication file's (fresh
    seeds only, none of seeds 1-3) and ``pooled_results`` over the metric grid's digests and the replication's;
    the file names the seeds not yet run; pooling refuses an (arm, seed) found twice and an arm found nowhere."""
    from evalab.reproduction import pooled_results

    res = load_results(ROOT / "data" / "replication_a_avg.json")
    cfg = yaml.safe_load((ROOT / "configs" / "replication_a_avg.yaml").read_text())
    done = sorted(set(res["per_seed"].seed))
    assert done and set(done) <= set(cfg["seeds"]) and not set(done) & {1, 2, 3}
    assert sorted((m["arm"], m["seed"]) for m in res["missing"]) == sorted(
        (a, s) for a in cfg["arms"] for s in cfg["seeds"] if s not in done)
    dirs = [ROOT / "data" / "digests" / "reproduction", ROOT / cfg["digests"]]
    pooled = pooled_results(dirs, cfg["arms"])
    assert sorted(set(pooled["per_seed"].seed)) == [1, 2, 3, *done]
    p = pooled["paired"]
    row = p[(p.arm == "eva") & (p.vs == "metric=a_avg") & (p.metric == "full") & (p.iteration == 3)].iloc[0]
    assert row.n_seeds == 3 + len(done) and row.ci_low <= row.delta <= row.ci_high
    section = docs.section("## Re-testing A\\*_avg's lead")
    assert markdown_tables(res, arms=["eva", "metric=a_avg"]) in section
    assert markdown_tables(pooled, arms=["eva", "metric=a_avg"]) in section
    with pytest.raises(ValueError, match=r"arm 'eva' seed 1: a digest in both"):
        pooled_results([dirs[0], dirs[0]], ["eva"])
    with pytest.raises(ValueError, match=r"arms \['fresh'\]: no digest in"):
        pooled_results([dirs[1]], ["eva", "fresh"])


def test_seed_deltas_are_each_seeds_paired_difference_and_average_to_the_grids():
    """seed_deltas on the standard grid's digests: one row per seed, each seed's eva − static equals its per-seed
    held-out rates' difference in data/reproduction.json, their mean is the file's paired delta, each CI (over the
    prompts) holds its point; an explicit t and a missing arm; fig_seed_deltas draws one point per seed."""
    from evalab.plots import fig_seed_deltas
    from evalab.reproduction import merged_digests, paired_delta, seed_deltas

    runs = merged_digests([ROOT / "data" / "digests" / "reproduction"], ["eva", "static"])
    res = load_results(ROOT / "data" / "reproduction.json")
    ps = res["per_seed"]
    for t in (None, 1):
        sd = seed_deltas(runs, t=t, n_boot=300)
        it = 3 if t is None else t
        assert list(sd.seed) == [1, 2, 3] and set(sd.iteration) == {it} and set(sd.n_prompts) == {120}
        for r in sd.itertuples():
            e, s = (ps[(ps.arm == a) & (ps.seed == r.seed) & (ps.iteration == it)].heldout_full.item()
                    for a in ("eva", "static"))
            assert r.delta == pytest.approx(e - s, abs=1e-12) and r.ci_low <= r.delta <= r.ci_high
            assert r.ci_high - r.ci_low > 0.05  # 120 prompts leave a wide interval per seed
        assert sd.delta.mean() == pytest.approx(paired_delta(res["paired"], "eva", "static", "full", it)[0])
    fig = fig_seed_deltas(sd, overall=paired_delta(res["paired"], "eva", "static", "full", 1))
    assert list(fig.data[0].x) == list(sd.delta) and len(fig.data[0].y) == 3
    with pytest.raises(ValueError, match=r"seed_deltas: no runs of \['fresh'\]"):
        seed_deltas(runs, vs="fresh")


def test_per_seed_range_table_is_each_iterations_mean_and_range_over_seeds():
    """``per_seed_range_table``: per iteration and arm, the mean over seeds and the min-max of one per-seed column,
    "—" where an arm has none (here: static's rows of t = 2 dropped); a column that is not a per-seed quantity is
    refused."""
    from evalab.reproduction import per_seed_range_table

    res = load_results(ROOT / "data" / "reproduction_seeds.json")
    ps = res["per_seed"]
    table = per_seed_range_table(res, "n_pairs_built", ["eva", "static"]).splitlines()
    assert table[0] == "| t | eva: n_pairs_built | static: n_pairs_built |"
    its = sorted(set(ps.dropna(subset=["n_pairs_built"]).iteration))
    assert len(table) == 2 + len(its)
    for line, t in zip(table[2:], its):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == str(t)
        for cell, a in zip(cells[1:], ("eva", "static")):
            v = ps[(ps.arm == a) & (ps.iteration == t)].n_pairs_built
            assert cell == f"{v.mean():.1f} ({v.min():g}–{v.max():g})"
    only_eva = {**res, "per_seed": ps[(ps.arm == "eva") | (ps.iteration < 2)]}
    rows = per_seed_range_table(only_eva, "n_pairs_built", ["eva", "static"]).splitlines()
    assert rows[-1].startswith("| 2 | ") and rows[-1].endswith(" | — |")
    with pytest.raises(ValueError, match=r"column 'seed': not a per-seed quantity"):
        per_seed_range_table(res, "seed")
    with pytest.raises(ValueError, match=r"column 'nope'"):
        per_seed_range_table(res, "nope")


def test_readme_eight_iterations_is_the_results_file_and_extends_the_nine_seed_runs():
    """The standard design over 8 iterations (configs/reproduction_long.yaml): every (arm, seed) in the file over
    t = 0-8 with its digest in git, made with the standard recipe; its t = 0-3 are the nine-seed grid's runs (the
    held-out scores of seeds 6-8 equal data/reproduction_seeds.json's), so extending changed nothing before t = 3;
    the README's tables are the file's and the digests', and the primary and crossed numbers quoted are what the
    functions give."""
    from evalab.digest import load_digests
    from evalab.reproduction import (change_markdown_table, change_table, paired_ahead, per_seed_range_table,
                                     pooled_regime_delta, quantity_markdown_table, seed_deltas)

    res, cfg, section = _regime_grid("reproduction_long.yaml", "## Eight iterations at 48 prompts")
    assert cfg["iterations"] == 8 and cfg["seeds"] == [6, 7, 8]
    digests = load_digests(ROOT / cfg["digests"], arms=cfg["arms"])
    for runs in digests.values():
        for d in runs:
            assert d.config.iterations == 8 and sorted(map(int, d.data["eval"])) == list(range(9))
            assert (d.config.n_prompts, d.config.pairs_per_iteration, d.config.learning_rate, d.config.epochs) == (
                48, 24, 2e-5, 1)
    nine = load_results(ROOT / "data" / "reproduction_seeds.json")["per_seed"]
    key = ["arm", "seed", "iteration"]
    m = res["per_seed"].merge(nine, on=key, suffixes=("", "_nine"))
    assert len(m) == 2 * 3 * 4 and sorted(set(m.iteration)) == [0, 1, 2, 3]
    assert (m.heldout_full == m.heldout_full_nine).all() and (m.heldout_frac == m.heldout_frac_nine).all()
    assert markdown_tables(res, arms=["eva", "static"]) in section
    assert change_markdown_table(change_table(digests, since=3)) in section
    q = ["informative_share", "mixed", "all_fail", "all_pass", "n_constraints"]
    assert quantity_markdown_table(res, q, ["eva", "static"]) in section
    assert per_seed_range_table(res, "n_pairs_built", ["eva", "static"]) in section
    flat = " ".join(section.split())
    d, lo, hi, _ = paired_ahead(res["paired"], "eva", "static", "full", 8)
    assert f"**Primary (t = 8, stated before the runs): eva ahead, {_ci(d, lo, hi)}**" in flat and lo > 0
    assert _ci(*paired_ahead(res["paired"], "eva", "static", "frac", 8)[:3]) in flat
    assert _ci(*paired_ahead(res["paired"], "eva", "static", "full", 1)[:3]) in flat
    crossed = pooled_regime_delta(ROOT, {"8 iterations": (cfg["digests"],)}).iloc[0]
    assert crossed.iteration == 8 and _ci(crossed.delta, crossed.ci_low, crossed.ci_high) in flat
    for r in seed_deltas(digests, t=8).itertuples():
        assert f"{_ci(r.delta, r.ci_low, r.ci_high)} (seed {r.seed})" in flat


def test_readme_eight_iteration_confirmation_applies_its_stated_rule():
    """The confirmation of the eight-iteration lead (configs/reproduction_long_confirm.yaml): every run of seeds 4,
    5, 9 in the file over t = 0-8 with its digest in git, each made with the lead's config but for its seed; computed
    from a clean root, its t = 0-3 held-out scores equal the nine-seed grid's digests prompt by prompt (the runs
    reproduce); the README's tables are the file's, the digests' and the seed split's; the verdict quoted is the
    rule stated in the config applied to the primary CI; the six-seed numbers are what the functions give."""
    import dataclasses

    from evalab.reproduction import (STANDARD_ALL_SEEDS, change_markdown_table, change_table, merged_digests,
                                     paired_ahead, pooled_regime_delta, quantity_markdown_table, runs_results,
                                     seed_deltas, seed_split_markdown_table)

    res, cfg, section = _regime_grid("reproduction_long_confirm.yaml", "## The confirmation on seeds 4, 5, 9")
    lead_cfg = yaml.safe_load((ROOT / "configs" / "reproduction_long.yaml").read_text())
    assert cfg["iterations"] == 8 and cfg["seeds"] == [4, 5, 9] and not set(cfg["seeds"]) & set(lead_cfg["seeds"])
    six_dirs = [ROOT / lead_cfg["digests"], ROOT / cfg["digests"]]
    six_runs = merged_digests(six_dirs, cfg["arms"])  # read once; the lead's and the confirmation's runs by seed
    digests = {a: [r for r in rs if int(r.config.seed) in cfg["seeds"]] for a, rs in six_runs.items()}
    lead = {a: [r for r in rs if int(r.config.seed) in lead_cfg["seeds"]] for a, rs in six_runs.items()}
    nine = merged_digests([ROOT / d for d in STANDARD_ALL_SEEDS], cfg["arms"])

    def design(c):
        return {k: v for k, v in dataclasses.asdict(c).items() if k not in ("seed", "run_dir")}

    for arm, runs in digests.items():
        by_seed = {int(r.config.seed): r for r in nine[arm]}
        for d in runs:
            assert design(d.config) == design(lead[arm][0].config) and sorted(map(int, d.data["eval"])) == list(
                range(9))
            first = by_seed[int(d.config.seed)].data["eval"]
            for t in range(4):  # from scratch on another machine, the same scores prompt by prompt
                assert d.data["eval"][str(t)] == first[str(t)], (arm, d.config.seed, t)
    assert markdown_tables(res, arms=["eva", "static"]) in section
    six = runs_results(six_runs)  # pooled_results(six_dirs), the stated secondary, without reading them again
    assert sorted(set(six["per_seed"].seed)) == list(range(4, 10))
    lead_res = load_results(ROOT / lead_cfg["out"])
    assert seed_split_markdown_table({"6–8 (the lead)": lead_res, "4, 5, 9 (the confirmation)": res,
                                      "**4–9 (pooled)**": six}) in section
    assert change_markdown_table(change_table(six_runs, since=3)) in section
    q = ["informative_share", "mixed", "all_fail", "all_pass", "n_constraints"]
    assert quantity_markdown_table(res, q, ["eva", "static"]) in section
    flat = " ".join(section.split())
    d, lo, hi, _ = paired_ahead(res["paired"], "eva", "static", "full", 8)
    verdict = ("confirmed" if lo > 0 else "consistent, not confirmed" if d > 0 else "not confirmed")
    assert f"**Primary (t = 8, seeds 4, 5, 9, stated before the runs): {verdict}, eva − static {_ci(d, lo, hi)}**" \
        in flat
    assert _ci(*paired_ahead(six["paired"], "eva", "static", "full", 8)[:3]) in flat
    crossed = pooled_regime_delta(ROOT, {"six": tuple(map(str, six_dirs))}).iloc[0]
    assert crossed.iteration == 8 and crossed.n_seeds == 6
    assert _ci(crossed.delta, crossed.ci_low, crossed.ci_high) in flat
    for r in seed_deltas(digests, t=8).itertuples():
        assert f"{_ci(r.delta, r.ci_low, r.ci_high)} (seed {r.seed})" in flat


def test_readme_nine_seeds_is_the_results_file_of_the_reused_and_added_runs():
    """The standard design on 9 seeds (configs/reproduction_seeds.yaml): every (arm, seed) in the file; the runs it
    reused are the standard grid's and the A*_avg re-test's (their digests' rows, to the last digit; the held-out
    scores are data/reproduction.json's), the runs it added are exactly the digests in its own directory (none
    copied from a reused one); the file is ``pooled_results`` of STANDARD_ALL_SEEDS; the README's tables are the
    file's, the seed split's, and the crossed and pooled numbers quoted are what the functions give."""
    from evalab.reproduction import (REGIME_DIGESTS, STANDARD_ALL_SEEDS, merged_digests, paired_ahead, pooled_results,
                                     pooled_regime_delta, quantity_markdown_table, runs_results,
                                     seed_split_markdown_table)

    cfg = yaml.safe_load((ROOT / "configs" / "reproduction_seeds.yaml").read_text())
    assert list(STANDARD_ALL_SEEDS) == [*cfg["reuse"], cfg["digests"]]
    res = load_results(ROOT / cfg["out"])
    ps = res["per_seed"]
    assert res["missing"] == [] and cfg["seeds"] == list(range(1, 10))
    assert {(a, int(s)) for a, s in zip(ps.arm, ps.seed)} == {(a, s) for a in cfg["arms"] for s in cfg["seeds"]}
    added = sorted(p.relative_to(ROOT / cfg["digests"]).as_posix() for p in (ROOT / cfg["digests"]).rglob("*.json"))
    assert added == [f"eva/seed{s}.json" for s in range(6, 10)] + [f"static/seed{s}.json" for s in range(4, 10)]
    runs = merged_digests([ROOT / d for d in STANDARD_ALL_SEEDS], cfg["arms"])  # refuses a run found twice
    assert {(a, int(r.config.seed)) for a, rs in runs.items() for r in rs} == {(a, s) for a in cfg["arms"]
                                                                               for s in cfg["seeds"]}
    pooled = pooled_results([ROOT / d for d in STANDARD_ALL_SEEDS], cfg["arms"])
    for k in ("per_seed", "paired", "curves", "normalised"):
        pd.testing.assert_frame_equal(res[k].reset_index(drop=True), pooled[k].reset_index(drop=True), obj=k)
    first = load_results(ROOT / "data" / "reproduction.json")["per_seed"]
    key = ["arm", "seed", "iteration"]
    m = first[first.arm.isin(cfg["arms"])].merge(ps, on=key, suffixes=("_first", ""))
    assert len(m) == 2 * 3 * 4 and (m.heldout_full_first == m.heldout_full).all()
    assert (m.heldout_frac_first == m.heldout_frac).all()

    section = docs.section("## Nine seeds per arm")
    assert markdown_tables(res, arms=["eva", "static"]) in section
    later = pooled_results([ROOT / d for d in STANDARD_ALL_SEEDS[1:]], cfg["arms"])
    assert sorted(set(later["per_seed"].seed)) == list(range(4, 10))
    subset = runs_results({a: [r for r in rs if int(r.config.seed) > 3] for a, rs in runs.items()})  # notebook 04's
    for k in ("per_seed", "paired", "curves"):
        pd.testing.assert_frame_equal(subset[k].reset_index(drop=True), later[k].reset_index(drop=True), obj=k)
    first_file = load_results(ROOT / "data" / "reproduction.json")
    split = seed_split_markdown_table({"1–3 (`data/reproduction.json`)": first_file, "4–9 (added)": later,
                                       "**1–9**": res})
    assert split in section
    q = ["informative_share", "mixed", "all_fail", "all_pass", "n_pairs", "n_constraints"]
    assert quantity_markdown_table(res, q, ["eva", "static"]) in section
    flat = " ".join(section.split())  # the prose wraps lines
    d, lo, hi, _ = paired_ahead(res["paired"], "eva", "static", "full", 3)
    assert f"**{d:+.3f} [{lo:+.3f}, {hi:+.3f}]**".replace("-", "−") in flat and lo < 0 < hi
    crossed = pooled_regime_delta(ROOT, {"standard, 9 seeds": STANDARD_ALL_SEEDS}).iloc[0]
    assert f"{crossed.delta:+.3f} [{crossed.ci_low:+.3f}, {crossed.ci_high:+.3f}]".replace("-", "−") in flat
    assert f"±{(crossed.ci_high - crossed.ci_low) / 2:.3f} crossed" in flat
    assert f"±{(hi - lo) / 2:.3f} nested" in flat
    nine = pooled_regime_delta(ROOT, {**REGIME_DIGESTS, "standard": STANDARD_ALL_SEEDS}).iloc[-1]
    assert nine.n_seeds == 9 + 3 * (len(REGIME_DIGESTS) - 1)
    assert f"**{nine.delta:+.3f} [{nine.ci_low:+.3f}, {nine.ci_high:+.3f}]**".replace("-", "−") in flat


def test_readme_a_avg_confirmation_applies_its_stated_rule():
    """The confirmation of A*_avg's lead (configs/replication_a_avg_confirm.yaml): its new runs are metric=a_avg on
    seeds 6-9 with the re-test's config but for the seed, each starting from the same θ0 report as eva's run of its
    seed (prompt by prompt, though computed on its own); the file holds seeds 4-9 of both arms, the reused rows equal
    their digests'; the README's tables are the file's, the seed split's and the training sets'; the verdict quoted
    is the rule stated in the config applied to the primary CI; the secondary numbers are what the functions give."""
    import dataclasses

    from evalab.reproduction import (merged_digests, paired_ahead, pooled_regime_delta, quantity_markdown_table,
                                     runs_results, seed_deltas, seed_split_markdown_table)

    cfg = yaml.safe_load((ROOT / "configs" / "replication_a_avg_confirm.yaml").read_text())
    res = load_results(ROOT / cfg["out"])
    arms = ["eva", "metric=a_avg"]
    assert cfg["arms"] == arms and cfg["seeds"] == [4, 5, 6, 7, 8, 9] and res["missing"] == []
    ps = res["per_seed"]
    assert {(a, int(s)) for a, s in zip(ps.arm, ps.seed)} == {(a, s) for a in arms for s in cfg["seeds"]}
    new = ROOT / cfg["digests"]
    assert sorted(p.relative_to(new).as_posix() for p in new.rglob("*.json")) == [
        f"metric=a_avg/seed{s}.json" for s in (6, 7, 8, 9)]
    dirs = [ROOT / "data" / "digests" / "reproduction", *(ROOT / d for d in cfg["reuse"]), new]
    runs = merged_digests(dirs, arms)  # seeds 1-9 of both arms, each (arm, seed) once
    seeds_found = {a: sorted(int(r.config.seed) for r in rs) for a, rs in runs.items()}
    assert seeds_found == dict.fromkeys(arms, list(range(1, 10)))
    by = {(a, int(r.config.seed)): r for a, rs in runs.items() for r in rs}

    def design(c):
        return {k: v for k, v in dataclasses.asdict(c).items() if k not in ("seed", "run_dir")}

    for s in (6, 7, 8, 9):
        d = by["metric=a_avg", s]
        assert design(d.config) == design(by["metric=a_avg", 4].config)
        assert d.data["eval"]["0"] == by["eva", s].data["eval"]["0"], s  # the same θ0, decoded again: the same
    section = docs.section("## The confirmation of A\\*_avg's lead on seeds 4–9")
    flat = " ".join(section.split())

    def part(seeds):
        return runs_results({a: [by[a, s] for s in seeds] for a in arms})

    r13, r69, r19 = part((1, 2, 3)), part((6, 7, 8, 9)), part(range(1, 10))
    digest_rows = r19["per_seed"]
    for a in arms:  # the file's rows (reused and new runs) are their digests', to the last digit
        for s in cfg["seeds"]:
            mine, theirs = (t[(t.arm == a) & (t.seed == s)].sort_values("iteration").heldout_full.to_numpy()
                            for t in (ps, digest_rows))
            assert len(mine) == 4
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=0)
    assert markdown_tables(res, arms=arms) in section
    assert seed_split_markdown_table({"1–3 (the lead found)": r13,
                                      "4–5 (the re-test)": load_results(ROOT / "data" / "replication_a_avg.json"),
                                      "6–9 (new)": r69, "**4–9 (primary)**": res, "1–9 (pooled)": r19},
                                     arm="metric=a_avg", vs="eva") in section
    q = ["informative_share", "all_fail", "mixed", "n_constraints", "train_reward"]
    assert quantity_markdown_table(res, q, arms) in section
    d, lo, hi, _ = paired_ahead(res["paired"], "metric=a_avg", "eva", "full", 3)
    verdict = ("confirmed" if lo > 0 else "consistent, not confirmed" if d > 0 else "not replicated")
    head = "**Primary (t = 3, seeds 4–9, stated before the runs)"
    assert f"{head}: {verdict}, metric=a_avg − eva {_ci(d, lo, hi)}**" in flat
    assert section.startswith(f"## The confirmation of A\\*_avg's lead on seeds 4–9 (stop 43): {verdict}")
    assert _ci(*paired_ahead(res["paired"], "metric=a_avg", "eva", "frac", 3)[:3]) in flat
    for r in (r69, r19):
        assert _ci(*paired_ahead(r["paired"], "metric=a_avg", "eva", "full", 3)[:3]) in flat
    crossed = pooled_regime_delta(ROOT, {"4-9": tuple(map(str, dirs[1:]))}, arm="metric=a_avg", vs="eva").iloc[0]
    assert crossed.iteration == 3 and crossed.n_seeds == 6
    assert _ci(crossed.delta, crossed.ci_low, crossed.ci_high) in flat
    new_runs = {a: [by[a, s] for s in (6, 7, 8, 9)] for a in arms}
    for r in seed_deltas(new_runs, "metric=a_avg", "eva", t=3).itertuples():
        assert f"{_fmt(r.delta, signed=True)} ({r.seed})" in flat
    total = sum(v for a in res["stage_seconds"].values() for v in a.values())
    assert f"{total:,.0f} stage seconds" in flat
