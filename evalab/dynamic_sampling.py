"""Dynamic sampling for TRL's GRPO / RLOO trainers: drop zero-spread groups and refill the batch.

    from trl import GRPOTrainer
    from evalab.dynamic_sampling import DynamicSamplingMixin

    class DynamicGRPOTrainer(DynamicSamplingMixin, GRPOTrainer):
        pass

    trainer = DynamicGRPOTrainer(model=..., reward_funcs=[...], train_dataset=ds, args=grpo_args,
                                 dynamic_sampling=True, max_resample=3)
    trainer.train()
    trainer.dynamic_sampling_log      # one dict per generation batch: groups dropped, rounds, extra completions

DAPO (Yu et al. 2025, arXiv 2503.14476, §3.2 "Dynamic Sampling") observes that a group whose N rewards are all
equal (all correct or all wrong) has zero group-relative advantage and gives no gradient, so it over-samples and
drops such groups "until the batch is fully filled with samples whose accuracy is neither 0 nor 1"; verl
implements it as ``algorithm.filter_groups`` with ``max_num_gen_batches`` bounding the extra generation rounds.
TRL has no such option (TRL issue #3708). This module is that piece for TRL, independent of evalab:

    group_spread          (B,) rewards -> (B/g,) max - min per consecutive group of g (NaN = unscored, ignored)
    informative_groups    spread > tol: the groups that carry a learning signal
    select_groups         which groups of which round fill the batch (informative first, in draw order; then,
                          when the rounds ran out, zero-spread groups of the first round as padding)
    concat_group_batches  TRL's output dicts of several rounds -> one, re-padded (prompts left, completions right)
    DynamicSamplingMixin  wraps ``_generate_and_score_completions`` of GRPOTrainer / RLOOTrainer

Choices (and how they differ from DAPO/verl):
  * Refill prompts are *fresh* prompts, as in DAPO and verl (which draw the next batch from the dataloader), but
    only as many as were dropped in each round (verl generates whole extra batches), so a round costs
    ``n_dropped x g`` completions. They come from ``dynamic_sampling_draw(n)``: by default uniform rows of
    ``train_dataset``; a trainer with its own prompt stream overrides it (evalab's online eva draws from its
    weighted prompt pool).
  * After ``max_resample`` rounds the batch is padded with zero-spread groups of the first round, so the batch
    keeps the size TRL splits into ``steps_per_generation`` slices. Their advantage is 0, so they change nothing but
    the loss normaliser (and GRPO's KL term). verl instead stops with an error when ``max_num_gen_batches`` is hit.
  * The spread is ``max - min`` of the group's rewards compared with a tolerance (never ``==``): for a binary
    reward it is exactly DAPO's "accuracy neither 0 nor 1"; for a non-binary reward it is "not all equal". With
    several reward functions it is measured on the weighted sum the advantage uses, or, with
    ``dynamic_sampling_reward=<name>``, on that reward function alone (e.g. a 0-weight informativeness component).
  * Each round's advantages are computed by TRL within that round. With group-wise normalisation (GRPO's default
    ``scale_rewards="group"``, RLOO's leave-one-out baseline) a group's advantages depend on that group only, so
    mixing rounds is exact; with ``scale_rewards="batch"`` each round is scaled by its own batch std.
  * TRL's own per-batch metrics (``reward``, ``frac_reward_zero_std``, ...) and the reward functions' logs are
    recorded once per round, so they describe everything generated, dropped groups included.
  * Single process, text-only batches (multimodal tensors raise). Evaluation batches are never resampled.

Recorded per generation batch (``dynamic_sampling_log``) and as TRL metrics: ``dynamic/groups_dropped`` (zero-spread
groups seen, all rounds), ``dynamic/resample_rounds``, ``dynamic/extra_completions`` (the cost: completions
generated beyond the batch), ``dynamic/groups_padded`` (zero-spread groups kept because the rounds ran out),
``dynamic/frac_zero_spread_first`` (the share before any refill).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

SPREAD_TOL = 1e-6
COUNTED_KEYS = ("num_items_in_batch",)  # recomputed from the assembled masks


def group_spread(rewards: torch.Tensor, num_generations: int) -> torch.Tensor:
    """(B,) rewards in consecutive groups of ``num_generations`` -> (B/g,) max - min of each group's valid
    (non-NaN) rewards; a group with fewer than 2 valid rewards has spread 0."""
    g = int(num_generations)
    if rewards.dim() != 1 or g < 1 or rewards.numel() % g:
        raise ValueError(f"group_spread: rewards of shape {tuple(rewards.shape)} do not split into groups of "
                         f"num_generations={g}")
    r = rewards.detach().float().view(-1, g)
    valid = ~torch.isnan(r)
    hi = torch.where(valid, r, torch.full_like(r, -torch.inf)).max(dim=1).values
    lo = torch.where(valid, r, torch.full_like(r, torch.inf)).min(dim=1).values
    spread = torch.where(valid.sum(dim=1) >= 2, hi - lo, torch.zeros_like(hi))
    return spread


def informative_groups(rewards: torch.Tensor, num_generations: int, tol: float = SPREAD_TOL) -> torch.Tensor:
    """(B/g,) bool: True where the group's reward spread exceeds ``tol`` (DAPO keeps exactly these)."""
    return group_spread(rewards, num_generations) > tol


