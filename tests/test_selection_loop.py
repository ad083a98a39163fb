"""The selection options through a real (tiny) EvaRun: what is selected must be what reaches the trainer.

band sampling, the informative buffer, fill="quota", and the creator accounting in summary(), on the ci
profile with the deterministic stand-in backend of tests/test_loop.py, the real constraint reward and the
real structured creator (code operators; one stand-in LLM rewrite for the accounting).
"""

from __future__ import annotations

import numpy as np
import pytest

from evalab.config import profile_config
from evalab.creator import CallResult, StructuredEvolver
from evalab.loop import EvaRun, summarize
from test_evolution import quoted
from test_loop import TableBackend

UNTIL_PAIRS = (0, "pairs")


def make_run(tmp_path, name="run", creator=None, **over):
    cfg = profile_config("ci", run_dir=str(tmp_path / name), n_prompts=16, n_responses=4, **over)
    return EvaRun(cfg, backend_factory=lambda path: TableBackend(path),
                  creator=creator or StructuredEvolver(llm_rewrite=False), progress=False)


def roots_of(run, ids) -> set[str]:
    """The selected prompt each evolved prompt's chain started from."""
    ev = run.store.read_table(0, "evolved")
    root = dict(zip(ev["id"], ev["root_id"]))
    return {root[i] for i in ids}


def test_band_selection_reaches_the_pairs(tmp_path):
    run = make_run(tmp_path, sampling="band", band_low=0.3, band_high=0.7)
    run.run(until=UNTIL_PAIRS)
    s = run.store
    w = s.read_table(0, "weights").set_index("prompt_id")
    sel = s.read_table(0, "selected")
    k = len(sel)
    in_band = w.index[(w.reward_mean >= 0.3) & (w.reward_mean <= 0.7)]
    assert 0 < len(in_band)
    if len(in_band) >= k:
        assert set(sel.prompt_id) <= set(in_band) and sel.in_band.all()
    else:  # all in-band prompts, then the nearest ones (marked)
        assert set(in_band) <= set(sel.prompt_id) and sel.in_band.sum() == len(in_band)
    # what the creator evolved, what X_1 holds and what the pairs train on come from those parents
    ev = s.read_table(0, "evolved")
    assert set(ev.root_id) <= set(sel.prompt_id)
    X1 = s.read_table(1, "prompts")
    evolved_ids = X1.id[X1.source == "evolved"]
    assert len(evolved_ids) > 0 and roots_of(run, evolved_ids) <= set(sel.prompt_id)
    pairs = s.read_table(0, "pairs")
    trained_evolved = set(pairs.prompt_id) & set(evolved_ids)
    assert trained_evolved and roots_of(run, trained_evolved) <= set(sel.prompt_id)
    # the uniform arm of the same run selects elsewhere: the band made the difference
    other = make_run(tmp_path, "uniform", sampling="uniform")
    other.run(until=(0, "selected"))
    usel = other.store.read_table(0, "selected")
    assert not (w.loc[usel.prompt_id].reward_mean.between(0.3, 0.7)).all() or len(in_band) == 16


def test_informative_buffer_reaches_x_next_and_the_pairs(tmp_path):
    run = make_run(tmp_path, buffer="informative")
    run.run(until=UNTIL_PAIRS)
    s = run.store
    w = s.read_table(0, "weights").set_index("prompt_id").sampling_weight
    X1 = s.read_table(1, "prompts")
    buf = X1.id[X1.source == "buffer"].tolist()
    assert len(buf) == 16 - (X1.source == "evolved").sum() > 0
    rest = w.drop(index=buf)
    assert w.loc[buf].min() >= rest.max()  # the most informative prompts of X_0, none less than any left out
    assert w.loc[buf].max() > 0
    pairs = s.read_table(0, "pairs")
    tr = s.read_table(0, "train_responses")
    assert set(buf) <= set(tr.prompt_id)  # generated on, so trained on where they have a reward spread
    assert set(pairs.prompt_id) <= set(X1.id)
    # the uniform buffer of the same seed takes other prompts (here: lower-weight ones too)
    uni = make_run(tmp_path, "uniform_buffer")
    uni.run(until=(0, "next_prompts"))
    Xu = uni.store.read_table(1, "prompts")
    ubuf = Xu.id[Xu.source == "buffer"].tolist()
    assert w.loc[ubuf].sum() <= w.loc[buf].sum() and set(ubuf) != set(buf)


def test_fill_quota_reasks_the_creator_until_the_80_percent_are_evolved(tmp_path):
    # 8 selected x 1 variant = at most 8 accepted per round, quota = 80% of 16 = 13: one round is not enough
    buf = make_run(tmp_path, "buffer", n_variants=1)
    buf.creator_step(0)
    X = buf.store.read_table(1, "prompts")
    assert (X.source == "evolved").sum() <= 8 and X.backfill.sum() == 13 - (X.source == "evolved").sum()
    quota = make_run(tmp_path, "quota", n_variants=1, fill="quota", fill_max_rounds=3)
    quota.creator_step(0)
    ev = quota.store.read_table(0, "evolved")
    assert ev["round"].max() >= 1 and ev[ev["round"] == ev["round"].max()].accepted.any()
    assert ev.accepted.sum() >= 13 and ev.attrs["creator"]["rounds"] == ev["round"].max() + 1
    assert ev.id[ev.accepted].is_unique and ev.text[ev.accepted].is_unique
    X = quota.store.read_table(1, "prompts")
    assert (X.source == "evolved").sum() == 13 and not X.backfill.any() and len(X) == 16
    ev_next = [e for e in quota.store.events().to_dict("records") if e["event"] == "next_set"][-1]
    assert ev_next["evolved_share"] == pytest.approx(13 / 16) and ev_next["backfilled"] == 0
    # capped: with no extra round allowed it back-fills, and says so in the table
    capped = make_run(tmp_path, "capped", n_variants=1, fill="quota", fill_max_rounds=0)
    capped.creator_step(0)
    assert capped.store.read_table(1, "prompts").backfill.any()


class CountingStructured(StructuredEvolver):
    """The structured evolver with a stand-in LLM: rewrites the task, 11 + 5 tokens and $0.002 per call."""

    async def _acall(self, messages, seed, call_id=0):
        return CallResult(f"{quoted(messages)}, and explain case {seed % 997} in detail", 1, None, 0.0, 11, 5, 0.002)


def test_creator_accounting_in_summary(tmp_path):
    creator = CountingStructured("openai/stand-in", operators=["deepen", "add_constraints"])
    run = make_run(tmp_path, creator=creator)
    run.creator_step(0)
    ev = run.store.read_table(0, "evolved")
    calls = int(ev.calls.sum())
    assert calls > 0 and calls == int((ev.operator == "deepen").sum())
    row = summarize(run.store).iloc[0]
    assert row.creator_calls == calls and row.creator_retries == 0
    assert (row.creator_prompt_tokens, row.creator_completion_tokens) == (11 * calls, 5 * calls)
    assert row.creator_cost_usd == pytest.approx(0.002 * calls) and row.creator_seconds >= 0
    code = make_run(tmp_path, "code")
    code.creator_step(0)
    r = summarize(code.store).iloc[0]
    assert r.creator_calls == 0 and r.creator_cost_usd == 0 and np.isfinite(r.creator_seconds)
