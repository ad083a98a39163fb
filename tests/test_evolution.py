"""Chained evolution (issue 10, finding 3), the EvolInstruct templates, and the creator's accounting.

A stand-in creator answers every call in-process (no litellm, no server): it appends a numbered sentence to
the prompt it was asked to rewrite, so a test can read off which text each chain step rewrote.
"""

from __future__ import annotations

import re

import pytest

import evalab  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)
from evalab import constraints as C
from evalab.config import EvaConfig, profile_config
from evalab.creator import (
    OPERATORS, CallResult, EvolInstructCreator, StructuredEvolver, build_messages, make_creator, response_cost,
    variants_to_frame,
)
from evalab.prompts import Prompt

QUOTED = re.compile(r'"""\n(.*?)\n"""', re.S)


def quoted(messages) -> str:
    """The prompt (or task) a creator call was asked to rewrite."""
    return QUOTED.search(messages[-1]["content"]).group(1)


class AppendingCreator(EvolInstructCreator):
    """Answers every call with the quoted text plus one sentence; refuses on the calls numbered in
    ``refuse_calls`` (1-based). Each call reports 11 prompt and 5 completion tokens costing $0.002."""

    def __init__(self, *a, refuse_calls: tuple[int, ...] = (), **kw):
        super().__init__("openai/stand-in", *a, **kw)
        self.refuse_calls = set(refuse_calls)
        self.asked: list[str] = []

    async def _acall(self, messages, seed, call_id=0):
        text = quoted(messages)
        self.asked.append(text)
        if len(self.asked) in self.refuse_calls:
            answer = "I'm sorry, but I cannot rewrite this prompt."
        else:
            answer = f"{text} Then add detail number {len(self.asked)} about it."
        return CallResult(answer, 1, None, 0.01, 11, 5, 0.002)


class AppendingStructured(StructuredEvolver):
    async def _acall(self, messages, seed, call_id=0):
        return CallResult(f"{quoted(messages)}, and explain step {seed % 1000} carefully", 1, None, 0.01, 11, 5,
                          0.002)


def seeds(n: int = 3) -> list[Prompt]:
    topics = ["the ocean at dawn", "a lighthouse in winter", "a city garden", "an old railway", "a desert night"]
    return [Prompt(id=f"s{i}", text=f"Write a short poem about {topics[i % 5]} for young readers, take {i}.",
                   domain="creative") for i in range(n)]


def test_chained_steps_rewrite_the_previous_output_and_are_all_kept():
    creator = AppendingCreator(evolution="chained")
    roots = seeds(3)
    variants = creator.evolve(roots, 4, iteration=1, seed=5, progress=False)
    assert len(variants) == 12 and all(v.accepted for v in variants)
    df = variants_to_frame(variants)
    for root in roots:
        chain = df[df.root_id == root.id].sort_values("k")
        assert chain.depth.tolist() == [1, 2, 3, 4] and chain.k.tolist() == [0, 1, 2, 3]
        assert chain.parent_id.tolist() == [root.id] + chain.id.tolist()[:-1]  # parent = previous step
        texts = [root.text] + chain.text.tolist()
        for before, after in zip(texts, texts[1:]):
            assert after.startswith(before) and len(after) > len(before)  # step i rewrote step i-1's output
    # the independent scheme is still there: k one-step variants of the parent
    ind = AppendingCreator(evolution="independent").evolve(roots, 4, iteration=1, seed=5, progress=False)
    assert {(v.parent_id, v.depth) for v in ind} == {(r.id, 1) for r in roots}
    assert all(v.text.count("Then add detail") == 1 for v in ind)


def test_after_a_rejected_step_the_chain_continues_from_the_last_accepted_text():
    creator = AppendingCreator(evolution="chained", refuse_calls=(2,))
    root = seeds(1)[0]
    variants = creator.evolve([root], 4, iteration=1, seed=0, progress=False)
    assert [v.reason for v in variants] == ["ok", "refusal", "ok", "ok"]
    first, refused, third, fourth = variants
    assert refused.parent_id == first.prompt.id and refused.depth == 2 and refused.prompt is None
    assert creator.asked[1] == creator.asked[2] == first.prompt.text  # step 3 rewrote step 1's text again
    assert third.prompt.parent_id == first.prompt.id and third.depth == 2
    assert fourth.prompt.parent_id == third.prompt.id and fourth.depth == 3


def test_chain_operators_are_drawn_at_random_per_step():
    creator = AppendingCreator(evolution="chained")
    variants = creator.evolve(seeds(5) * 1, 4, iteration=1, seed=11, progress=False)
    chains = [[v.operator for v in variants if v.root_id == f"s{i}"] for i in range(5)]
    assert {op for ch in chains for op in ch} <= set(creator.operators)
    assert any(len(set(ch)) < len(ch) for ch in chains) or len({tuple(c) for c in chains}) > 1
    many = [creator._pick_chain_operator(3, f"r{i}", k) for i in range(200) for k in range(4)]
    assert set(many) == set(creator.operators)  # all five operators, drawn with replacement
    repeats = sum(len(set(many[j:j + 4])) < 4 for j in range(0, len(many), 4))
    assert repeats > 50  # a rotation never repeats within 4 steps; a random draw often does