def select_groups(keeps: Sequence[torch.Tensor], n_groups: int) -> tuple[list[tuple[int, int]], int]:
    """Fill ``n_groups`` slots from rounds of groups: ``keeps[r][j]`` says whether group j of round r is
    informative. Informative groups are taken in draw order (round 0 first); if there are fewer than
    ``n_groups``, the remaining slots take round 0's zero-spread groups in order. Returns
    ([(round, group), ...] of length ``n_groups``, number of padded slots)."""
    if not keeps or int(keeps[0].numel()) != n_groups:
        raise ValueError(f"select_groups: round 0 must hold the batch's n_groups={n_groups} groups")
    chosen = [(r, int(j)) for r, k in enumerate(keeps) for j in torch.nonzero(k).flatten().tolist()][:n_groups]
    n_pad = n_groups - len(chosen)
    pad = [(0, int(j)) for j in torch.nonzero(~keeps[0]).flatten().tolist()][:n_pad]
    return chosen + pad, n_pad


def _pad_cat(tensors: Sequence[torch.Tensor], value: float, left: bool) -> torch.Tensor:
    width = max(t.size(1) for t in tensors)
    out = []
    for t in tensors:
        fill = t.new_full((t.size(0), width - t.size(1), *t.shape[2:]), value)
        out.append(torch.cat([fill, t] if left else [t, fill], dim=1))
    return torch.cat(out, dim=0)


def concat_group_batches(outputs: Sequence[dict[str, Any]], picks: Sequence[tuple[int, int]], num_generations: int,
                         pad_token_id: int) -> dict[str, Any]:
    """One TRL batch dict from the groups ``picks`` = [(round, group)] of the round outputs ``outputs`` (each
    a dict of ``_generate_and_score_completions``, rows in consecutive groups of ``num_generations``).
    ``prompt_*`` tensors are re-padded on the left, every other (B, T) tensor on the right (``*_ids`` with
    ``pad_token_id``, the rest with 0); (B,) tensors are concatenated; ``num_items_in_batch`` is recomputed
    from the completion (and tool) mask. Any other entry (images, ...) raises: text-only batches."""
    g = int(num_generations)
    keys = list(outputs[0])
    for o in outputs[1:]:
        if list(o) != keys:
            raise ValueError(f"concat_group_batches: rounds return different keys ({keys} vs {list(o)})")
    rows = []  # per pick: (round, row slice)
    for r, j in picks:
        rows.append((r, slice(j * g, (j + 1) * g)))
    merged: dict[str, Any] = {}
    for key in keys:
        if key in COUNTED_KEYS:
            continue
        vals = [outputs[r][key] for r, _ in rows]
        first = outputs[0][key]
        if not isinstance(first, torch.Tensor) or first.dim() == 0:
            raise NotImplementedError(f"dynamic sampling: batch entry {key!r} ({type(first).__name__}) cannot be "
                                      "regrouped; only text-only GRPO/RLOO batches are supported")
        parts = [v[s] for v, (_, s) in zip(vals, rows)]
        if first.dim() == 1:
            merged[key] = torch.cat(parts, dim=0)
        else:
            value = pad_token_id if key.endswith("_ids") else (1 if key == "tool_mask" else 0)
            merged[key] = _pad_cat(parts, value, left=key.startswith("prompt_"))
    if "num_items_in_batch" in outputs[0]:
        mask = merged["completion_mask"]
        if "tool_mask" in merged:
            mask = mask * merged["tool_mask"]
        merged["num_items_in_batch"] = mask.sum()
    return merged


