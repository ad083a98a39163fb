"""Run digests (evalab/digest.py): a grid's results rebuilt from digests equal the results from the run stores; the
reproduce command writes them, counts a run with a matching digest as done (the stores can be gone), and names a
digest made with another config, or one that is not a digest, in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from evalab.config import profile_config
from evalab.digest import DIGEST_VERSION, RunDigest, digest_of, digest_path, load_digest, load_digests
from evalab.reproduction import prompt_cells, reproduction_results, write_results
from test_curricula_grid import _with_costs
from test_reproduction import _fake_grid, stand_in_loop


def _results_json(stores, tmp_path, name):
    base = profile_config("ci", pairs_per_iteration=6)
    res = reproduction_results(stores, base=base, command="x", n_boot=200)
    return json.loads(write_results(tmp_path / name, res).read_text())


def test_results_from_digests_equal_results_from_the_stores(tmp_path):
    stores = _fake_grid(tmp_path / "runs", seeds=(1, 2), iterations=2, shift={"eva": 0.5})
    for arm, runs in stores.items():
        for st in runs:  # a training set (train_reward, pass rates) and every cost column on iteration 1
            st.write_table(1, "train_responses", st.read_table(1, "responses"))
            _with_costs(st, 1)
    d = tmp_path / "digests"
    for arm, runs in stores.items():
        for st in runs:
            digest_of(st, arm).write(digest_path(d, arm, st.config.seed))
    assert sorted(p.relative_to(d).as_posix() for p in d.rglob("*.json")) == [
        "eva/seed1.json", "eva/seed2.json", "static/seed1.json", "static/seed2.json"]
    assert max(p.stat().st_size for p in d.rglob("*.json")) < 60_000
    digests = load_digests(d, arms=["eva", "static"])
    assert all(isinstance(x, RunDigest) for runs in digests.values() for x in runs)

    from_stores = _results_json(stores, tmp_path, "a.json")
    from_digests = _results_json(digests, tmp_path, "b.json")
    assert from_stores.keys() == from_digests.keys()
    for k in from_stores:
        assert from_digests[k] == from_stores[k], k      # the same numbers, to the last digit
    # the numbers a digest answers are the store's
    st, dg = stores["eva"][1], digests["eva"][1]
    for q in ("heldout_full", "informative_share", "train_reward", "n_pairs", "gen_tokens", "rollouts_per_pair"):
        np.testing.assert_allclose(prompt_cells(dg, 1, q), prompt_cells(st, 1, q), rtol=0, atol=0)
    assert from_digests["per_seed"][0]["arm"] == "eva"
    assert any(r["creator_train_s"] == 12.5 for r in from_digests["per_seed"])
    assert dg.iterations() == st.iterations() and dg.config.seed == 2


def test_a_bad_digest_is_named(tmp_path):
    p = tmp_path / "eva" / "seed1.json"
    p.parent.mkdir(parents=True)
    p.write_text("{not json")
    with pytest.raises(ValueError, match="seed1.json: not valid JSON"):
        load_digest(p)
    p.write_text(json.dumps({"version": DIGEST_VERSION + 1}))
    with pytest.raises(ValueError, match=f"version {DIGEST_VERSION + 1}"):
        load_digest(p)
    p.write_text(json.dumps({"version": DIGEST_VERSION, "arm": "eva"}))
    with pytest.raises(ValueError, match="missing field"):
        load_digest(p)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_digest(tmp_path / "nope.json")


def test_reproduce_writes_digests_and_rebuilds_the_results_from_them_alone(tmp_path, monkeypatch, capsys):
    from evalab.__main__ import main

    stand_in_loop(monkeypatch)
    (tmp_path / "rep.yaml").write_text("profile: ci\narms: [eva, static]\nseeds: [3, 4]\niterations: 2\n"
                                       f"digests: {tmp_path / 'dg'}\n"
                                       "set: {n_prompts: 10, n_responses: 4, pairs_per_iteration: 2}\n")
    argv = ["reproduce", "--config", str(tmp_path / "rep.yaml"), "--root", str(tmp_path / "runs"),
            "--out", str(tmp_path / "rep.json"), "--n-boot", "50", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("done in") == 4 + 1  # four runs, then the command's own line
    assert "final checkpoints: 4 of 4 here" in out.splitlines()[-1]
    first = json.loads((tmp_path / "rep.json").read_text())
    assert sorted(p.relative_to(tmp_path / "dg").as_posix() for p in (tmp_path / "dg").rglob("*.json")) == [
        "eva/seed3.json", "eva/seed4.json", "static/seed3.json", "static/seed4.json"]

    shutil.rmtree(tmp_path / "runs")           # the machine that ran the grid is gone: only the digests are left
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 from digests" in out and "arm=" not in out and not (tmp_path / "runs").exists()
    assert "final checkpoints: 0 of 4 here" in out.splitlines()[-1] and "came from digests" in out  # no false claim
    again = json.loads((tmp_path / "rep.json").read_text())
    for k in ("per_seed", "curves", "paired", "normalised", "pass_rates", "stage_seconds", "checkpoints", "seeds"):
        assert again[k] == first[k], k

    # one seed's store back, the other from its digest: the store's run is reused, the digest stands for the other
    (tmp_path / "dg" / "static" / "seed4.json").unlink()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 from digests" in out and out.count("arm=static seed=4 done in") == 1
    mixed = json.loads((tmp_path / "rep.json").read_text())
    assert {(r["arm"], r["seed"]) for r in mixed["per_seed"]} == {(a, s) for a in ("eva", "static") for s in (3, 4)}
    assert (tmp_path / "dg" / "static" / "seed4.json").exists()

    # --collect runs nothing: the finished stores and the digests there are, each one left out named
    assert not (tmp_path / "runs" / "eva").exists()   # eva's two runs are digests only
    (tmp_path / "dg" / "eva" / "seed4.json").unlink()
    assert main([*argv, "--collect"]) == 0
    out = capsys.readouterr().out
    assert "arm=eva seed=4 is neither finished" in out and "collect: 3 of 4 runs done in" in out.splitlines()[-1]
    assert not (tmp_path / "runs" / "eva").exists()
    got = json.loads((tmp_path / "rep.json").read_text())
    assert {(r["arm"], r["seed"]) for r in got["per_seed"]} == {("eva", 3), ("static", 3), ("static", 4)}
    assert got["missing"] == [{"arm": "eva", "seed": 4}] and first["missing"] == []
    assert main([*argv, "--collect", "--digests", str(tmp_path / "empty"), "--root", str(tmp_path / "none")]) == 2
    assert "nothing to collect" in capsys.readouterr().err

    # a digest made with another config is named before anything runs, in one line
    shutil.rmtree(tmp_path / "runs")
    assert main([*argv, "--set", "pairs_per_iteration=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "seed3.json was made with another config: pairs_per_iteration=2 (grid: 3)" in err
    assert len(err.splitlines()) == 1
    (tmp_path / "dg" / "eva" / "seed3.json").write_text("{")
    assert main(argv) == 2
    assert "eva/seed3.json: not valid JSON" in capsys.readouterr().err


def test_reuse_counts_another_grids_digests_as_runs_without_writing_or_copying_them(tmp_path, monkeypatch, capsys):
    """More seeds of a grid that ran (configs/reproduction_seeds.yaml): `reuse` names the first grid's digest
    directory; its runs are not run again, their digests are neither rewritten nor copied, the new runs write to
    the new `digests`, and the results hold every seed (the reused ones' numbers as the first grid's). A reused
    digest made with another config, an (arm, seed) in two directories, and bad `reuse` entries are refused, naming
    them, before anything runs."""
    from evalab.__main__ import main

    stand_in_loop(monkeypatch)
    grid = ("profile: ci\narms: [eva, static]\niterations: 2\n"
            "set: {n_prompts: 10, n_responses: 4, pairs_per_iteration: 2}\n")
    (tmp_path / "first.yaml").write_text(grid + f"seeds: [1, 2]\ndigests: {tmp_path / 'dg1'}\n")
    assert main(["reproduce", "--config", str(tmp_path / "first.yaml"), "--root", str(tmp_path / "runs1"),
                 "--out", str(tmp_path / "first.json"), "--n-boot", "50", "--quiet"]) == 0
    first = json.loads((tmp_path / "first.json").read_text())
    shutil.rmtree(tmp_path / "runs1")  # only the first grid's digests are left, as in git
    before = {p: p.read_bytes() for p in sorted((tmp_path / "dg1").rglob("*.json"))}
    assert len(before) == 4

    (tmp_path / "more.yaml").write_text(grid + f"seeds: [1, 2, 3]\ndigests: {tmp_path / 'dg2'}\n"
                                        f"reuse: [{tmp_path / 'dg1'}]\n")
    argv = ["reproduce", "--config", str(tmp_path / "more.yaml"), "--root", str(tmp_path / "runs2"),
            "--out", str(tmp_path / "more.json"), "--n-boot", "50", "--quiet"]
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 to run or finish, 4 from digests in" in out and str(tmp_path / "dg1") in out
    assert out.count("done in") == 2 + 1 and "arm=eva seed=3 done in" in out and "seed=1 done in" not in out
    assert sorted(p.relative_to(tmp_path / "dg2").as_posix() for p in (tmp_path / "dg2").rglob("*.json")) == [
        "eva/seed3.json", "static/seed3.json"]
    assert {p: p.read_bytes() for p in sorted((tmp_path / "dg1").rglob("*.json"))} == before
    assert sorted((tmp_path / "runs2").glob("*/seed*")) == [tmp_path / "runs2" / a / "seed3" for a in ("eva", "static")]
    more = json.loads((tmp_path / "more.json").read_text())
    assert {(r["arm"], r["seed"]) for r in more["per_seed"]} == {(a, s) for a in ("eva", "static") for s in (1, 2, 3)}
    old = [r for r in more["per_seed"] if r["seed"] in (1, 2)]
    assert sorted(old, key=str) == sorted(first["per_seed"], key=str)  # the reused runs' rows, to the last digit

    # a rerun with the runs' stores here writes no second copy of a reused digest; --collect names both directories
    assert main(argv) == 0 and not (tmp_path / "dg2" / "eva" / "seed1.json").exists()
    assert main([*argv, "--collect", "--root", str(tmp_path / "none"), "--digests", str(tmp_path / "empty"),
                 "--reuse", str(tmp_path / "dg1")]) == 0
    assert "4 from digests in " + f"{tmp_path / 'empty'}, {tmp_path / 'dg1'}" in capsys.readouterr().out

    # the same run in two directories: which one is the run would be a guess
    shutil.copy(tmp_path / "dg2" / "eva" / "seed3.json", tmp_path / "dg3.json")
    (tmp_path / "dg1" / "eva" / "seed3.json").write_bytes((tmp_path / "dg3.json").read_bytes())
    shutil.rmtree(tmp_path / "runs2")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "arm 'eva' seed 3: a digest in both" in err and str(tmp_path / "dg1" / "eva" / "seed3.json") in err
    (tmp_path / "dg1" / "eva" / "seed3.json").unlink()
    # a reused digest made with another config is named, as one in --digests is
    assert main([*argv, "--set", "pairs_per_iteration=3", "--digests", str(tmp_path / "empty")]) == 2
    assert "dg1/eva/seed1.json was made with another config: pairs_per_iteration=2 (grid: 3)" in capsys.readouterr().err
    for bad, says in ((str(tmp_path / "nowhere"), "nowhere: not a directory"),
                      (str(tmp_path / "dg2"), "is the digests directory itself"),
                      (f"{tmp_path / 'dg1'},{tmp_path / 'dg1'}", "a directory named twice")):
        assert main([*argv, "--reuse", bad]) == 2
        assert says in capsys.readouterr().err
    assert not (tmp_path / "runs2").exists()  # nothing ran for any refused command


def test_the_input_checks_never_touch_a_run_another_process_is_writing(tmp_path, monkeypatch, capsys):
    """`reproduce` checks every existing run directory's config before it starts; a grid lane may be writing one of
    them at that moment (its half-written temporaries, its events), so the check only reads."""
    from evalab.__main__ import main

    stand_in_loop(monkeypatch)
    argv = ["reproduce", "--profile", "ci", "--arms", "eva", "--seeds", "1", "--iterations", "1",
            "--set", "n_prompts=8", "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "r.json"), "--quiet"]
    assert main(argv) == 0
    run = tmp_path / "runs" / "eva" / "seed1"
    (run / "iter_001" / "eval.json").unlink()         # unfinished again: as if a lane were still running it
    tmp = run / "iter_001" / ".eval.json.123.tmp"     # and in the middle of an atomic write
    tmp.write_text("half")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert main([*argv, "--collect"]) == 2            # nothing finished to collect
    assert "nothing to collect" in capsys.readouterr().err
    assert tmp.read_text() == "half" and {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_finished_run_is_read_not_reopened(tmp_path, monkeypatch, capsys):
    """A lane started under a new commit finds finished runs: it reads them (their manifest gains no resume entry,
    their digest in git is not rewritten) and still copies θ₀'s evaluation from them into the run it starts."""
    from evalab.__main__ import main

    stand_in_loop(monkeypatch)
    argv = ["reproduce", "--profile", "ci", "--arms", "eva", "--iterations", "1", "--set", "n_prompts=8",
            "--root", str(tmp_path / "runs"), "--digests", str(tmp_path / "dg"), "--out", str(tmp_path / "r.json"),
            "--quiet"]
    assert main([*argv, "--seeds", "1"]) == 0
    run, dg = tmp_path / "runs" / "eva" / "seed1", tmp_path / "dg" / "eva" / "seed1.json"
    m = json.loads((run / "manifest.json").read_text())
    m["git"] = {"commit": "0" * 40, "dirty": False}   # made under another commit than the one that finds it
    (run / "manifest.json").write_text(json.dumps(m))
    before = {p: p.read_bytes() for p in (run / "manifest.json", run / "events.jsonl", dg)}
    capsys.readouterr()
    assert main([*argv, "--seeds", "1,2"]) == 0
    out = capsys.readouterr().out
    assert "arm=eva seed=1 done in" not in out and "arm=eva seed=2 done in" in out
    assert {p: p.read_bytes() for p in before} == before
    events = [json.loads(x) for x in (tmp_path / "runs" / "eva" / "seed2" / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "eval_shared" and e.get("source") == str(run) for e in events)
    assert {r["seed"] for r in json.loads((tmp_path / "r.json").read_text())["per_seed"]} == {1, 2}
