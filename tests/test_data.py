"""The prompt sets in data/: deterministic generation, counts, disjointness, validity."""

from __future__ import annotations

from collections import Counter

import pytest

from evalab import constraints as C
from evalab import data as D
from evalab.prompts import REPO_ROOT, load_prompts

DATA = REPO_ROOT / "data"


@pytest.fixture(scope="module")
def sets():
    return {name: load_prompts(DATA / name) for name in (D.SEED_FILE, D.HELDOUT_FILE, D.CHAT_FILE)}


def test_generation_is_deterministic_and_matches_the_committed_files(tmp_path):
    first = D.render_files()
    assert first == D.render_files()
    for name, text in first.items():
        assert (DATA / name).read_text() == text, f"data/{name} is stale: run `python -m evalab.data`"
    D.write(tmp_path)
    assert D.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / D.SEED_FILE).write_text("")
    assert D.main(["--check", "--out", str(tmp_path)]) == 1


def test_a_different_seed_gives_different_prompts():
    assert [p.text for p in D.build(1)[D.SEED_FILE]] != [p.text for p in D.build(2)[D.SEED_FILE]]


def test_counts(sets):
    seed, held, chat = sets[D.SEED_FILE], sets[D.HELDOUT_FILE], sets[D.CHAT_FILE]
    assert len(seed) >= 300 and len(held) >= 100 and 50 <= len(chat) <= 70
    assert len(D.TOPICS) >= 40 and len(D.TASKS) >= 8
    for ps in (seed, held):
        n = Counter(len(p.constraints) for p in ps)
        assert set(n) <= {1, 2, 3} and (n[1] + n[2]) / len(ps) >= 0.7  # mostly 1-2 constraints
        kinds = Counter(c["kind"] for p in ps for c in p.constraints)
        assert set(kinds) == set(C.KINDS)  # every kind is represented
        assert len({p.domain for p in ps}) == len({t.domain for t in D.TOPICS})
        assert len({p.task for p in ps}) == len(ps)  # no task repeated within a set
    assert all(not p.constraints for p in chat)


def test_heldout_shares_no_task_topic_pair_with_seed(sets):
    seed_tasks = {p.task for p in sets[D.SEED_FILE]}
    held_tasks = {p.task for p in sets[D.HELDOUT_FILE]}
    assert not seed_tasks & held_tasks
    seed_pairs, held_pairs = D.split_pairs()
    assert not set(seed_pairs) & set(held_pairs)
    assert {t for t, _ in held_pairs} == set(D.TASKS)


def test_every_prompt_is_valid_and_rendered_from_its_constraints(sets):
    ids = set()
    for name, ps in sets.items():
        for p in ps:
            assert C.validate_constraints(p.constraints) is None, (p.id, p.constraints)
            assert p.text == C.render_prompt(p.task, p.constraints), p.id
            assert p.operator == "seed" and p.iteration == 0 and p.parent_id is None
            assert p.domain and p.id not in ids
            ids.add(p.id)
            assert len(p.task.split()) <= 16  # one short sentence: the solver has 135M parameters
    assert sets[D.SEED_FILE][0].id == "seed-0001" and sets[D.HELDOUT_FILE][0].id == "heldout-0001"


def test_data_card_reports_the_real_counts(sets):
    card = (DATA / D.CARD_FILE).read_text()
    seed = sets[D.SEED_FILE]
    n_cons = sum(len(p.constraints) for p in seed)
    assert f"seed set ({len(seed)} prompts, {n_cons} constraints)" in card
    for kind, n in Counter(c["kind"] for p in seed for c in p.constraints).items():
        assert f"| {kind} | {n} |" in card
    assert "python -m evalab.data" in card and "no (task type, topic) pair" in card


def test_fresh_pool_is_unseen_and_large_enough_for_three_demo_iterations(sets):
    pool = load_prompts(DATA / D.POOL_FILE)
    assert len(pool) >= 3 * 48 and len({p.text for p in pool}) == len(pool)
    pool_tasks = {p.task for p in pool}
    assert not pool_tasks & {p.task for p in sets[D.SEED_FILE]}      # never a seed task
    assert not pool_tasks & {p.task for p in sets[D.HELDOUT_FILE]}   # never a held-out task
    for p in pool:
        assert p.id.startswith("pool-") and p.constraints and C.validate_constraints(p.constraints) is None
        assert p.text == C.render_prompt(p.task, p.constraints) and p.operator == "seed"
    assert {p.task.split(" ")[0] for p in pool} >= {t.split(" ")[0] for t in D.TASKS.values()}
    assert D.N_POOL > len(D.split_pairs()[0]) - D.N_SEED   # more than the unused task-topic pairs alone give


def test_the_easy_seed_set_is_the_seed_tasks_with_one_frontier_constraint():
    easy, seed = load_prompts(DATA / D.EASY_FILE), load_prompts(DATA / D.SEED_FILE)
    assert len(easy) == len(seed) == D.N_SEED
    assert [p.task for p in easy] == [p.task for p in seed]  # the same tasks, in the same order
    assert all(len(p.constraints) == 1 and p.constraints[0]["kind"] in D.EASY_KINDS for p in easy)
    kinds = Counter(p.constraints[0]["kind"] for p in easy)
    assert set(kinds) == set(D.EASY_KINDS) and max(kinds.values()) - min(kinds.values()) <= 4  # balanced
    for p in easy:
        assert not C.validate_constraints(p.constraints) and p.text == C.render_prompt(p.task, p.constraints)
    with pytest.raises(ValueError, match="kinds=\\['nonsense'\\]"):
        D.constraint_prompts([("describe", 0)], 1, "x", 0, kinds=["nonsense"])
