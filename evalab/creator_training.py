"""A creator that learns (issue 15): a few GRPO steps of the creator model, rewarded by the solver's frontier.

    from evalab.creator_training import train_creator_grpo, solver_scorer
    scorer = solver_scorer(backend, make_reward("constraints"), cfg, seed=0)   # proposals -> (P, N) rewards
    out = train_creator_grpo(cfg, scorer, parents, "runs/x/creator")          # TRL GRPOTrainer on the creator
    out["rewards"]            # one row per proposed prompt: step, parent, text, valid/reason, pass rate, reward
    out["checkpoint"]         # the trained creator; serve it as creator=f"evalab/{out['checkpoint']}"

eva's creator is fixed; R-Zero (arXiv 2508.05004), Absolute Zero (arXiv 2505.03335) and Self-Questioning LMs
(arXiv 2508.03682) train theirs with RL on a reward that peaks at the solver's frontier. Here one GRPO step
(TRL's ``GRPOTrainer``, Shao et al. 2024, arXiv 2402.03300) of the creator model is:

1. **Creator prompts.** Per parent prompt (e.g. the informative subset of X_t) the chat messages of the
   structured evolver's task rewrite, ``build_messages(op, parent.task, task_only=True)`` (op cycles through
   ``creator_training_operators``); the creator samples ``creator_grpo_n`` completions for each.
2. **Proposed prompt** (``propose``), the structured evolver's rule: the completion is cleaned and screened like
   a creator answer (``clean_output``, ``screen_text``, ``is_copy``); a valid one becomes the new *task*, and the
   parent's constraints are kept, so the prompt the solver sees is ``render_prompt(task, parent.constraints)``
   and the constraint reward stays checkable (a parent without constraints: the task alone). An invalid
   completion (blank, junk, refusal, meta, over-long, a copy of the parent) is not shown to the solver and gets
   reward 0, the floor of every creator reward, so GRPO pushes away from it.
3. **Reward.** The solver answers each valid proposal N times, scored by the run's reward (``scorer``, a
   ``(prompts) -> (P, N)`` function; ``solver_scorer`` builds it from a generation backend and an evalab
   reward); then ``curricula.penalized_reward(cfg.creator_reward, ...)``: max(0, creator_reward − R-Zero's
   repetition penalty against the valid proposals of the same generation batch).

The per-step log (TRL's log history) holds ``creator/reward_mean``, ``creator/valid_share`` and
``creator/pass_rate_mean``; ``rewards`` keeps every proposal with its pass rate (its distribution per step is
the pass-rate distribution of the proposed prompts). Reference model: none (β = 0, evalab's choice: a few steps
at a small lr, and one forward less per step). In the offline loop (``EvaConfig.creator_training="grpo"``) the
creator is trained right before step 4 of every iteration, on that iteration's selected parents and with the
solver entering it (θ_t, the solver the proposals are for), starting from the previous iteration's trained
creator; the run store keeps ``creator_training.parquet`` (the rewards) and ``creator_checkpoint/`` per
iteration, and step 4 calls the trained checkpoint through the local litellm provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .curricula import pass_counts, penalized_reward
from .operators import build_messages
from .prompts import Prompt
from .validation import clean_output, is_copy, screen_text

CREATOR_TRAININGS = ("none", "grpo")
TRAINING_OPERATORS = ("deepen", "concretize", "reasoning")  # task rewrites: the parent's constraints stay valid
Scorer = Callable[[Sequence[Prompt]], np.ndarray]


def creator_dataset(parents: Sequence[Prompt], operators: Sequence[str] = TRAINING_OPERATORS) -> Any:
    """The GRPO dataset: one conversational prompt per parent (the structured evolver's task-rewrite messages,
    operators cycling in parent order) with its ``parent_id`` column."""
    from datasets import Dataset

    if not parents:
        raise ValueError("train_creator_grpo: no parent prompts to propose from")
    rows = [{"prompt": build_messages(operators[i % len(operators)], p.task or p.text, domain=p.domain,
                                      task_only=True),
             "parent_id": p.id, "operator": operators[i % len(operators)]} for i, p in enumerate(parents)]
    return Dataset.from_list(rows)


def propose(parent: Prompt, completion: str, *, max_chars: int) -> tuple[Prompt | None, str]:
    """(proposed prompt, "") for a valid creator completion, (None, reject reason) otherwise. The proposal keeps
    the parent's constraints (the structured evolver's rule) so the run's reward can score it."""
    task = " ".join(clean_output(completion).split())
    reason = screen_text(task, max_chars=max_chars)
    if reason is None and is_copy(parent.task or parent.text, task):
        reason = "copy"
    if reason:
        return None, reason
    if parent.constraints:
        from .constraints import render_prompt

        text = render_prompt(task, parent.constraints)
    else:
        text = task
    if len(text) > max_chars:
        return None, "over_long"
    return Prompt(id=f"{parent.id}~proposal", text=text, task=task, constraints=parent.constraints,
                  domain=parent.domain, parent_id=parent.id, operator="creator_grpo"), ""