def test_structured_chain_accumulates_constraints():
    rng = __import__("numpy").random.default_rng(0)
    task = "Explain how volcanoes form"
    cons = C.add_constraint([], rng, task=task)
    root = Prompt(id="c0", text=C.render_prompt(task, cons), task=task, constraints=cons, domain="instructions")
    ev = StructuredEvolver(llm_rewrite=False, operators=["add_constraints"], evolution="chained")
    variants = ev.evolve([root], 3, iteration=1, seed=2, progress=False)
    accepted = [v for v in variants if v.accepted]
    assert len(accepted) >= 2
    prev = root
    for v in accepted:
        assert v.prompt.parent_id == prev.id and len(v.prompt.constraints) == len(prev.constraints) + 1
        assert all(c in v.prompt.constraints for c in prev.constraints)  # the step kept the previous step's edits
        assert C.validate_constraints(v.prompt.constraints) is None
        prev = v.prompt


def test_structured_llm_chain_rewrites_the_previous_task():
    root = Prompt(id="c0", text=C.render_prompt("Explain how volcanoes form", []), task="Explain how volcanoes form",
                  constraints=[], domain="instructions")
    ev = AppendingStructured("openai/stand-in", operators=["deepen"], evolution="chained")
    variants = ev.evolve([root], 3, iteration=1, seed=0, progress=False)
    assert all(v.accepted for v in variants)
    tasks = [root.task] + [v.prompt.task for v in variants]
    for before, after in zip(tasks, tasks[1:]):
        assert after.startswith(before) and after != before
    assert ev.last_stats["calls"] == 3  # one batch per step, summed


def test_accounting_sums_calls_tokens_and_cost_over_the_chain():
    creator = AppendingCreator(evolution="chained")
    variants = creator.evolve(seeds(2), 3, iteration=1, seed=0, progress=False)
    st = creator.last_stats
    assert (st["calls"], st["retries"], st["prompt_tokens"], st["completion_tokens"]) == (6, 0, 66, 30)
    assert st["cost_usd"] == pytest.approx(0.012) and st["seconds"] >= 0
    df = variants_to_frame(variants)
    assert df.calls.sum() == 6 and df.prompt_tokens.sum() == 66 and df.cost_usd.sum() == pytest.approx(0.012)
    code_only = StructuredEvolver(llm_rewrite=False)
    code_only.evolve([Prompt(id="p", text="Say hi.", task="Say hi.")], 2, iteration=1, progress=False)
    assert code_only.last_stats["calls"] == 0 and code_only.last_stats["cost_usd"] == 0.0


def test_cost_comes_from_litellm_cost_map_and_is_zero_for_the_local_model():
    mock = "Explain, in three numbered steps, why tides rise and fall twice a day."
    creator = EvolInstructCreator("openai/gpt-4o-mini", completion_kwargs={"mock_response": mock}, max_retries=0)
    v = creator.evolve(seeds(1), 1, iteration=1, progress=False)[0]
    assert v.prompt_tokens > 0 and v.completion_tokens > 0
    assert v.cost_usd > 0 and creator.last_stats["cost_usd"] == pytest.approx(v.cost_usd)

    class Resp:
        _hidden_params = {"response_cost": 0.5}

    assert response_cost(Resp(), "openai/gpt-4o-mini") == 0.5
    assert response_cost(Resp(), "evalab/smollm2-135m") == 0.0  # the embedded model is free
    assert response_cost(object(), "openai/not-a-priced-model") == 0.0


def test_evolinstruct_templates_follow_the_originals_in_meaning():
    text = "Write a short poem about the ocean at dawn."
    breadth = build_messages("breadth", text, domain="creative")[0]["content"]
    assert "same domain" in breadth and "rarer" in breadth and "different topic" not in breadth
    depth = {op: build_messages(op, text)[0]["content"] for op in ("add_constraints", "deepen", "concretize",
                                                                    "reasoning")}
    assert "requirement" in depth["add_constraints"] and "depth" in depth["deepen"]
    assert "specific" in depth["concretize"] and "steps of reasoning" in depth["reasoning"]


def test_config_evolution_default_is_chained_and_reaches_the_creator():
    assert EvaConfig().evolution == "chained" and profile_config("ci").evolution == "chained"
    assert make_creator(profile_config("ci"), llm_rewrite=False).evolution == "chained"
    assert make_creator(profile_config("ci", evolution="independent"), llm_rewrite=False).evolution == "independent"
    for field, value in (("evolution", "tree"), ("fill", "more"), ("buffer", "best"), ("fill_max_rounds", -1)):
        with pytest.raises(ValueError, match=f"EvaConfig.{field}="):
            EvaConfig(**{field: value})
    with pytest.raises(ValueError, match="EvaConfig.band_low="):
        EvaConfig(band_low=0.9, band_high=0.1)
    with pytest.raises(ValueError, match="evolution"):
        StructuredEvolver(llm_rewrite=False, evolution="tree")
    assert "harden" in OPERATORS


