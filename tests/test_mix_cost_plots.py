"""The next-set mix and creator-cost plots (notebook 02): on the shipped data/demo_run and on a tiny new run."""

from __future__ import annotations

import numpy as np
import pytest

from evalab import plots
from evalab.prompts import REPO_ROOT
from test_selection_loop import CountingStructured, make_run

DEMO = REPO_ROOT / "data" / "demo_run"


def _titles(fig) -> list[str]:
    return [a.title.text for a in (*fig.select_xaxes(), *fig.select_yaxes()) if a.title.text]


def test_mix_of_the_shipped_demo_run_shows_its_back_fill():
    M = plots.mix_table(DEMO).set_index("t")
    # X_1 kept the 80/20 mix; X_2 had only 8 accepted variants: 5 buffer prompts back-filled (issue 10)
    assert M.loc[0, ["n_evolved", "n_buffer", "backfilled"]].tolist() == [13, 3, 0]
    assert M.loc[1, ["n_evolved", "n_buffer", "backfilled"]].tolist() == [8, 8, 5]
    assert M.loc[1, "evolved_share"] == pytest.approx(0.5) and M.loc[1, "target_share"] == pytest.approx(0.8)
    fig = plots.fig_next_set_mix(DEMO)
    bars = {tr.name: list(tr.y) for tr in fig.data if tr.type == "bar"}
    assert bars["buffer back-filling missing evolved prompts"] == [0, 5]
    assert "prompts in X_{t+1} (count)" in _titles(fig) and fig.layout.title.text


def test_creator_cost_of_the_demo_run_recovers_what_it_can():
    T = plots.creator_cost_table(DEMO)
    assert not T.recorded.any() and (T.calls > 0).all() and np.isnan(T.cost_usd).all()
    assert (T.seconds > 0).all()  # from the evolved stage's events
    fig = plots.fig_creator_cost(DEMO)
    assert "cost (USD)" in _titles(fig) and "not recorded" in fig.layout.annotations[-1].text


def test_mix_and_cost_of_a_new_run_come_from_what_the_loop_stored(tmp_path):
    run = make_run(tmp_path, creator=CountingStructured("openai/stand-in", operators=["deepen", "add_constraints"]),
                   n_variants=1)
    run.creator_step(0)
    X = run.store.read_table(1, "prompts")
    M = plots.mix_table(run.store).iloc[0]
    assert M.backfilled == X.backfill.sum() > 0 and M.n_evolved == (X.source == "evolved").sum()
    T = plots.creator_cost_table(run.store).iloc[0]
    ev = run.store.read_table(0, "evolved")
    assert T.recorded and T.calls == ev.calls.sum() > 0 and T.cost_usd == pytest.approx(0.002 * T.calls)
    assert T.prompt_tokens == 11 * T.calls