def solver_scorer(backend: Any, reward: Any, cfg: Any, seed: int) -> Scorer:
    """The solver as the creator's environment: N = ``cfg.n_responses`` sampled responses per proposal
    (``cfg.max_new_tokens``, ``cfg.temperature``, ``cfg.top_p``), scored by ``reward``; a fresh seed per call."""
    calls = [0]

    def score(prompts: Sequence[Prompt]) -> np.ndarray:
        calls[0] += 1
        responses = backend.generate([p.text for p in prompts], n=cfg.n_responses, max_new_tokens=cfg.max_new_tokens,
                                     temperature=cfg.temperature, top_p=cfg.top_p, seed=seed + 1000 * calls[0],
                                     progress=False)
        return np.asarray(reward(list(prompts), responses), dtype=float)

    return score


class CreatorReward:
    """TRL reward function of the creator: completions -> proposals -> solver rewards -> penalized creator reward
    (see the module docstring). Keeps one row per completion in ``rows``."""

    __name__ = "creator_reward"

    def __init__(self, scorer: Scorer, parents: Sequence[Prompt], *, name: str, pass_threshold: float = 1.0,
                 max_chars: int = 2000) -> None:
        from .curricula import CREATOR_REWARDS

        if name not in CREATOR_REWARDS:
            raise ValueError(f"EvaConfig.creator_reward={name!r}: choose one of {CREATOR_REWARDS}")
        self.scorer = scorer
        self.parents = {p.id: p for p in parents}
        self.name = name
        self.pass_threshold = float(pass_threshold)
        self.max_chars = int(max_chars)
        self.rows: list[dict[str, Any]] = []
        self.n_calls = 0

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], parent_id: Sequence[str] | None = None,
                 trainer_state: Any = None, log_metric: Any = None, **_: Any) -> list[float]:
        from .online import completion_text

        if parent_id is None or len(parent_id) != len(completions):
            raise ValueError("creator reward: the dataset needs a 'parent_id' column (build it with creator_dataset)")
        texts = [completion_text(c) for c in completions]
        made = [propose(self.parents[pid], t, max_chars=self.max_chars) for pid, t in zip(parent_id, texts)]
        valid = [i for i, (p, _) in enumerate(made) if p is not None]
        out = np.zeros(len(completions))
        pass_rate = np.full(len(completions), np.nan)
        if valid:
            proposals = [made[i][0] for i in valid]
            r = np.asarray(self.scorer(proposals), dtype=float)
            if r.ndim != 2 or r.shape[0] != len(valid):
                raise ValueError(f"creator reward: the scorer returned shape {r.shape}; expected ({len(valid)}, N)")
            out[valid] = penalized_reward(self.name, r, [p.task for p in proposals],
                                          pass_threshold=self.pass_threshold)
            s, f = pass_counts(r, self.pass_threshold)
            pass_rate[valid] = np.divide(s, s + f, out=np.full(len(valid), np.nan), where=(s + f) > 0)
        step = int(getattr(trainer_state, "global_step", 0) or 0) + 1
        for i, (pid, (p, reason)) in enumerate(zip(parent_id, made)):
            self.rows.append({"call": self.n_calls, "step": step, "parent_id": pid, "completion": texts[i],
                              "proposal": p.text if p is not None else "", "valid": p is not None,
                              "reason": reason, "pass_rate": float(pass_rate[i]), "reward": float(out[i])})
        self.n_calls += 1
        if log_metric is not None:
            log_metric("creator/reward_mean", float(out.mean()))
            log_metric("creator/valid_share", len(valid) / len(completions))
            log_metric("creator/pass_rate_mean", float(np.nanmean(pass_rate)) if valid else float("nan"))
        return [float(x) for x in out]

    def frame(self) -> pd.DataFrame:
        cols = ["call", "step", "parent_id", "completion", "proposal", "valid", "reason", "pass_rate", "reward"]
        return pd.DataFrame(self.rows, columns=cols)