# --- creator_aim="frontier": eased chains relax where the paper's chain adds or hardens ----------------------

def _structured_roots(n: int = 6) -> list[Prompt]:
    import numpy as np

    rng = np.random.default_rng(5)
    out = []
    for i in range(n):
        task = f"Explain how {['volcanoes', 'tides', 'bridges', 'vaccines', 'comets', 'glaciers'][i % 6]} work"
        cons = []
        for _ in range(3):
            cons = C.add_constraint(cons, rng, task=task) or cons
        out.append(Prompt(id=f"r{i}", text=C.render_prompt(task, cons), task=task, constraints=cons,
                          domain="instructions"))
    return out


@pytest.mark.parametrize("evolution", ["chained", "independent"])
def test_eased_prompts_relax_where_the_paper_hardens_and_the_rest_is_unchanged(evolution):
    from evalab.creator import CODE_OPERATORS

    roots = _structured_roots()
    ease = {"r0", "r2", "r3"}
    ev = StructuredEvolver(llm_rewrite=False, evolution=evolution)
    paper = variants_to_frame(ev.evolve(roots, 4, iteration=1, seed=11, progress=False))
    aimed = variants_to_frame(ev.evolve(roots, 4, iteration=1, seed=11, progress=False, ease=ease))
    root_of = [r.id for r in roots for _ in range(4)]
    assert len(paper) == len(aimed) == len(root_of)
    assert (aimed.operator == "relax").sum() > 0
    for i, rid in enumerate(root_of):
        a, p = aimed.iloc[i], paper.iloc[i]
        if rid in ease:  # the same draws; a constraint operator became relax
            assert a.operator == ("relax" if p.operator in CODE_OPERATORS else p.operator)
        else:
            assert (a.operator, a.text, a.accepted) == (p.operator, p.text, p.accepted)
    variants = ev.evolve(roots, 4, iteration=1, seed=11, progress=False, ease=ease)
    by_id = {**{r.id: r for r in roots}, **{v.prompt.id: v.prompt for v in variants if v.accepted}}
    for v in variants:
        if v.operator == "relax" and v.accepted:  # one constraint fewer than the text it rewrote, or looser
            parent = by_id[v.parent_id]
            assert len(v.prompt.constraints) == len(parent.constraints) - 1 or len(parent.constraints) == 1
            assert C.validate_constraints(v.prompt.constraints) is None


def test_an_eased_chain_ends_with_fewer_constraints_than_the_paper_chain():
    roots = _structured_roots()
    ids = {r.id for r in roots}
    ev = StructuredEvolver(llm_rewrite=False, evolution="chained")

    def mean_constraints(vs):
        acc = [v.prompt for v in vs if v.accepted]
        return sum(len(p.constraints) for p in acc) / len(acc)

    paper = ev.evolve(roots, 4, iteration=1, seed=3, progress=False)
    aimed = ev.evolve(roots, 4, iteration=1, seed=3, progress=False, ease=ids)
    assert mean_constraints(aimed) < 3 < mean_constraints(paper)   # roots hold 3 each: relaxed vs added/hardened


def test_ease_needs_a_creator_with_relax_and_the_config_names_bad_aims():
    with pytest.raises(ValueError, match="has no 'relax' operator"):
        EvolInstructCreator("evalab/smollm2-135m").evolve(seeds(2), 2, iteration=1, ease={"s0"}, progress=False)
    assert EvaConfig().creator_aim == "harder" and EvaConfig().aim_pass_rate == 0.5
    with pytest.raises(ValueError, match="EvaConfig.creator_aim="):
        EvaConfig(creator_aim="easier")
    with pytest.raises(ValueError, match="EvaConfig.creator_aim=.*evolver='structured'"):
        EvaConfig(creator_aim="frontier", evolver="evol_instruct")
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="EvaConfig.aim_pass_rate="):
            EvaConfig(aim_pass_rate=bad)


def test_aimed_at_frontier_eases_the_selected_prompts_below_the_aim():
    import pandas as pd

    from evalab.loop import aimed_at_frontier, evolve_prompts

    roots = _structured_roots(4)
    w = pd.DataFrame({"prompt_id": ["r0", "r1", "r2", "r3", "x"], "pass_rate": [0.0, 0.5, 0.25, 1.0, 0.0]})
    assert aimed_at_frontier(w, roots, 0.5) == ["r0", "r2"]
    assert aimed_at_frontier(w, roots, 0.75) == ["r0", "r1", "r2"]
    with pytest.raises(ValueError, match="without a step-1 pass rate: \\['r3'\\]"):
        aimed_at_frontier(w[w.prompt_id != "r3"], roots, 0.5)
    with pytest.raises(ValueError, match="no pass_rate column"):
        aimed_at_frontier(w.drop(columns="pass_rate"), roots, 0.5)

    class NoEase:
        def evolve(self, prompts, n_variants, *, iteration, seed, progress, existing):
            return []

    with pytest.raises(ValueError, match="takes no ease= argument"):
        evolve_prompts(NoEase(), roots, 2, 1, 0, progress=False, ease=["r0"])
