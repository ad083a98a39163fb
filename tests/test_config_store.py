"""EvaConfig validation and the run store's atomic writes / config guard."""

import json
import os

import pandas as pd
import pytest

from evalab.config import EvaConfig, profile_config
from evalab.prompts import Prompt, load_prompts, prompts_to_frame, frame_to_prompts, save_prompts
from evalab.store import ConfigMismatch, RunStore, atomic_write_text


def test_paper_defaults():
    c = EvaConfig()
    assert (c.n_responses, c.metric, c.subset_fraction, c.n_variants, c.evolved_ratio, c.seed) == (6, "a_min", 0.25, 4, 0.8, 42)
    assert (c.trainer, c.learning_rate, c.lr_scheduler, c.beta, c.epochs) == ("dpo", 5e-7, "cosine", 0.05, 2.0)
    assert (c.max_length, c.max_prompt_length) == (2048, 1024)


@pytest.mark.parametrize("field,value", [
    ("metric", "regret"), ("sampling", "topk"), ("trainer", "ppo"), ("subset_fraction", 0.0),
    ("subset_fraction", 1.5), ("n_responses", 1), ("learning_rate", 0.0), ("evolved_ratio", -0.1),
    ("max_prompt_length", 4096), ("backend", "tgi"),
])
def test_bad_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"EvaConfig.{field}="):
        EvaConfig(**{field: value})


def test_profiles_and_overrides():
    ci = profile_config("ci", run_dir="x", seed=3)
    assert ci.n_prompts == 8 and ci.seed == 3 and ci.run_dir == "x"
    assert profile_config("paper") == EvaConfig()
    with pytest.raises(ValueError, match="profile"):
        profile_config("huge")
    with pytest.raises(ValueError, match="unknown field"):
        EvaConfig.from_dict({"nope": 1})