def train_creator_grpo(cfg: Any, scorer: Scorer, parents: Sequence[Prompt], out_dir: str | Path, *,
                       creator_model: str | None = None, model: Any = None, tokenizer: Any = None,
                       steps: int | None = None, save: bool = True, progress: bool = False,
                       trainer_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """``steps`` (default ``cfg.creator_grpo_steps``) GRPO steps of the creator on ``parents``; returns
    ``{"rewards" (one row per proposal), "log_history", "seconds", "seconds_per_step", "checkpoint" (a folder
    under ``out_dir``, if ``save``), "trainer"}``.

    The creator is ``model``/``tokenizer`` when given, else loaded from ``creator_model`` (a checkpoint folder or
    an embedded alias; default: ``cfg.creator`` without its ``evalab/`` prefix). One step = one generation batch
    of min(len(parents), 2) parents × ``cfg.creator_grpo_n`` completions of at most ``cfg.creator_max_tokens``
    tokens at temperature 1, lr ``cfg.creator_grpo_lr``, β = 0 (no reference model), seed ``cfg.seed``."""
    from .online import make_trainer_args  # the same cheap CPU GRPO settings as online eva

    steps = int(cfg.creator_grpo_steps if steps is None else steps)
    out_dir = Path(out_dir)
    if model is None:
        from .models import load_model

        name = creator_model or cfg.creator
        if name.startswith("evalab/"):
            name = name[len("evalab/"):]
        model, tokenizer = load_model(name)
    elif tokenizer is None:
        raise ValueError("train_creator_grpo: pass tokenizer together with model")
    reward = CreatorReward(scorer, parents, name=cfg.creator_reward, pass_threshold=cfg.pass_threshold,
                           max_chars=cfg.max_prompt_chars)
    args = make_trainer_args("grpo", out_dir / "_trainer", steps=steps, num_generations=int(cfg.creator_grpo_n),
                             prompts_per_step=min(len(parents), 2), max_completion_length=int(cfg.creator_max_tokens),
                             learning_rate=float(cfg.creator_grpo_lr), temperature=1.0, top_p=1.0, seed=int(cfg.seed),
                             kl_beta=0.0, progress=progress, **(trainer_kwargs or {}))
    from trl import GRPOTrainer

    trainer = GRPOTrainer(model=model, args=args, reward_funcs=[reward], train_dataset=creator_dataset(parents),
                          processing_class=tokenizer)
    t0 = time.time()
    trainer.train()
    seconds = time.time() - t0
    result: dict[str, Any] = {"rewards": reward.frame(), "log_history": pd.DataFrame(trainer.state.log_history),
                              "seconds": seconds, "seconds_per_step": seconds / max(steps, 1), "trainer": trainer}
    if save:
        ck = out_dir / "checkpoint"
        trainer.save_model(str(ck))
        tokenizer.save_pretrained(str(ck))
        result["checkpoint"] = ck
    return result


def mean_proposal_reward(model: Any, tokenizer: Any, reward: CreatorReward, parents: Sequence[Prompt], *, n: int,
                         max_new_tokens: int, seed: int) -> float:
    """Mean creator reward of ``n`` fresh sampled proposals per parent (temperature 1, ``seed``): how good the
    creator is now, outside training (the rows are not kept)."""
    import torch

    texts, ids = [], []
    for i, p in enumerate(parents):
        msgs = build_messages(TRAINING_OPERATORS[i % len(TRAINING_OPERATORS)], p.task or p.text, domain=p.domain,
                              task_only=True)
        enc = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True).to(model.device)
        torch.manual_seed(seed + i)
        with torch.no_grad():
            out = model.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, max_new_tokens=max_new_tokens,
                                 num_return_sequences=n, pad_token_id=tokenizer.pad_token_id)
        texts += tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        ids += [p.id] * n
    kept = len(reward.rows)
    vals = reward(texts, texts, parent_id=ids)
    del reward.rows[kept:]
    return float(np.mean(vals))


__all__ = ["CREATOR_TRAININGS", "TRAINING_OPERATORS", "creator_dataset", "propose", "solver_scorer",
           "CreatorReward", "train_creator_grpo", "mean_proposal_reward"]