class DynamicSamplingMixin:
    """Mix in before ``trl.GRPOTrainer`` or ``trl.RLOOTrainer`` (see the module docstring).

    Keyword arguments taken from the trainer's constructor: ``dynamic_sampling`` (False = the plain trainer),
    ``max_resample`` (extra generation rounds per batch, >= 0), ``dynamic_sampling_reward`` (None = the weighted
    reward sum; else one of the trainer's ``reward_func_names``), ``dynamic_sampling_tol``, ``dynamic_sampling_seed``.
    """

    def __init__(self, *args: Any, dynamic_sampling: bool = False, max_resample: int = 3,
                 dynamic_sampling_reward: str | None = None, dynamic_sampling_tol: float = SPREAD_TOL,
                 dynamic_sampling_seed: int = 0, **kwargs: Any) -> None:
        if int(max_resample) < 0:
            raise ValueError(f"max_resample={max_resample!r} must be >= 0")
        if not dynamic_sampling_tol >= 0:
            raise ValueError(f"dynamic_sampling_tol={dynamic_sampling_tol!r} must be >= 0")
        self.dynamic_sampling = bool(dynamic_sampling)
        self.max_resample = int(max_resample)
        self.dynamic_sampling_reward = dynamic_sampling_reward
        self.dynamic_sampling_tol = float(dynamic_sampling_tol)
        self.dynamic_sampling_log: list[dict[str, float]] = []
        self._ds_generator = torch.Generator().manual_seed(int(dynamic_sampling_seed))
        self._ds_last_rewards: torch.Tensor | None = None
        super().__init__(*args, **kwargs)
        n_proc = int(getattr(getattr(self, "accelerator", None), "num_processes", 1))
        if self.dynamic_sampling and n_proc > 1:  # each process would refill its own slice: groups would not line up
            raise NotImplementedError(f"dynamic_sampling=True runs in a single process; this trainer has {n_proc}")
        names = list(getattr(self, "reward_func_names", []))
        if dynamic_sampling_reward is not None and dynamic_sampling_reward not in names:
            raise ValueError(f"dynamic_sampling_reward={dynamic_sampling_reward!r} is not one of the trainer's "
                             f"reward functions {names}")

    # --- hooks into TRL --------------------------------------------------------------------------------
    def _calculate_rewards(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        rewards_per_func = super()._calculate_rewards(*args, **kwargs)  # type: ignore[misc]
        self._ds_last_rewards = rewards_per_func.detach()
        return rewards_per_func

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        base = super()._generate_and_score_completions  # type: ignore[misc]
        if not self.dynamic_sampling or not self.model.training:  # type: ignore[attr-defined]
            return base(inputs)
        g = int(self.num_generations)  # type: ignore[attr-defined]
        n_groups = len(inputs) // g
        outputs = [base(inputs)]
        keeps = [informative_groups(self._spread_rewards(), g, self.dynamic_sampling_tol)]
        first_zero = int((~keeps[0]).sum())
        rounds = extra = 0
        while sum(int(k.sum()) for k in keeps) < n_groups and rounds < self.max_resample:
            missing = n_groups - sum(int(k.sum()) for k in keeps)
            rows = [row for row in self.dynamic_sampling_draw(missing) for _ in range(g)]
            outputs.append(base(rows))
            keeps.append(informative_groups(self._spread_rewards(), g, self.dynamic_sampling_tol))
            rounds += 1
            extra += len(rows)
        picks, n_pad = select_groups(keeps, n_groups)
        record = {"groups_dropped": float(sum(int((~k).sum()) for k in keeps)), "resample_rounds": float(rounds),
                  "extra_completions": float(extra), "groups_padded": float(n_pad),
                  "frac_zero_spread_first": first_zero / max(n_groups, 1)}
        self.dynamic_sampling_log.append(record)
        for key, value in record.items():
            self._metrics["train"][f"dynamic/{key}"].append(value)  # type: ignore[attr-defined]
        if len(outputs) == 1:
            return outputs[0]
        pad_id = self.processing_class.pad_token_id  # type: ignore[attr-defined]
        if pad_id is None:
            pad_id = getattr(getattr(self.processing_class, "tokenizer", None), "pad_token_id", 0) or 0
        return concat_group_batches(outputs, picks, g, pad_id)

    # --- overridable -----------------------------------------------------------------------------------
    def dynamic_sampling_draw(self, n: int) -> list[dict[str, Any]]:
        """``n`` fresh prompt rows for a refill round (uniform over ``train_dataset``; override to draw from
        another prompt source). Each row is repeated ``num_generations`` times by the caller."""
        ds = self.train_dataset  # type: ignore[attr-defined]
        idx = torch.randint(len(ds), (int(n),), generator=self._ds_generator).tolist()
        return [ds[int(i)] for i in idx]

    def _spread_rewards(self) -> torch.Tensor:
        """The (B,) rewards the spread is measured on: one reward function's column, or the weighted sum."""
        r = self._ds_last_rewards
        if r is None:
            raise RuntimeError("dynamic sampling: no rewards were recorded for the generation batch")
        if self.dynamic_sampling_reward is not None:
            return r[:, list(self.reward_func_names).index(self.dynamic_sampling_reward)]  # type: ignore[attr-defined]
        w = self.reward_weights.to(r.device)  # type: ignore[attr-defined]
        total = (r * w.unsqueeze(0)).nansum(dim=1)
        total[torch.isnan(r).all(dim=1)] = torch.nan
        return total
