"""A synthetic but realistic eva run store, for tests and benchmarks only (no model, no network).

    from tests.fake_run import build_fake_run
    run_dir = build_fake_run(tmp_path / "run", n_iterations=3, n_prompts=24)
    plots.fig_weight_ridgeline(run_dir)

It writes every stage the real loop writes (prompts, eval, responses, weights, selected, evolved,
next_prompts, pairs, train_log, events.jsonl) through ``RunStore``, with lineage: each iteration
weighs X_t with the real informativeness code, samples the informative subset with the real sampler,
"evolves" children that carry one more constraint, and mixes 80% evolved + 20% buffer into X_{t+1}.
Rewards are drawn so that prompts with more constraints are harder, and the solver improves a little
every iteration, so every plot has a trend to show. ``partial=True`` stops the last iteration after
its ``weights`` stage (a run that is still going).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from evalab import constraints as C
from evalab.config import METRICS, profile_config
from evalab.informativeness import all_metrics, reward_stats
from evalab.loop import reward_matrix, stage_seed
from evalab.pairs import build_pairs
from evalab.sampling import mix_next_set, sample_subset
from evalab.store import RunStore

# The real constraint kinds (evalab.constraints), with their real parameters, conflicts and rendering; each kind
# gets a fixed difficulty (share of responses failing it) spread over [0.15, 0.7] in the module's order.
KINDS = C.KIND_NAMES
DIFFICULTY = {k: 0.15 + 0.55 * i / max(1, len(KINDS) - 1) for i, k in enumerate(KINDS)}
OPERATORS = ("add_constraints", "deepen", "concretize", "reasoning", "breadth", "harden")
TOPICS = ("the ocean", "a city at night", "machine learning", "a recipe for bread", "the history of Rome",
          "climate change", "a job interview", "gardening", "space travel", "a football match")
VERBS = ("Write a short story about", "Explain", "Describe", "Give advice on", "Write a poem about",
         "Summarize what you know about")


def _constraint(kind: str, rng: np.random.Generator) -> dict:
    return C.sample_constraint(kind, rng, vocab=["blue", "river", "data", "bread"])


def _compatible(kinds: list[str], new: str) -> bool:
    """``new`` is not present and the real conflict table allows it next to every kind present."""
    return new not in kinds and not any(frozenset((k, new)) in C.KIND_CONFLICTS for k in kinds)


def _add(cons: list[dict], kind: str, rng: np.random.Generator) -> list[dict]:
    """``cons`` plus a new ``kind`` constraint, unless the real checker finds a problem with the list."""
    new = cons + [_constraint(kind, rng)]
    return cons if C.constraint_problems(new) else new


def _render(task: str, constraints: list[dict]) -> str:
    return C.render_prompt(task, constraints)


def _seed_prompts(n: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for i in range(n):
        task = f"{VERBS[i % len(VERBS)]} {TOPICS[int(rng.integers(len(TOPICS)))]}."
        cons: list[dict] = []
        for k in rng.choice(KINDS, int(rng.integers(1, 3)), replace=False):
            if _compatible([c["kind"] for c in cons], str(k)):
                cons = _add(cons, str(k), rng)
        rows.append(dict(id=f"seed-{i:05d}", text=_render(task, cons), task=task,
                         constraints=json.dumps(cons, sort_keys=True), domain="constraints", parent_id=None,
                         iteration=0, operator="seed", source="seed"))
    return pd.DataFrame(rows)


def _rewards(prompts: pd.DataFrame, n_samples: int, skill: float, rng: np.random.Generator) -> np.ndarray:
    """(P, N) rewards in [0, 1]: fraction of constraints a noisy solver satisfies; a few NaN (failed)."""
    P = len(prompts)
    r = np.empty((P, n_samples))
    for i, cons in enumerate(prompts["constraints"]):
        kinds = [c["kind"] for c in json.loads(cons)]
        p = np.array([np.clip(1.0 - DIFFICULTY[k] + skill, 0.02, 0.98) for k in kinds]) if kinds else np.array([0.9])
        r[i] = (rng.random((n_samples, p.size)) < p).mean(axis=1)
    r[rng.random(r.shape) < 0.01] = np.nan
    return r


def _evolve(parents: pd.DataFrame, n_variants: int, t: int, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for _, par in parents.iterrows():
        for k in range(n_variants):
            op = OPERATORS[int(rng.integers(len(OPERATORS)))]
            cons = json.loads(par["constraints"])
            cand = [x for x in KINDS if _compatible([c["kind"] for c in cons], x)]
            if op in ("add_constraints", "harden", "deepen") and cand:
                cons = _add(cons, str(rng.choice(cand)), rng)
            task = par["task"] if op != "breadth" else f"{VERBS[int(rng.integers(len(VERBS)))]} {TOPICS[int(rng.integers(len(TOPICS)))]}."
            if op == "concretize":
                task = task.rstrip(".") + ", with one concrete example."
            if op == "reasoning":
                task = task.rstrip(".") + ", step by step."
            text = _render(task, cons)
            accepted = bool(rng.random() > 0.15)
            reason = "ok" if accepted else str(rng.choice(["identical to parent", "over-long", "conflicting constraints"]))
            rows.append(dict(parent_id=par["id"], operator=op, k=k, text=text, accepted=accepted, reason=reason,
                             id=f"t{t + 1}-{par['id'][-5:]}-{k}-{int(rng.integers(1 << 30)):08x}",
                             attempts=int(rng.integers(1, 3)), error=None,
                             constraints=json.dumps(cons, sort_keys=True), raw=text, task=task))
    return pd.DataFrame(rows)


def _pairs(resp: pd.DataFrame) -> pd.DataFrame:
    """Best-vs-worst pairs of the responses, by the real ``evalab.pairs.build_pairs`` (no equal-reward pair)."""
    ids = list(dict.fromkeys(resp["prompt_id"]))
    r = reward_matrix(resp, ids)
    texts = resp.pivot(index="prompt_id", columns="sample", values="response").loc[ids].values.tolist()
    prompts = [SimpleNamespace(id=i, text=f"prompt {i}") for i in ids]
    return build_pairs(prompts, texts, r)[0]


def _train_log(t: int, steps: int, rng: np.random.Generator) -> pd.DataFrame:
    s = np.arange(1, steps + 1)
    loss = 0.69 * np.exp(-s / (steps * 0.8)) + 0.02 * rng.standard_normal(steps) + 0.05 * t
    return pd.DataFrame({"step": s, "epoch": s / steps * 2.0, "loss": loss,
                         "learning_rate": 1e-5 * 0.5 * (1 + np.cos(np.pi * s / steps)),
                         "rewards/margins": np.linspace(0.0, 0.5, steps) + 0.05 * rng.standard_normal(steps),
                         "rewards/accuracies": np.clip(np.linspace(0.5, 0.8, steps) + 0.05 * rng.standard_normal(steps), 0, 1)})


def _eval(t: int, skill: float, n: int, rng: np.random.Generator) -> dict:
    per_kind = {k: float(np.clip(1.0 - DIFFICULTY[k] + skill + 0.03 * rng.standard_normal(), 0, 1)) for k in KINDS}
    rate = float(np.mean(list(per_kind.values())))
    return {"iteration": t, "constraint_rate": rate, "full_rate": rate ** 2, "reward_mean": rate,
            "per_kind": per_kind, "n": n}


def build_fake_run(run_dir: str | Path, n_iterations: int = 3, n_prompts: int = 24, n_samples: int = 4, *,
                   seed: int = 0, partial: bool = False, skill_gain: float = 0.05, with_responses_text: bool = True,
                   n_variants: int = 4) -> Path:
    """Write a synthetic run with ``n_iterations`` full iterations (plus the final eval) to ``run_dir``."""
    rng = np.random.default_rng(seed)
    cfg = profile_config("ci", run_dir=str(run_dir), seed=seed, n_responses=max(2, n_samples),
                         iterations=max(1, n_iterations), n_variants=n_variants)
    store = RunStore(run_dir, cfg)
    X = _seed_prompts(n_prompts, rng)
    seeds = X.copy()
    for t in range(n_iterations):
        skill = skill_gain * t
        store.log_event("stage_start", iteration=t, stage="prompts")
        store.write_table(t, "prompts", X)
        store.write_json(t, "eval", _eval(t, skill, 40, rng))
        r = _rewards(X, n_samples, skill, rng)
        P = len(X)
        resp = pd.DataFrame({
            "prompt_id": np.repeat(X["id"].to_numpy(), n_samples),
            "sample": np.tile(np.arange(n_samples), P),
            "response": (np.char.add("response text ", np.arange(P * n_samples).astype(str)) if with_responses_text
                         else np.full(P * n_samples, "")),
            "reward": r.reshape(-1),
        })
        store.write_table(t, "responses", resp)
        metrics = all_metrics(r)
        w = pd.DataFrame({"prompt_id": X["id"].to_numpy(), "weight": metrics[cfg.metric],
                          **{m: metrics[m] for m in METRICS if m in metrics}, **reward_stats(r)})
        store.write_table(t, "weights", w)
        store.log_event("stage_end", iteration=t, stage="weights", seconds=float(rng.random()))
        if partial and t == n_iterations - 1:
            return Path(run_dir)
        idx = sample_subset(w["weight"].to_numpy(), cfg.subset_fraction, cfg.sampling, seed=stage_seed(seed, t, "selected"))
        store.write_table(t, "selected", pd.DataFrame({"prompt_id": X["id"].to_numpy()[idx],
                                                       "weight": w["weight"].to_numpy()[idx],
                                                       "rank": np.arange(len(idx))}))
        ev = _evolve(X.iloc[idx], n_variants, t, rng)
        store.write_table(t, "evolved", ev.drop(columns=["task"]))
        acc = ev[ev["accepted"]]
        pool = seeds  # the buffer is drawn from the original prompt set
        mix = mix_next_set(len(acc), len(pool), size=n_prompts, evolved_ratio=cfg.evolved_ratio, seed=seed + t)
        evolved = acc.iloc[mix.evolved]
        nxt_e = pd.DataFrame(dict(id=evolved["id"], text=evolved["text"], task=evolved["task"],
                                  constraints=evolved["constraints"], domain="constraints",
                                  parent_id=evolved["parent_id"], iteration=t + 1, operator=evolved["operator"],
                                  source="evolved"))
        buf = pool.iloc[mix.buffer].assign(operator="buffer", source="buffer")
        X = pd.concat([nxt_e, buf], ignore_index=True)
        store.write_table(t, "next_prompts", X)
        store.write_table(t, "pairs", _pairs(resp))
        store.write_table(t, "train_log", _train_log(t, 12, rng))
        store.log_event("stage_end", iteration=t, stage="train", seconds=float(rng.random() * 10))
    if not partial:
        store.write_table(n_iterations, "prompts", X)
        store.write_json(n_iterations, "eval", _eval(n_iterations, skill_gain * n_iterations, 40, rng))
    return Path(run_dir)