def test_store_guard_refuses_other_experiment(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    RunStore(cfg.run_dir, cfg)
    RunStore(cfg.run_dir, cfg.replace(gen_batch_size=2))  # not an identity field: fine
    with pytest.raises(ConfigMismatch, match="metric: run has 'a_min', config asks 'var'"):
        RunStore(cfg.run_dir, cfg.replace(metric="var"))


def test_a_run_reopened_with_more_iterations_records_its_extension(tmp_path):
    """iterations is not an identity field: a run reopened with more is extended, and its config.json says so (what
    digests and results files read); fewer leave it as it is."""
    d = tmp_path / "r"
    RunStore(d, profile_config("ci", iterations=2))
    RunStore(d, profile_config("ci", iterations=4))
    assert RunStore(d).config.iterations == 4
    RunStore(d, profile_config("ci", iterations=1))
    assert json.loads((d / "config.json").read_text())["iterations"] == 4
    ev = RunStore(d).events()
    ext = ev[ev.event == "iterations_extended"]
    assert list(zip(ext["from"], ext["to"])) == [(2, 4)]


def test_store_tables_json_and_stage_flags(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    s = RunStore(cfg.run_dir, cfg)
    assert not s.has(0, "weights")
    s.write_table(0, "weights", pd.DataFrame({"prompt_id": ["a"], "weight": [0.5]}))
    assert s.has(0, "weights") and s.read_table(0, "weights").weight.tolist() == [0.5]
    s.write_json(0, "eval", {"full_rate": 0.25})
    assert s.read_json(0, "eval")["full_rate"] == 0.25
    with pytest.raises(FileNotFoundError, match="'pairs' of iteration 0"):
        s.read_table(0, "pairs")
    with pytest.raises(ValueError, match="unknown stage"):
        s.path(0, "bogus")
    # no temp files left behind
    assert not [p for p in (tmp_path / "run").rglob("*.tmp")]


def test_checkpoint_dir_is_all_or_nothing(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    s = RunStore(cfg.run_dir, cfg)
    with pytest.raises(RuntimeError):
        with s.checkpoint_writer(0) as d:
            (d / "model.bin").write_text("half")
            raise RuntimeError("killed")
    assert not s.has(0, "checkpoint") and not s.path(0, "checkpoint").exists()
    with s.checkpoint_writer(0) as d:
        (d / "model.bin").write_text("full")
    assert s.has(0, "checkpoint")


def test_open_existing_and_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        RunStore(tmp_path / "nope")
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    RunStore(cfg.run_dir, cfg)
    assert RunStore(cfg.run_dir).config == cfg


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two" and os.listdir(tmp_path) == ["f.txt"]


def test_events_survive_a_torn_line(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    s = RunStore(cfg.run_dir, cfg)
    s.log_event("stage_end", iteration=0, stage="weights", seconds=1.5)
    with open(s.root / "events.jsonl", "a") as fh:
        fh.write('{"time": 1, "ev')  # a kill mid-write
    ev = s.events()
    assert ev.event.tolist() == ["stage_end"]


def test_prompt_roundtrip_and_errors(tmp_path):
    ps = [Prompt(id="a", text="Say hi. Use at most 5 words.", task="Say hi.",
                 constraints=[{"kind": "word_count_max", "n": 5}]),
          Prompt(id="b", text="Tell a joke.", parent_id="a", iteration=1, operator="deepen")]
    assert frame_to_prompts(prompts_to_frame(ps)) == ps
    f = tmp_path / "p.jsonl"
    save_prompts(ps, f)
    assert load_prompts(f) == ps and load_prompts(f, limit=1) == ps[:1]
    f.write_text(f.read_text() + json.dumps({"id": "a", "text": "dup"}) + "\n")
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        load_prompts(f)
    with pytest.raises(ValueError, match="text is empty"):
        Prompt(id="x", text="  ")
    with pytest.raises(FileNotFoundError, match="prompt set not found"):
        load_prompts(tmp_path / "none.jsonl")


def test_stale_temporaries_of_a_killed_writer_are_removed_on_reopen(tmp_path):
    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    s = RunStore(cfg.run_dir, cfg)
    s.write_table(0, "weights", pd.DataFrame({"w": [1.0]}))
    (s.iter_dir(0) / ".pairs.parquet.abc123.tmp").write_bytes(b"half")
    (s.iter_dir(0) / ".checkpoint.xyz.tmp").mkdir()
    (s.iter_dir(0) / ".checkpoint.xyz.tmp" / "model.safetensors").write_bytes(b"half")
    RunStore(cfg.run_dir)  # a reader touches nothing
    assert len(list(s.root.rglob(".*.tmp"))) == 2
    RunStore(cfg.run_dir, cfg)
    assert not list(s.root.rglob("*.tmp")) and s.has(0, "weights")


HOLD = """
import sys, time
from evalab.config import EvaConfig
from evalab.store import RunStore
s = RunStore(sys.argv[1], EvaConfig.load(sys.argv[1] + "/config.json"))
print("holding", flush=True)
time.sleep(600)
"""


def hold_run(run_dir):
    """Another process that opens ``run_dir`` for writing and keeps it open until killed."""
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "holding"
    return p


def test_one_writer_per_run_directory_across_processes(tmp_path):
    """A second process opening a run for writing is refused, naming the holder, before it touches anything (its
    clean-up would delete the first writer's temporaries); reading is free; the lock goes with its holder."""
    import gc

    from evalab.store import RunLocked, writer_holder

    cfg = profile_config("ci", run_dir=str(tmp_path / "run"))
    s = RunStore(cfg.run_dir, cfg)
    assert writer_holder(cfg.run_dir).startswith(f"pid {os.getpid()} on ")
    RunStore(cfg.run_dir, cfg)               # the same process may reopen it (a notebook cell run again)
    del s
    gc.collect()
    assert writer_holder(cfg.run_dir) is None  # every store of this process gone: released

    p = hold_run(cfg.run_dir)
    try:
        tmp = tmp_path / "run" / ".pairs.parquet.in-progress.tmp"
        tmp.write_bytes(b"the other writer's half file")
        holder = writer_holder(cfg.run_dir)
        assert holder.startswith(f"pid {p.pid} on ")
        with pytest.raises(RunLocked, match=f"run directory .*run is being written by pid {p.pid} on "):
            RunStore(cfg.run_dir, cfg)
        assert tmp.read_bytes() == b"the other writer's half file"
        assert RunStore(cfg.run_dir).config == cfg   # a reader is not refused
    finally:
        p.kill()
        p.wait()
    assert writer_holder(cfg.run_dir) is None
    RunStore(cfg.run_dir, cfg)               # the holder is gone: writable again (its stale temporary removed)
    assert not tmp.exists()
