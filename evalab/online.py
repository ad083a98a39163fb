"""Online eva: steps 1-5 of eva run inside a TRL RL loop (GRPO, RLOO or online DPO = OAIF) on mini-batches.

    from evalab.config import profile_config
    from evalab.online import run_online_eva
    out = run_online_eva(profile_config("ci", run_dir="runs/online"), trainer="grpo", steps=6, evolve_every=2)
    out["events"][["step", "frac_zero_spread", "n_selected", "n_accepted", "pool_size"]]

In the paper's online setting (Ye et al. 2024, arXiv 2411.00062, §3.4 "online eva") the creator does not wait
for a finished training round: every few RL steps the rewards of the groups the trainer just sampled give
informativeness weights, the most informative prompts are evolved, and the evolved prompts join the prompt
stream the trainer samples from. Here one RL step of TRL *is* step 1 of eva (N = ``num_generations`` samples
per prompt, scored by the same reward interface as offline eva), and:

    EvaPromptPool        the prompt stream: seeds + evolved prompts with lineage, and the sampling weights
                         (step 5: ``evolved_ratio`` of the probability mass on evolved prompts, the rest on the
                         seed buffer; within each part ∝ the latest informativeness, unseen prompts optimistic)
    EvaPoolSampler       what the trainer draws from (its ``_get_train_sampler``, TRL issue #2801's hook): the
                         same group layout as TRL's RepeatSampler, but each generation batch is drawn from the
                         *current* pool with the *current* weights, so evolved prompts reach the trainer
    TrlRewardAdapter     evalab ``RewardFunction`` -> TRL reward function; records every group's rewards
                         (one group = one prompt x ``num_generations`` completions) for step 2
    EvaCallback          every ``evolve_every`` optimizer steps: weigh the recent groups (per group, never per
                         rollout), sample the informative subset, evolve it, add accepted variants to the pool,
                         and write the event, the pool (with lineage) and the variants to the run directory
    PoolPredictor        sampling="thompson" (MoPPS) / skip="greso" (GRESO): the pool offers more candidates
                         than a batch needs and the predictor picks the batch before anything is generated

Run directory (every table rewritten atomically after each event, so a reader never sees half a file):
``config.json``, ``online_events.parquet`` (one row per evolution event), ``pool.parquet`` (the prompt stream
with lineage and sampling statistics), ``groups.parquet`` (every scored group), ``variants.parquet`` (every
creator variant, accepted or not, with the reject reason), ``train_log.parquet`` (TRL's log history, rewritten
at every log step), ``prediction.parquet`` (with a predictor: every candidate offered and the choice),
``online_summary.json`` (at the end).
``_trainer/checkpoint-<step>/`` (the two latest, each with ``eva_state.json``) and ``online_run.json`` make an
online run resumable: after a crash or ``kill -9``, the same call with the same ``run_dir`` continues from the
latest complete checkpoint (see ``run_online_eva``). Once a run is finished and its final policy saved
(``model/``), ``prune_online_run`` deletes those trainer checkpoints (model and optimizer state, the bulk of the
run's disk) and leaves ``_trainer/PRUNED``; the run is then final (resuming it raises, naming the marker).

Timing note: TRL's dataloader fetches one batch ahead, so a generation batch may be drawn just before an
evolution event; evolved prompts then enter the stream from the following generation batch on.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch.utils.data import Sampler
from transformers import TrainerCallback

from .config import METRICS, PREDICTIVE, STRATEGIES, EvaConfig
from .informativeness import as_reward_matrix, informativeness, weights_from_values
from .prompts import Prompt, load_prompts
from .sampling import sample_subset
from .store import PRUNED, RunStore, atomic_write_parquet, atomic_write_text, json_default

ONLINE_TRAINERS = ("grpo", "rloo", "oaif")
DYNAMIC_SAMPLING_TRAINERS = ("grpo", "rloo")  # group-relative advantages: a zero-spread group teaches nothing
GROUP_LAYOUTS = ("blocks", "halves")
# kl_beta defaults (the solver is regularised towards π_base, the initial policy, as in eva's objective):
#   grpo 0.04  DeepSeekMath (Shao et al. 2024, arXiv 2402.03300, §4.1: "the KL coefficient is 0.04"), the paper
#              that introduced GRPO (TRL's GRPOConfig defaults to 0.0, i.e. no regularisation at all)
#   rloo 0.05  TRL's documented RLOOConfig default
#   oaif 0.1   TRL's documented OnlineDPOConfig default, the β of OAIF (Guo et al. 2024, arXiv 2402.04792)
DEFAULT_KL_BETA = {"grpo": 0.04, "rloo": 0.05, "oaif": 0.1}
EVA_STATE_FILE = "eva_state.json"   # inside each trainer checkpoint folder: pool, groups, events at that step
RUN_FILE = "online_run.json"        # the run's settings; a re-run must match them to resume
log = logging.getLogger("evalab.online")
SPREAD_TOL = 1e-6  # a group whose max - min reward is <= this counts as zero-spread (user-asks #5: never test ==)
# Per profile: optimizer steps, steps between evolution events, prompts per step (× N rollouts each), the
# completion budget and the steps between resumable checkpoints (notebook 05 and `reproduce-online`)
ONLINE_PROFILES: dict[str, dict[str, int]] = {
    "ci": dict(steps=4, evolve_every=2, prompts_per_step=2, max_completion_length=16, checkpoint_every=2),
    "demo": dict(steps=12, evolve_every=3, prompts_per_step=4, max_completion_length=48, checkpoint_every=3),
    "paper": dict(steps=500, evolve_every=10, prompts_per_step=16, max_completion_length=1024, checkpoint_every=50),
}


def online_settings(profile: str) -> dict[str, int]:
    """A copy of ``ONLINE_PROFILES[profile]`` (ValueError naming an unknown profile)."""
    if profile not in ONLINE_PROFILES:
        raise ValueError(f"profile={profile!r}: choose one of {sorted(ONLINE_PROFILES)}")
    return dict(ONLINE_PROFILES[profile])


# --------------------------------------------------------------------------------------------------
# The prompt stream
# --------------------------------------------------------------------------------------------------

class EvaPromptPool:
    """The prompt stream of an online run: seed prompts plus every accepted evolved prompt, append-only.

        pool = EvaPromptPool(load_prompts("data/seed_constraint_prompts.jsonl", limit=8), evolved_ratio=0.8)
        pool.add(evolved_prompts, step=4)          # returns the prompts actually added (duplicates skipped)
        pool.observe("p-001", 0.4)                 # latest informativeness of a prompt
        p = pool.sampling_weights()                # (len(pool),) probabilities the sampler draws with

    Sampling weights follow eva's step 5 (next set = ``evolved_ratio`` evolved + the rest buffer): the evolved
    prompts share ``evolved_ratio`` of the probability mass and the seed buffer the rest (all of it while nothing
    has been evolved yet). Within each part a prompt's weight is its informativeness estimate — the latest
    observed group weight, or an exponential moving average with ``ema`` > 0. The rule is scale-free (rewards
    may live on any scale): with ``ref`` = the largest estimate observed so far (1 before any is positive), a
    prompt never observed gets ``unseen_weight * ref`` (optimistic, so fresh variants are tried) and every
    weight is floored at ``floor * ref`` so no prompt disappears for good.
    Positions are stable (index i is always the same prompt), which is what the trainer's sampler relies on.
    """

    def __init__(self, seeds: Sequence[Prompt], *, evolved_ratio: float = 0.8, floor: float = 0.05,
                 unseen_weight: float = 1.0, ema: float = 0.0, capacity: int = 100_000) -> None:
        if not seeds:
            raise ValueError("EvaPromptPool: seeds is empty; the prompt stream needs at least one prompt")
        if not 0.0 <= evolved_ratio <= 1.0:
            raise ValueError(f"EvaPromptPool: evolved_ratio={evolved_ratio!r} must be in [0, 1]")
        if not floor > 0:
            raise ValueError(f"EvaPromptPool: floor={floor!r} must be > 0 (a zero weight removes a prompt for good)")
        if floor > unseen_weight:
            raise ValueError(f"EvaPromptPool: floor={floor!r} must not exceed unseen_weight={unseen_weight!r}")
        if not unseen_weight > 0:
            raise ValueError(f"EvaPromptPool: unseen_weight={unseen_weight!r} must be > 0")
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"EvaPromptPool: ema={ema!r} must be in [0, 1)")
        if capacity < len(seeds):
            raise ValueError(f"EvaPromptPool: capacity={capacity} is smaller than the {len(seeds)} seed prompts")
        self.evolved_ratio = evolved_ratio
        self.floor = floor
        self.unseen_weight = unseen_weight
        self.ema = ema
        self.capacity = capacity
        self.prompts: list[Prompt] = []
        self._index: dict[str, int] = {}
        self._texts: set[str] = set()
        self.added_step: list[int] = []
        self.is_evolved: list[bool] = []
        self.weight_est: list[float] = []   # NaN until the prompt's first group is observed
        self.n_groups: list[int] = []       # groups of this prompt that were scored (reached the trainer)
        self.n_drawn: list[int] = []        # times the sampler drew it into a generation batch
        self.n_dropped_full = 0
        self.predictor: PoolPredictor | None = None  # set by EvaCallback for sampling="thompson" / skip="greso"
        added = self.add(seeds, step=0, evolved=False)
        if len(added) != len(seeds):
            raise ValueError("EvaPromptPool: seed prompts contain duplicate ids or duplicate texts")

    # --- access ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.prompts)

    def __getitem__(self, i: int) -> Prompt:
        return self.prompts[i]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._index

    def get(self, prompt_id: str) -> Prompt:
        """The prompt with this id; KeyError naming the id if it is not in the pool."""
        try:
            return self.prompts[self._index[prompt_id]]
        except KeyError:
            raise KeyError(f"prompt id {prompt_id!r} is not in the prompt pool ({len(self)} prompts)") from None

    def index_of(self, prompt_id: str) -> int:
        self.get(prompt_id)
        return self._index[prompt_id]

    @property
    def n_evolved(self) -> int:
        return int(sum(self.is_evolved))

    # --- growth and observations -------------------------------------------------------------------
    def add(self, prompts: Sequence[Prompt], step: int, *, evolved: bool = True) -> list[Prompt]:
        """Append prompts (skipping ids or texts already in the pool, and anything beyond ``capacity``)."""
        out = []
        for p in prompts:
            if p.id in self._index or p.text in self._texts:
                continue
            if len(self.prompts) >= self.capacity:
                self.n_dropped_full += 1
                continue
            self._index[p.id] = len(self.prompts)
            self._texts.add(p.text)
            self.prompts.append(p)
            self.added_step.append(int(step))
            self.is_evolved.append(bool(evolved))
            self.weight_est.append(float("nan"))
            self.n_groups.append(0)
            self.n_drawn.append(0)
            out.append(p)
        return out

    def observe(self, prompt_id: str, weight: float) -> None:
        """Record the informativeness weight of one freshly scored group of ``prompt_id``."""
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"observe({prompt_id!r}): weight must be finite and >= 0, got {weight!r}")
        i = self.index_of(prompt_id)
        old = self.weight_est[i]
        self.weight_est[i] = weight if math.isnan(old) else self.ema * old + (1.0 - self.ema) * weight
        self.n_groups[i] += 1

    # --- sampling ------------------------------------------------------------------------------------
    def sampling_weights(self) -> np.ndarray:
        """(len(pool),) probabilities summing to 1 (see the class docstring for the rule)."""
        est = np.asarray(self.weight_est, dtype=float)
        seen = est[~np.isnan(est)]
        ref = float(seen.max()) if seen.size and seen.max() > 0 else 1.0
        score = np.maximum(np.where(np.isnan(est), self.unseen_weight * ref, est), self.floor * ref)
        evolved = np.asarray(self.is_evolved, dtype=bool)
        p = np.zeros(len(self))
        parts = [(evolved, self.evolved_ratio), (~evolved, 1.0 - self.evolved_ratio)]
        if not evolved.any() or evolved.all():  # one part is empty: it gets all the mass
            parts = [(np.ones(len(self), dtype=bool), 1.0)]
        for mask, mass in parts:
            if mass > 0:
                p[mask] = mass * score[mask] / score[mask].sum()
        return p / p.sum()

    def draw(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """Indices of ``k`` prompts for one generation batch: without replacement while the pool is large
        enough (so each prompt forms one group), with replacement otherwise. With a ``predictor``
        (:class:`PoolPredictor`) and a pool of at least k prompts, ``predictor.n_candidates(k)`` candidates are
        drawn the same way and the predictor chooses k of them before anything is generated."""
        p = self.sampling_weights()
        n_pos = int((p > 0).sum())
        if self.predictor is not None and k <= n_pos:
            cand = rng.choice(len(self), size=min(n_pos, self.predictor.n_candidates(k)), replace=False, p=p)
            idx = cand[self.predictor.choose(self, cand, k, rng)]
        else:
            idx = rng.choice(len(self), size=k, replace=k > n_pos, p=p)
        for i in idx:
            self.n_drawn[int(i)] += 1
        return idx.astype(int)

    # --- checkpoint state -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything the pool knows, JSON-serializable (saved beside each trainer checkpoint)."""
        return {"settings": {"evolved_ratio": self.evolved_ratio, "floor": self.floor,
                             "unseen_weight": self.unseen_weight, "ema": self.ema, "capacity": self.capacity},
                "prompts": [p.to_dict() for p in self.prompts], "added_step": list(self.added_step),
                "is_evolved": list(self.is_evolved), "weight_est": [None if math.isnan(w) else w
                                                                    for w in self.weight_est],
                "n_groups": list(self.n_groups), "n_drawn": list(self.n_drawn), "n_dropped_full": self.n_dropped_full}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> "EvaPromptPool":
        """The pool a :meth:`state_dict` describes (same prompts in the same slots, same statistics)."""
        prompts = [Prompt.from_dict(d) for d in state["prompts"]]
        n_seed = sum(1 for e in state["is_evolved"] if not e)
        if [bool(e) for e in state["is_evolved"][:n_seed]] != [False] * n_seed:
            raise ValueError("pool state: seed prompts must come first")
        pool = cls(prompts[:n_seed], **state["settings"])
        for p, step in zip(prompts[n_seed:], state["added_step"][n_seed:]):
            if not pool.add([p], step=int(step)):
                raise ValueError(f"pool state: prompt {p.id!r} is a duplicate")
        pool.added_step = [int(x) for x in state["added_step"]]
        pool.weight_est = [float("nan") if w is None else float(w) for w in state["weight_est"]]
        pool.n_groups = [int(x) for x in state["n_groups"]]
        pool.n_drawn = [int(x) for x in state["n_drawn"]]
        pool.n_dropped_full = int(state["n_dropped_full"])
        return pool

    # --- views ---------------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The pool with lineage (parent_id, iteration, operator) and sampling statistics, one row per prompt."""
        probs = self.sampling_weights()
        rows = []
        for i, p in enumerate(self.prompts):
            rows.append({
                "slot": i, "id": p.id, "text": p.text, "task": p.task,
                "constraints": json.dumps(p.constraints, sort_keys=True), "domain": p.domain,
                "parent_id": p.parent_id, "iteration": p.iteration, "operator": p.operator,
                "evolved": self.is_evolved[i], "added_step": self.added_step[i],
                "informativeness": self.weight_est[i], "n_groups": self.n_groups[i], "n_drawn": self.n_drawn[i],
                "sampling_prob": float(probs[i]),
            })
        return pd.DataFrame(rows)

    def as_dataset(self) -> Any:
        """A ``datasets.Dataset`` view for TRL: ``capacity`` rows whose content is read from the pool when the
        trainer fetches them (``set_transform``), with columns ``prompt`` (one user message) and ``prompt_id``.
        Only slots below ``len(pool)`` may be fetched; :class:`EvaPoolSampler` draws only those."""
        from datasets import Dataset

        ds = Dataset.from_dict({"slot": np.arange(self.capacity, dtype=np.int64)})
        ds.set_transform(self._fetch)
        return ds

    def _fetch(self, batch: Mapping[str, list]) -> dict[str, list]:
        slots = [int(s) for s in batch["slot"]]
        bad = [s for s in slots if s >= len(self)]
        if bad:
            raise IndexError(f"prompt pool slot {bad[0]} is empty (pool holds {len(self)} prompts); "
                             "draw indices with EvaPoolSampler")
        ps = [self.prompts[s] for s in slots]
        return {"prompt": [[{"role": "user", "content": p.text}] for p in ps], "prompt_id": [p.id for p in ps]}


class EvaPoolSampler(Sampler[int]):
    """The trainer's sampler: TRL's group layout, prompts drawn from the live pool with its current weights.

        sampler = EvaPoolSampler(pool, mini_repeat_count=4, batch_size=2, repeat_count=1, chunks_per_epoch=4)
        list(sampler)[:8]      # e.g. [5, 5, 5, 5, 0, 0, 0, 0]: 2 prompts x 4 generations

    Like ``trl``'s RepeatSampler, each generation batch holds ``batch_size`` distinct prompts, each index repeated
    ``mini_repeat_count`` (= num_generations) times in a row, and the whole batch is repeated ``repeat_count``
    (= num_iterations x steps_per_generation) times. Unlike it, the prompts of each generation batch are drawn
    lazily from ``pool.draw`` when the batch is requested, so weights changed and prompts added by
    :class:`EvaCallback` take effect for the next generation batch. One epoch = ``chunks_per_epoch`` batches.
    """

    def __init__(self, pool: EvaPromptPool, *, mini_repeat_count: int, batch_size: int, repeat_count: int = 1,
                 chunks_per_epoch: int = 1, seed: int = 0, start_epoch: int = 0) -> None:
        for name, v in (("mini_repeat_count", mini_repeat_count), ("batch_size", batch_size),
                        ("repeat_count", repeat_count), ("chunks_per_epoch", chunks_per_epoch)):
            if int(v) < 1:
                raise ValueError(f"EvaPoolSampler: {name}={v!r} must be >= 1")
        self.pool = pool
        self.mini_repeat_count = int(mini_repeat_count)
        self.batch_size = int(batch_size)
        self.repeat_count = int(repeat_count)
        self.chunks_per_epoch = int(chunks_per_epoch)
        self.seed = int(seed)
        self.epoch = int(start_epoch)  # a resumed run continues the random stream instead of repeating it
        self.drawn: list[list[str]] = []  # prompt ids of every generation batch drawn, in order

    def __len__(self) -> int:
        return self.chunks_per_epoch * self.batch_size * self.mini_repeat_count * self.repeat_count

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        for _ in range(self.chunks_per_epoch):
            chunk = self.pool.draw(self.batch_size, rng)
            self.drawn.append([self.pool[int(i)].id for i in chunk])
            for _ in range(self.repeat_count):
                for i in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield int(i)


# --------------------------------------------------------------------------------------------------
# Step 1 inside TRL: the reward adapter
# --------------------------------------------------------------------------------------------------

@dataclass
class GroupRecord:
    """One scored group: ``num_generations`` completions of one prompt in one generation batch."""

    call: int            # index of the reward call (one per generation batch)
    step: int            # the first optimizer step that trains on this group (trainer global_step + 1)
    prompt_id: str
    rewards: list[float]  # NaN = could not be scored
    spread: float         # max - min of the valid rewards (0 if fewer than 2)


def completion_text(completion: Any) -> str:
    """The text of one TRL completion: a string, or (conversational) the contents of its assistant messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and all(isinstance(m, dict) for m in completion):
        return "".join(str(m.get("content", "")) for m in completion if m.get("role", "assistant") == "assistant")
    raise ValueError(f"unsupported completion format {type(completion).__name__}: expected a string or a list of "
                     "chat messages")


class TrlRewardAdapter:
    """An evalab reward (``reward(prompts, responses) -> (P, N)``, NaN = missing) as a TRL reward function.

        adapter = make_trl_reward(make_reward("constraints"), pool, num_generations=4)
        GRPOTrainer(..., reward_funcs=[adapter], train_dataset=pool.as_dataset())
        adapter.groups_frame()      # every group the trainer scored: call, step, prompt_id, rewards, spread

    TRL calls it with the flat list of ``prompts`` and ``completions`` of one generation batch plus every dataset
    column (here ``prompt_id``); completions come in consecutive blocks of ``num_generations`` per prompt. The
    adapter scores each block as one row of the (P, N) matrix, returns the flat rewards (NaN stays NaN: TRL's
    ``nansum`` then treats it as 0 in the advantage), records each group for the informativeness estimate, and
    logs ``eva/*`` metrics (zero-spread fraction, share of evolved prompts, pool size) into TRL's log history.
    """

    def __init__(self, reward: Any, pool: EvaPromptPool, num_generations: int, *, layout: str = "blocks",
                 max_missing_reward: float = 1.0, on_missing_reward: str = "stop",
                 pass_threshold: float | None = None) -> None:
        if num_generations < 2:
            raise ValueError(f"num_generations={num_generations!r}: a group needs at least 2 completions")
        if layout not in GROUP_LAYOUTS:
            raise ValueError(f"layout={layout!r}: choose one of {GROUP_LAYOUTS}")
        if not 0.0 <= max_missing_reward <= 1.0:
            raise ValueError(f"max_missing_reward={max_missing_reward!r} must be a share in [0, 1]")
        if on_missing_reward not in ("stop", "skip"):
            raise ValueError(f"on_missing_reward={on_missing_reward!r}: choose 'stop' or 'skip'")
        self.reward = reward
        self.pool = pool
        self.num_generations = int(num_generations)
        self.layout = layout
        self.max_missing_reward = float(max_missing_reward)
        self.on_missing_reward = on_missing_reward
        self.pass_threshold = pass_threshold if pass_threshold is not None else getattr(reward, "pass_threshold", None)
        self.__name__ = f"eva_{getattr(reward, 'name', type(reward).__name__)}"  # TRL's column name for it
        self.groups: list[GroupRecord] = []
        self.n_calls = 0
        self.n_skipped = 0  # reward calls over max_missing_reward that went on (on_missing_reward="skip")

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], prompt_id: Sequence[str] | None = None,
                 trainer_state: Any = None, log_metric: Any = None, **_: Any) -> list[float]:
        if prompt_id is None:
            raise ValueError("reward adapter: the dataset has no 'prompt_id' column; build it with "
                             "EvaPromptPool.as_dataset()")
        g = self.num_generations
        if len(completions) % g or len(prompt_id) != len(completions):
            raise ValueError(f"reward adapter: got {len(completions)} completions and {len(prompt_id)} prompt ids; "
                             f"expected equal counts, a multiple of num_generations={g}")
        n_groups = len(completions) // g
        slots = group_slots(self.layout, n_groups, g)  # slots[b][j]: flat position of completion j of group b
        ids = [prompt_id[row[0]] for row in slots]
        for b, (pid, row) in enumerate(zip(ids, slots)):
            block = {prompt_id[k] for k in row}
            if block != {pid}:
                how = ("repeat each prompt num_generations={g} times in a row" if self.layout == "blocks" else
                       "give generation j of prompt b at position j * n_prompts + b")
                raise ValueError(f"reward adapter: group {b} mixes prompt ids {sorted(block)}; the sampler must "
                                 + how.format(g=g))
        texts = [completion_text(c) for c in completions]
        responses = [[texts[k] for k in row] for row in slots]
        group_prompts = [self.pool.get(pid) for pid in ids]
        r = np.asarray(self.reward(group_prompts, responses), dtype=float)
        if r.shape != (len(ids), g):
            raise ValueError(f"reward {self.__name__!r} returned shape {r.shape}; expected ({len(ids)}, {g})")
        as_reward_matrix(r, ids)  # inf -> ValueError naming the prompt
        step = int(getattr(trainer_state, "global_step", 0) or 0) + 1  # the first optimizer step trained on it
        self._check_missing(r, step)
        spreads = informativeness(r, "a_min")
        for pid, row, s in zip(ids, r, spreads):
            self.groups.append(GroupRecord(call=self.n_calls, step=step, prompt_id=pid,
                                           rewards=[float(x) for x in row], spread=float(s)))
        self.n_calls += 1
        if log_metric is not None:
            log_metric("eva/frac_zero_spread", float(np.mean(spreads <= SPREAD_TOL)))
            log_metric("eva/frac_evolved_groups", float(np.mean([self.pool.get(p).parent_id is not None
                                                                 for p in ids])))
            log_metric("eva/pool_size", float(len(self.pool)))
            log_metric("eva/frac_missing_reward", float(np.isnan(r).mean()))
            for key, value in group_outcomes(r, self.pass_threshold).items():
                log_metric(key, value)
            log_metric("missing_reward_skipped", float(self.n_skipped))
        flat = np.full(len(completions), np.nan)
        for row, vals in zip(slots, r):
            flat[row] = vals
        return [float(x) for x in flat]

    def _check_missing(self, r: np.ndarray, step: int) -> None:
        """The fail-loudly rule per step: over ``max_missing_reward`` stops (``on_missing_reward="stop"``, one
        line naming the reward and its first error) or is counted in ``n_skipped`` ("skip")."""
        from .rewards import MissingRewardError, check_missing_rewards

        try:
            check_missing_rewards(self.reward, r, self.max_missing_reward, where=f" at step {step}")
        except MissingRewardError:
            if self.on_missing_reward == "stop":
                raise
            self.n_skipped += 1
            log.warning("step %d: reward %s over max_missing_reward=%g; on_missing_reward='skip' goes on "
                        "(%d skipped so far)", step, self.__name__, self.max_missing_reward, self.n_skipped)

    def state_dict(self) -> dict[str, Any]:
        return {"n_calls": self.n_calls, "groups": [asdict(gr) for gr in self.groups], "n_skipped": self.n_skipped}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.n_calls = int(state["n_calls"])
        self.n_skipped = int(state.get("n_skipped", 0))
        self.groups = [GroupRecord(**{**g, "rewards": [float("nan") if x is None else float(x) for x in g["rewards"]]})
                       for g in state["groups"]]

    def groups_since(self, call: int) -> list[GroupRecord]:
        """Groups scored by reward calls with index >= ``call``."""
        return [gr for gr in self.groups if gr.call >= call]

    def groups_frame(self) -> pd.DataFrame:
        cols = ["call", "step", "prompt_id", "rewards", "spread"]
        df = pd.DataFrame([asdict(gr) for gr in self.groups], columns=cols)
        df["reward_mean"] = [float(np.nanmean(x)) if np.isfinite(x).any() else np.nan for x in df["rewards"]]
        df["evolved"] = [self.pool.get(p).parent_id is not None for p in df["prompt_id"]]
        return df


def make_trl_reward(reward: Any, pool: EvaPromptPool, num_generations: int, **kw: Any) -> TrlRewardAdapter:
    """Wrap an evalab reward function for TRL (see :class:`TrlRewardAdapter`; ``kw``: layout,
    max_missing_reward, on_missing_reward, pass_threshold)."""
    return TrlRewardAdapter(reward, pool, num_generations, **kw)


class TrlComponentReward:
    """One component of a composite evalab reward as a TRL reward function (for dynamic sampling's spread on
    ``EvaConfig.informativeness_reward``; given weight 0 so the loss still uses the composite). Groups are read as
    :class:`TrlRewardAdapter` reads them; nothing is recorded."""

    def __init__(self, adapter: TrlRewardAdapter, component: str) -> None:
        from .rewards import reward_components

        comps = reward_components(adapter.reward)
        if component not in comps:
            raise ValueError(f"EvaConfig.informativeness_reward={component!r}: reward {adapter.__name__!r} has "
                             f"components {comps or 'none'}")
        self.adapter = adapter
        self.component = component
        self.__name__ = f"{adapter.__name__}_{component}"

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], prompt_id: Sequence[str] | None = None,
                 **_: Any) -> list[float]:
        g, a = self.adapter.num_generations, self.adapter
        if prompt_id is None or len(completions) % g:
            raise ValueError(f"component reward {self.__name__!r}: needs prompt_id and groups of {g} completions")
        slots = group_slots(a.layout, len(completions) // g, g)
        texts = [completion_text(c) for c in completions]
        m = np.asarray(a.reward.components([a.pool.get(prompt_id[row[0]]) for row in slots],
                                           [[texts[k] for k in row] for row in slots])[self.component], dtype=float)
        flat = np.full(len(completions), np.nan)
        for row, vals in zip(slots, m):
            flat[row] = vals
        return [float(x) for x in flat]


def group_slots(layout: str, n_groups: int, g: int) -> list[list[int]]:
    """Flat positions of each group's ``g`` completions: "blocks" (GRPO/RLOO: group b is positions
    b*g .. b*g+g-1) or "halves" (TRL online DPO: generation j of prompt b is at j*n_groups + b)."""
    if layout == "blocks":
        return [[b * g + j for j in range(g)] for b in range(n_groups)]
    if layout == "halves":
        return [[j * n_groups + b for j in range(g)] for b in range(n_groups)]
    raise ValueError(f"layout={layout!r}: choose one of {GROUP_LAYOUTS}")


def group_outcomes(rewards: np.ndarray, pass_threshold: float | None) -> dict[str, float]:
    """Shares of the scored groups (rows with at least one reward) whose rewards all fail, all pass, or mix:
    ``frac_all_fail``, ``frac_all_pass``, ``frac_mixed`` (pass = reward >= ``pass_threshold`` - 1e-9; NaN
    rewards are left out; all NaN when the reward has no pass threshold or no group was scored). All-fail and
    all-pass groups are the ones GRPO/RLOO learn nothing from (verl PR #5228's breakdown)."""
    r = np.asarray(rewards, dtype=float)
    keys = ("frac_all_fail", "frac_all_pass", "frac_mixed")
    scored = np.isfinite(r).any(axis=1) if r.ndim == 2 else np.zeros(0, dtype=bool)
    if pass_threshold is None or not scored.any():
        return dict.fromkeys(keys, float("nan"))
    valid = np.isfinite(r[scored])
    passed = (r[scored] >= pass_threshold - 1e-9) & valid
    n_pass, n_valid = passed.sum(axis=1), valid.sum(axis=1)
    fail, allpass = n_pass == 0, n_pass == n_valid
    return {"frac_all_fail": float(fail.mean()), "frac_all_pass": float(allpass.mean()),
            "frac_mixed": float((~fail & ~allpass).mean())}


# --------------------------------------------------------------------------------------------------
# Steps 2-5 inside TRL: the evolution event
# --------------------------------------------------------------------------------------------------

def latest_group_per_prompt(groups: Sequence[GroupRecord]) -> list[GroupRecord]:
    """One group per prompt: its most recent one (the current policy's view), in order of last appearance."""
    last: dict[str, GroupRecord] = {}
    for gr in groups:
        last.pop(gr.prompt_id, None)
        last[gr.prompt_id] = gr
    return list(last.values())


def group_weights(groups: Sequence[GroupRecord], metric: str = "a_min") -> np.ndarray:
    """Step 2 online: informativeness of each group from its own N rewards -> (n_groups,)."""
    if not groups:
        return np.zeros(0)
    return informativeness([gr.rewards for gr in groups], metric, [gr.prompt_id for gr in groups])


def group_sampling_weights(groups: Sequence[GroupRecord], metric: str = "a_min") -> np.ndarray:
    """Step 3's weights (>= 0) of the groups under ``metric``, for rewards of any sign (the mapping of
    ``evalab.informativeness.weights_from_values``: e.g. ``avg`` of RM logits is rescaled to [0, 1])."""
    if not groups:
        return np.zeros(0)
    n = max(len(gr.rewards) for gr in groups)
    r = np.full((len(groups), n), np.nan)
    for i, gr in enumerate(groups):
        r[i, :len(gr.rewards)] = gr.rewards
    return weights_from_values(group_weights(groups, metric), metric, r)


def select_informative(weights: np.ndarray, fraction: float, strategy: str, seed: int, *,
                       reward_mean: np.ndarray | None = None, band: tuple[float, float] = (0.2, 0.8)) -> np.ndarray:
    """Step 3 online: the informative subset of the recent groups (``weights``: sampling weights >= 0,
    ``group_sampling_weights``); zero-weight groups are never selected (evolving a prompt that taught nothing
    is not eva's intent). Empty if no group is informative. ``reward_mean``/``band``: for ``strategy="band"``."""
    if weights.size == 0 or not (weights > 0).any():
        return np.zeros(0, dtype=int)
    idx = sample_subset(weights, fraction=fraction, strategy=strategy, seed=seed, reward_mean=reward_mean, band=band)
    return idx[weights[idx] > 0]


# --------------------------------------------------------------------------------------------------
# Prediction before sampling, online (MoPPS / GRESO on the trainer's prompt stream)
# --------------------------------------------------------------------------------------------------

PREDICTION_COLUMNS = ["batch", "calls_scored", "position", "prompt_id", "alpha", "beta", "prior_source", "zero_run",
                      "p_explore", "p_skip", "skipped", "draw", "chosen_rank", "generate", "rank", "considered",
                      "predicted_pass"]


class PoolPredictor:
    """``sampling="thompson"`` (MoPPS) and ``skip="greso"`` (GRESO) inside the trainer: before each generation
    batch (and each dynamic-sampling refill), :meth:`EvaPromptPool.draw` offers ``n_candidates(k)`` prompts
    drawn with the pool's weights and the predictor picks the k the trainer generates for.

        pred = PoolPredictor(cfg, adapter)       # EvaCallback builds it and sets pool.predictor
        pool.draw(4, rng)                        # 16 candidates (subset_fraction 0.25) -> 4 chosen
        pred.frame(); pred.summary()             # one row per candidate; totals

    The rules are the offline ones (:mod:`evalab.curricula`, the papers cited there), on the online stream:

    - **Observations** are the groups the reward adapter scored (every reward call, refills included), folded in
      one call at a time before each choice: per prompt α ← λ·α + passes, β ← λ·β + fails (``beta_update``;
      a new evolved prompt starts from its parent's posterior shrunk toward the prior) and its zero-variance run;
      with GRESO, p_e steps toward ``greso_target`` after each call from that call's zero-variance share.
    - **Candidates**: c = ceil(k / ``subset_fraction``) (at most the pool), so k of c is chosen as offline step 3
      chooses ``subset_fraction`` of X_t. GRESO skips candidates with P = 1 − p_e^z (at least k survive);
      Thompson takes the k survivors whose draw p̃ ~ Beta(α, β) is closest to ``target_pass_rate``; GRESO alone
      takes the first k survivors in draw order (eva's weighted order).
    - **Cost**: the trainer still generates k groups per batch. ``rollouts_declined`` = (c − k)·N counts what a
      generate-then-select step (offline eva's step 1 → 3, or dynamic sampling's oversampling) would have spent
      on the declined candidates; the saving against online eva without prediction shows as a lower zero-spread
      share of the generated groups and, with ``dynamic_sampling``, fewer extra completions — measured by
      comparing runs, not counted here. ``groups_skipped``: GRESO's skips among the candidates considered.
    - **Staleness**: TRL's data loader draws one batch ahead, so a batch's choice sees the groups scored before
      the previous batch was generated, not those of the previous batch itself.

    The evolution event selects its parents under ``sampling="thompson"`` the same way (:meth:`select`).
    """

    def __init__(self, cfg: EvaConfig, adapter: TrlRewardAdapter) -> None:
        from .curricula import PredictionState

        if not cfg.predicts:
            raise ValueError(f"PoolPredictor: EvaConfig.sampling={cfg.sampling!r} and skip={cfg.skip!r} predict "
                             f"nothing; use sampling in {PREDICTIVE} or skip='greso'")
        self.cfg = cfg
        self.adapter = adapter
        self.state = PredictionState(p_explore=float(cfg.greso_explore_init))
        self._next_call = 0
        self.rows: list[dict[str, Any]] = []
        self.n_batches = 0

    def n_candidates(self, k: int) -> int:
        return max(int(k), math.ceil(int(k) / self.cfg.subset_fraction - 1e-9))

    def sync(self, pool: EvaPromptPool, lineage: Mapping[str, str | None] | None = None) -> None:
        """Fold in the groups scored since the last sync, one reward call at a time (``lineage``: the pool's
        id -> parent id, built here when not given)."""
        from .curricula import greso_adapt, observe, zero_variance

        groups = self.adapter.groups_since(self._next_call)
        self._next_call = self.adapter.n_calls
        if not groups:
            return
        if lineage is None:
            lineage = {q.id: q.parent_id for q in pool.prompts}
        for call in sorted({gr.call for gr in groups}):
            at = [gr for gr in groups if gr.call == call]
            r = np.array([gr.rewards for gr in at], dtype=float)
            self.state = observe(self.state, [gr.prompt_id for gr in at], r, self.cfg, lineage)
            if self.cfg.skip == "greso":
                self.state.p_explore = greso_adapt(self.state.p_explore, float(zero_variance(r).mean()),
                                                   self.cfg.greso_target, self.cfg.greso_step)

    def choose(self, pool: EvaPromptPool, candidates: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Positions in ``candidates`` (pool indices in draw order) of the k prompts to generate for."""
        from .curricula import plan_draw

        lineage = {q.id: q.parent_id for q in pool.prompts}
        self.sync(pool, lineage)
        ids = [pool[int(i)].id for i in candidates]
        df, chosen = plan_draw(self.state, ids, lineage, self.cfg, int(k), rng)
        df.insert(0, "batch", self.n_batches)
        df.insert(1, "calls_scored", self._next_call)
        df.insert(2, "position", np.arange(len(df)))
        df["predicted_pass"] = df.alpha / (df.alpha + df.beta)
        self.rows.extend(df[PREDICTION_COLUMNS].to_dict("records"))
        self.n_batches += 1
        return chosen

    def select(self, prompt_ids: Sequence[str], weights: np.ndarray, fraction: float, seed: int) -> np.ndarray:
        """Step 3 of an evolution event under ``sampling="thompson"``: of the groups' prompts with weight > 0 (a
        zero-spread group is never evolved), the ceil(fraction·n) whose Thompson draw is closest to p*, closest
        first (indices into ``prompt_ids``)."""
        from .curricula import inherited_prior, thompson_choose
        from .sampling import subset_size

        cand = np.flatnonzero(np.asarray(weights) > 0)
        if not len(prompt_ids) or not cand.size:
            return np.zeros(0, dtype=int)
        ab = [inherited_prior(prompt_ids[i], {}, self.state, self.cfg)[:2] for i in cand]
        idx, _ = thompson_choose(np.array([a for a, _ in ab]), np.array([b for _, b in ab]),
                                 min(cand.size, subset_size(len(prompt_ids), fraction)), self.cfg.target_pass_rate,
                                 np.random.default_rng(seed))
        return cand[idx]

    def frame(self) -> pd.DataFrame:
        """One row per candidate offered: the batch, the scored reward calls it saw, its state and the choice."""
        df = pd.DataFrame(self.rows, columns=PREDICTION_COLUMNS)
        return df.astype({c: float for c in ("alpha", "beta", "p_explore", "p_skip", "draw", "predicted_pass")})

    def summary(self) -> dict[str, float]:
        """Totals: batches, candidates, groups generated, GRESO's skips among the candidates considered,
        ``rollouts_declined`` (declined candidates × N), the mean predicted pass rate of the chosen and the
        declined candidates, and the final p_e."""
        df = self.frame()
        g = self.adapter.num_generations
        gen = df[df.generate] if len(df) else df
        dec = df[~df.generate] if len(df) else df
        return {"batches": float(self.n_batches), "candidates": float(len(df)), "groups_generated": float(len(gen)),
                "groups_skipped": float((df.skipped & df.considered).sum()) if len(df) else 0.0,
                "rollouts_declined": float(len(dec) * g),
                "predicted_pass_generated": float(gen.predicted_pass.mean()) if len(gen) else float("nan"),
                "predicted_pass_declined": float(dec.predicted_pass.mean()) if len(dec) else float("nan"),
                "p_explore": float(self.state.p_explore)}

    def state_dict(self) -> dict[str, Any]:
        st = self.state
        return {"alpha": st.alpha, "beta": st.beta, "zero_run": st.zero_run, "p_explore": st.p_explore,
                "next_call": self._next_call, "n_batches": self.n_batches,
                "rows": json.loads(self.frame().to_json(orient="records"))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from .curricula import PredictionState

        self.state = PredictionState({k: float(v) for k, v in state["alpha"].items()},
                                     {k: float(v) for k, v in state["beta"].items()},
                                     {k: int(v) for k, v in state["zero_run"].items()}, float(state["p_explore"]))
        self._next_call = int(state["next_call"])
        self.n_batches = int(state["n_batches"])
        self.rows = [dict(r) for r in state["rows"]]


class EvaCallback(TrainerCallback):
    """Every ``evolve_every`` optimizer steps: weigh → select → evolve → grow the pool, and write it down.

        cb = EvaCallback(pool, adapter, creator, cfg, evolve_every=2, run_dir="runs/online")
        GRPOTrainer(..., callbacks=[cb]);  cb.events_frame()

    The event uses the groups scored since the previous event (per group, never per rollout: the
    pitfall of NeMo-RL PR #4158), keeps each prompt's latest group, updates the pool's informativeness estimates,
    samples ``cfg.subset_fraction`` of them with ``cfg.sampling`` ∝ ``cfg.metric``, asks the creator for
    ``cfg.n_variants`` variants each, and adds the accepted ones to the pool (new ids, lineage kept).
    """

    def __init__(self, pool: EvaPromptPool, adapter: TrlRewardAdapter, creator: Any, cfg: EvaConfig, *,
                 evolve_every: int, run_dir: str | Path | None = None, progress: bool = False) -> None:
        if evolve_every < 1:
            raise ValueError(f"evolve_every={evolve_every!r} must be >= 1")
        if cfg.metric not in METRICS:
            raise ValueError(f"EvaConfig.metric={cfg.metric!r}: online eva needs a built-in metric {METRICS}")
        if cfg.sampling not in STRATEGIES + PREDICTIVE:
            raise ValueError(f"EvaConfig.sampling={cfg.sampling!r}: online eva samples with one of "
                             f"{STRATEGIES + PREDICTIVE}")
        if cfg.creator_aim != "harder":  # silently ignoring it would report an aim that never steered
            raise ValueError(f"EvaConfig.creator_aim={cfg.creator_aim!r}: the frontier aim is offline only (step 4 "
                             "of the iteration loop); online eva evolves the paper's way (creator_aim='harder')")
        if cfg.frontier_band:  # silently ignoring it would report a filter that never ran
            raise ValueError(f"EvaConfig.frontier_band={cfg.frontier_band!r}: the frontier check drops evolved "
                             "prompts before preference pairs are built (offline step 6); online eva builds no "
                             "pairs — use dynamic_sampling=True to drop zero-spread groups online")
        self.pool = pool
        self.adapter = adapter
        self.creator = creator
        self.cfg = cfg
        self.evolve_every = int(evolve_every)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.progress = progress
        self.events: list[dict[str, Any]] = []
        self.variants: list[pd.DataFrame] = []
        self._next_call = 0
        self.sampler: EvaPoolSampler | None = None  # set by the trainer; its epoch is saved for resume
        # prediction before sampling (sampling="thompson" / skip="greso"): the pool's draws go through it
        self.predictor = PoolPredictor(cfg, adapter) if cfg.predicts else None
        pool.predictor = self.predictor

    # --- TrainerCallback hooks -----------------------------------------------------------------------
    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step > 0 and state.global_step % self.evolve_every == 0:
            self.evolve_event(state.global_step)
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> Any:
        """Keep ``train_log.parquet`` current (TRL's log history so far), so a live run can be plotted."""
        if self.run_dir is not None and state.log_history:
            atomic_write_parquet(self.run_dir / "train_log.parquet", pd.DataFrame(state.log_history))
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self.write()
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Beside the trainer's checkpoint, the eva state of the same step (written last, atomically: a
        checkpoint folder without it is incomplete and never resumed from)."""
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if ckpt.is_dir():
            sampler = self.sampler
            state_obj = {"step": int(state.global_step), "pool": self.pool.state_dict(),
                         "adapter": self.adapter.state_dict(), "callback": self.state_dict(),
                         "sampler_epoch": int(sampler.epoch) if sampler is not None else 0}
            atomic_write_text(ckpt / EVA_STATE_FILE, json.dumps(state_obj, default=json_default))
        return control

    def state_dict(self) -> dict[str, Any]:
        return {"events": self.events, "next_call": self._next_call,
                "variants": [json.loads(df.to_json(orient="records")) for df in self.variants],
                "predictor": self.predictor.state_dict() if self.predictor is not None else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.events = [dict(e) for e in state["events"]]
        self._next_call = int(state["next_call"])
        self.variants = [pd.DataFrame(rows) for rows in state["variants"]]
        if self.predictor is not None:
            if state.get("predictor") is None:
                raise ValueError("eva state: this run predicts before sampling (sampling/skip) but its checkpoint "
                                 "holds no predictor state")
            self.predictor.load_state_dict(state["predictor"])

    # --- the event -----------------------------------------------------------------------------------
    def evolve_event(self, step: int) -> dict[str, Any]:
        """One online eva event on the groups scored since the previous event; returns its log row."""
        t0 = time.time()
        k = len(self.events) + 1  # event number = iteration of the prompts it creates
        groups = self.adapter.groups_since(self._next_call)
        self._next_call = self.adapter.n_calls
        spreads = np.array([gr.spread for gr in groups])
        latest = latest_group_per_prompt(groups)
        w = group_weights(latest, self.cfg.metric)
        sw = group_sampling_weights(latest, self.cfg.metric)
        for gr, wi in zip(latest, sw):
            self.pool.observe(gr.prompt_id, float(wi))
        means = np.array([np.nanmean(gr.rewards) if np.isfinite(gr.rewards).any() else np.nan for gr in latest])
        if self.predictor is not None:
            self.predictor.sync(self.pool)
        if self.cfg.sampling in PREDICTIVE:
            sel = self.predictor.select([gr.prompt_id for gr in latest], sw, self.cfg.subset_fraction,
                                        seed=self.cfg.seed + k)
        else:
            sel = select_informative(sw, self.cfg.subset_fraction, self.cfg.sampling, seed=self.cfg.seed + k,
                                     reward_mean=means, band=(self.cfg.band_low, self.cfg.band_high))
        selected = [self.pool.get(latest[i].prompt_id) for i in sel]
        variants = []
        if selected:
            extra: dict[str, Any] = {}
            pool_texts = [p.text for p in self.pool.prompts]
            if "existing" in inspect.signature(self.creator.evolve).parameters:  # lets the creator reject repeats
                extra["existing"] = pool_texts
            variants = self.creator.evolve(selected, n_variants=self.cfg.n_variants, iteration=k,
                                           seed=self.cfg.seed + 1000 * k, progress=self.progress, **extra)
            if self.cfg.novelty_max_rougeL < 1.0:
                novelty_check(variants, pool_texts, self.cfg.novelty_max_rougeL)
        accepted = [v.prompt for v in variants if v.accepted and v.prompt is not None]
        added = self.pool.add(accepted, step=step)
        reasons = Counter(v.reason for v in variants if not v.accepted)
        all_rewards = np.array([x for gr in groups for x in gr.rewards], dtype=float)
        event = {
            "event": k, "step": int(step), "n_groups": len(groups), "n_prompts": len(latest),
            "frac_zero_spread": float(np.mean(spreads <= SPREAD_TOL)) if groups else float("nan"),
            "reward_mean": float(np.nanmean(all_rewards)) if np.isfinite(all_rewards).any() else float("nan"),
            "weight_mean": float(w.mean()) if w.size else float("nan"),
            "n_selected": len(selected), "n_variants": len(variants), "n_accepted": len(accepted),
            "n_added": len(added), "reject_reasons": json.dumps(dict(sorted(reasons.items()))),
            "pool_size": len(self.pool), "pool_evolved": self.pool.n_evolved, "seconds": time.time() - t0,
        }
        self.events.append(event)
        if variants:
            self.variants.append(_variants_frame(variants, step=step, event=k, added={p.id for p in added}))
        self.write()
        return event

    # --- views and persistence -----------------------------------------------------------------------
    def events_frame(self) -> pd.DataFrame:
        cols = ["event", "step", "n_groups", "n_prompts", "frac_zero_spread", "reward_mean", "weight_mean",
                "n_selected", "n_variants", "n_accepted", "n_added", "reject_reasons", "pool_size",
                "pool_evolved", "seconds"]
        return pd.DataFrame(self.events, columns=cols)

    def variants_frame(self) -> pd.DataFrame:
        if not self.variants:
            return pd.DataFrame(columns=["event", "step", "parent_id", "operator", "k", "accepted", "reason",
                                         "id", "text", "added"])  # the leading columns of _variants_frame
        return pd.concat(self.variants, ignore_index=True)

    def write(self) -> None:
        """Rewrite the run directory's online tables atomically (no-op without ``run_dir``)."""
        if self.run_dir is None:
            return
        atomic_write_parquet(self.run_dir / "online_events.parquet", self.events_frame())
        atomic_write_parquet(self.run_dir / "pool.parquet", self.pool.to_frame())
        atomic_write_parquet(self.run_dir / "variants.parquet", self.variants_frame())
        groups = self.adapter.groups_frame()
        atomic_write_parquet(self.run_dir / "groups.parquet", groups)
        if self.predictor is not None:
            atomic_write_parquet(self.run_dir / "prediction.parquet", self.predictor.frame())


def novelty_check(variants: Sequence[Any], pool_texts: Sequence[str], max_rouge_l: float) -> int:
    """SeRL's novelty check online (``evalab.curricula.novelty_reject``, ``EvaConfig.novelty_max_rougeL``): each
    accepted variant, in order, whose ROUGE-L F against a prompt of the pool or an earlier accepted variant of the
    event exceeds ``max_rouge_l`` is marked rejected (reason ``not_novel``) in place. Returns how many were."""
    from .creator import variants_to_frame
    from .curricula import novelty_reject

    df = novelty_reject(variants_to_frame(variants), pool_texts, max_rouge_l)
    n = 0
    for v, ok, reason in zip(variants, df["accepted"], df["reason"]):
        if v.accepted and not ok:
            v.accepted, v.reason = False, reason
            n += 1
    return n


def _variants_frame(variants: Sequence[Any], *, step: int, event: int, added: set[str]) -> pd.DataFrame:
    """``creator.variants_to_frame`` plus the event, the step and whether the variant entered the pool."""
    from .creator import variants_to_frame

    df = variants_to_frame(variants)
    df.insert(0, "event", event)
    df.insert(1, "step", step)
    df["added"] = [pid in added for pid in df["id"]]
    return df


# --------------------------------------------------------------------------------------------------
# TRL trainers that draw from the pool
# --------------------------------------------------------------------------------------------------

class _PoolSamplerMixin:
    """Replaces the trainer's RepeatSampler by an :class:`EvaPoolSampler` over ``eva_pool``."""

    eva_pool: EvaPromptPool
    eva_sampler: EvaPoolSampler | None
    eva_start_epoch: int = 0

    def _get_train_sampler(self, dataset: Any = None) -> Sampler:  # the hook of TRL issue #2801
        args = self.args  # type: ignore[attr-defined]
        if hasattr(args, "generation_batch_size"):  # GRPO / RLOO: the trainer repeats each prompt itself
            g = self.num_generations  # type: ignore[attr-defined]
            repeat = self.num_iterations * args.steps_per_generation  # type: ignore[attr-defined]
            per_batch = args.generation_batch_size // g
        else:  # online DPO: one row per prompt; the trainer samples its 2 completions itself
            g, repeat, per_batch = 1, 1, args.per_device_train_batch_size
        self.eva_sampler = EvaPoolSampler(
            self.eva_pool, mini_repeat_count=g, batch_size=per_batch, repeat_count=repeat,
            chunks_per_epoch=max(1, math.ceil(len(self.eva_pool) / per_batch)), seed=args.seed,
            start_epoch=self.eva_start_epoch)
        for cb in self.callback_handler.callbacks:  # type: ignore[attr-defined]
            if isinstance(cb, EvaCallback):
                cb.sampler = self.eva_sampler
        return self.eva_sampler


def _trainer_class(kind: str) -> type:
    if kind == "grpo":
        from trl import GRPOTrainer as base
    elif kind == "rloo":
        from trl import RLOOTrainer as base
    elif kind == "oaif":
        from trl.experimental.online_dpo import OnlineDPOTrainer as base
    else:
        raise ValueError(f"trainer={kind!r}: online eva supports {ONLINE_TRAINERS}")

    bases: tuple[type, ...] = (_PoolSamplerMixin, base)
    if kind in DYNAMIC_SAMPLING_TRAINERS:  # off unless the trainer is built with dynamic_sampling=True
        from .dynamic_sampling import DynamicSamplingMixin

        bases = (_PoolSamplerMixin, DynamicSamplingMixin, base)

    class EvaTrainer(*bases):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, eva_pool: EvaPromptPool, eva_start_epoch: int = 0, **kw: Any) -> None:
            self.eva_pool = eva_pool
            self.eva_sampler = None
            self.eva_start_epoch = int(eva_start_epoch)
            super().__init__(*a, **kw)

        def dynamic_sampling_draw(self, n: int) -> list[dict[str, Any]]:
            """Refill prompts for dynamic sampling: drawn from the live pool with its current weights."""
            self._eva_ds_draws = getattr(self, "_eva_ds_draws", 0) + 1  # a fresh stream per refill round
            rng = np.random.default_rng([self.args.seed, 7, int(self.state.global_step), self._eva_ds_draws])
            return [self.train_dataset[int(i)] for i in self.eva_pool.draw(n, rng)]

        if kind == "oaif":  # online DPO passes reward functions no log_metric: give them one into its stats
            def _calculate_rewards_from_functions(self, prompts: Any, completions: Any, completion_ids_list: Any,
                                                  **reward_kwargs: Any) -> Any:
                reward_kwargs.setdefault("log_metric", self._eva_log_metric)
                return super()._calculate_rewards_from_functions(prompts, completions, completion_ids_list,
                                                                 **reward_kwargs)

            def _eva_log_metric(self, key: str, value: float) -> None:
                self.stats.setdefault(key, []).append(float(value))  # averaged and reset at each log step

    EvaTrainer.__name__ = EvaTrainer.__qualname__ = f"Eva{base.__name__}"
    return EvaTrainer


def make_trainer_args(kind: str, output_dir: str | Path, *, steps: int, num_generations: int, prompts_per_step: int,
                      max_completion_length: int, learning_rate: float, temperature: float, top_p: float,
                      seed: int, kl_beta: float | None = None, progress: bool = True, **extra: Any) -> Any:
    """GRPOConfig / RLOOConfig / OnlineDPOConfig for a small CPU run: no vLLM, no bf16, no gradient
    checkpointing, no reporting, no checkpoints, a log line every step; ``kl_beta`` None takes
    ``DEFAULT_KL_BETA[kind]``. ``extra`` overrides any of these (any field of the TRL config). For "oaif"
    ``num_generations`` must be 2 (online DPO compares two samples per prompt)."""
    if kind not in ONLINE_TRAINERS:
        raise ValueError(f"trainer={kind!r}: online eva supports {ONLINE_TRAINERS}")
    kl_beta = DEFAULT_KL_BETA[kind] if kl_beta is None else kl_beta
    if not (isinstance(kl_beta, (int, float)) and math.isfinite(kl_beta) and kl_beta >= 0):
        raise ValueError(f"kl_beta={kl_beta!r} must be a finite number >= 0 (0 = no reference model)")
    if kind == "oaif" and num_generations != 2:
        raise ValueError(f"num_generations={num_generations!r}: online DPO (oaif) samples exactly 2 completions "
                         "per prompt")
    if kind == "oaif" and not kl_beta > 0:
        raise ValueError(f"kl_beta={kl_beta!r}: online DPO's β must be > 0 (it scales the DPO loss)")
    for name, v in (("steps", steps), ("num_generations", num_generations), ("prompts_per_step", prompts_per_step),
                    ("max_completion_length", max_completion_length)):
        if int(v) < 1:
            raise ValueError(f"{name}={v!r} must be >= 1")
    if num_generations < 2:
        raise ValueError(f"num_generations={num_generations!r}: group-relative advantages need at least 2")
    import torch

    kw: dict[str, Any] = dict(
        output_dir=str(output_dir), max_steps=int(steps),
        learning_rate=float(learning_rate), temperature=float(temperature), top_p=float(top_p), beta=float(kl_beta),
        seed=int(seed), logging_steps=1, save_strategy="no", report_to="none", bf16=False, fp16=False,
        use_vllm=False, dataloader_num_workers=0, disable_tqdm=not progress,
        gradient_checkpointing=False,  # TRL's default True only re-computes forwards: small models don't need it
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    if kind == "oaif":
        from trl.experimental.online_dpo import OnlineDPOConfig as cls

        kw.update(per_device_train_batch_size=int(prompts_per_step),  # online DPO counts prompts
                  max_new_tokens=int(max_completion_length))
    else:
        from trl import GRPOConfig, RLOOConfig

        cls = GRPOConfig if kind == "grpo" else RLOOConfig
        kw.update(per_device_train_batch_size=prompts_per_step * num_generations,  # TRL counts completions
                  num_generations=int(num_generations), max_completion_length=int(max_completion_length),
                  log_completions=False)
    kw.update(extra)
    return cls(**kw)


# --------------------------------------------------------------------------------------------------
# One call for notebooks
# --------------------------------------------------------------------------------------------------

def run_online_eva(cfg: EvaConfig, *, trainer: str = "grpo", steps: int = 8, evolve_every: int = 2,
                   prompts_per_step: int = 2, num_generations: int | None = None,
                   max_completion_length: int | None = None, kl_beta: float | None = None,
                   seeds: Sequence[Prompt] | None = None, model: Any = None, tokenizer: Any = None,
                   reward: Any = None, creator: Any = None, save_model: bool = False, progress: bool = True,
                   torch_threads: int = 0, checkpoint_every: int | None = None,
                   trainer_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Online eva: ``steps`` RL steps of ``trainer`` ("grpo" | "rloo" | "oaif") with an evolution event every
    ``evolve_every`` steps. Writes the run directory ``cfg.run_dir`` and returns::

        {"run_dir", "events", "pool", "groups", "variants", "log_history" (DataFrames), "train_runtime",
         "trainer" (the TRL trainer; its .model is the trained solver), "model_dir" (if save_model)}

    Defaults from ``cfg``: seeds = ``cfg.prompt_set`` (first ``cfg.n_prompts``), solver ``cfg.solver``,
    N = ``cfg.n_responses``, completion budget ``cfg.max_new_tokens``, reward ``cfg.reward``, creator
    ``make_creator(cfg)``, lr ``cfg.learning_rate``; ``kl_beta`` None = ``DEFAULT_KL_BETA[trainer]`` (> 0: the
    solver is regularised towards π_base, the initial solver, as eva's objective is; a reference model then costs
    one more forward per step), 0 skips the reference model (GRPO/RLOO only).

    "oaif" is online DPO (Guo et al. 2024, "Direct Language Model Alignment from Online AI Feedback"; TRL's
    ``trl.experimental.online_dpo``): per prompt the solver samples 2 completions, the preference oracle — the
    evalab reward ``cfg.reward``, e.g. ``judge:<litellm model>`` for AI feedback, or the constraint reward —
    scores both, and the higher one is chosen (TRL keeps ties, the first sample then counts as chosen). Each pair
    is one eva group of N = 2 (its informativeness = the reward gap), so the same events evolve the prompt stream.

    Fail loudly: a reward call whose share of missing rewards exceeds ``cfg.max_missing_reward`` stops the run
    (``rewards.MissingRewardError``, one line naming the reward and its first error; the last checkpoint stays
    resumable) unless ``cfg.on_missing_reward="skip"``, which counts it in the train log's
    ``missing_reward_skipped`` (GRPO/RLOO then give the missing rollouts no reward in the advantage; online DPO
    compares a pair whose reward is missing as if it were 0, so "skip" is for judges that rarely fail). Per step the train log also holds ``frac_all_fail`` / ``frac_all_pass`` /
    ``frac_mixed``: the shares of scored groups whose rewards all miss, all reach, or straddle the reward's
    ``pass_threshold`` (1.0 for the constraint reward: every constraint met; NaN for rewards without one).
    ``torch_threads`` > 0 sets torch's intra-op threads for the duration of the run (restored afterwards): on a
    CPU shared with other busy processes, 1 thread avoids OpenMP spin-waiting that made generation >10x slower
    in our measurements (see benchmarks/bench_online.py). ``trainer_kwargs`` go to the TRL config.

    ``cfg.dynamic_sampling`` (GRPO/RLOO; online DPO refuses it): zero-spread groups are dropped and refilled from
    the pool, up to ``cfg.max_resample`` extra rounds per generation batch (:mod:`evalab.dynamic_sampling`); the
    result's ``dynamic_sampling`` frame (also ``dynamic_sampling.parquet``, totals in ``online_summary.json``) has
    one row per generation batch of this process (after a resume: since the resume), the train log ``dynamic/*``.

    ``cfg.sampling="thompson"`` (MoPPS) / ``cfg.skip="greso"`` (GRESO): each generation batch (and refill) is chosen
    from ceil(k / ``subset_fraction``) weighted candidates before generation (:class:`PoolPredictor`); the result's
    ``prediction`` frame (also ``prediction.parquet``) has one row per candidate, ``online_summary.json`` the totals
    (``prediction``: groups skipped, rollouts declined, predicted pass rates). The state is in each checkpoint.

    Resume: every ``checkpoint_every`` optimizer steps (default ``evolve_every``: right after each evolution
    event; 0 = never) the trainer checkpoints into ``run_dir/_trainer`` (model, optimizer, scheduler, RNG; the
    two latest kept) together with the eva state of that step (``eva_state.json``: the pool with its statistics,
    every scored group, the events and variants). Running again with the same ``run_dir`` and settings after a
    crash or ``kill -9`` continues from the latest complete checkpoint: nothing before it is lost, event numbers
    and steps continue. The continuation is not bit-identical to an uninterrupted run (the prompt stream draws
    anew after the checkpoint). Other settings in the same ``run_dir`` raise a ValueError naming them.
    """
    if torch_threads < 0:
        raise ValueError(f"torch_threads={torch_threads!r} must be >= 0 (0 = leave torch's setting)")
    if checkpoint_every is not None and checkpoint_every < 0:
        raise ValueError(f"checkpoint_every={checkpoint_every!r} must be >= 0 (0 = no checkpoints, no resume)")
    import torch

    before = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    try:
        return _run_online_eva(cfg, trainer=trainer, steps=steps, evolve_every=evolve_every,
                               prompts_per_step=prompts_per_step, num_generations=num_generations,
                               max_completion_length=max_completion_length, kl_beta=kl_beta, seeds=seeds,
                               model=model, tokenizer=tokenizer, reward=reward, creator=creator,
                               save_model=save_model, progress=progress, trainer_kwargs=trainer_kwargs,
                               checkpoint_every=evolve_every if checkpoint_every is None else checkpoint_every)
    finally:
        torch.set_num_threads(before)


def _run_online_eva(cfg: EvaConfig, *, trainer: str, steps: int, evolve_every: int, prompts_per_step: int,
                    num_generations: int | None, max_completion_length: int | None, kl_beta: float,
                    seeds: Sequence[Prompt] | None, model: Any, tokenizer: Any, reward: Any, creator: Any,
                    save_model: bool, progress: bool, trainer_kwargs: dict[str, Any] | None,
                    checkpoint_every: int = 0) -> dict[str, Any]:
    if trainer not in ONLINE_TRAINERS:
        raise ValueError(f"trainer={trainer!r}: online eva supports {ONLINE_TRAINERS}")
    if steps < 1 or evolve_every < 1 or prompts_per_step < 1:
        raise ValueError(f"steps={steps}, evolve_every={evolve_every}, prompts_per_step={prompts_per_step}: "
                         "each must be >= 1")
    if cfg.dynamic_sampling and trainer not in DYNAMIC_SAMPLING_TRAINERS:
        raise ValueError(f"EvaConfig.dynamic_sampling=True: trainer={trainer!r} does not apply (online DPO trains "
                         f"on one pair per prompt, not a group advantage); use one of {DYNAMIC_SAMPLING_TRAINERS}")
    if cfg.creator_training != "none":
        raise ValueError(f"EvaConfig.creator_training={cfg.creator_training!r}: online eva keeps a fixed creator; "
                         "the trained creator runs in the offline loop (EvaRun)")
    if trainer == "oaif":
        if num_generations not in (None, 2):
            raise ValueError(f"num_generations={num_generations!r}: online DPO (oaif) samples exactly 2 "
                             "completions per prompt")
        num_generations = 2
    g = int(num_generations or cfg.n_responses)
    kl_beta = DEFAULT_KL_BETA[trainer] if kl_beta is None else float(kl_beta)
    run_dir = Path(cfg.run_dir)
    store = RunStore(run_dir, cfg)
    seeds = list(seeds) if seeds is not None else load_prompts(cfg.prompt_set, limit=cfg.n_prompts)
    max_completion_length = int(max_completion_length or cfg.max_new_tokens)
    settings = {"trainer": trainer, "steps": int(steps), "evolve_every": int(evolve_every),
                "prompts_per_step": int(prompts_per_step), "num_generations": g,
                "max_completion_length": max_completion_length, "kl_beta": float(kl_beta),
                "checkpoint_every": int(checkpoint_every), "seeds": _seeds_fingerprint(seeds),
                "trainer_kwargs": json.dumps(trainer_kwargs or {}, sort_keys=True, default=str)}
    resume = _online_resume_point(run_dir, settings)
    atomic_write_text(run_dir / RUN_FILE, json.dumps(settings, indent=2, sort_keys=True))
    if model is None:
        from .models import load_model

        model, tokenizer = load_model(cfg.solver)
    elif tokenizer is None:
        raise ValueError("run_online_eva: pass tokenizer together with model")
    if reward is None:
        from .rewards import make_reward

        reward = make_reward(cfg.reward)
    if creator is None:
        from .creator import make_creator

        creator = make_creator(cfg)


    n_events = steps // evolve_every
    capacity = len(seeds) + n_events * evolve_every * prompts_per_step * cfg.n_variants
    if resume is None:
        pool = EvaPromptPool(seeds, evolved_ratio=cfg.evolved_ratio, capacity=capacity)
    else:
        state = json.loads((resume / EVA_STATE_FILE).read_text())
        pool = EvaPromptPool.from_state_dict(state["pool"])
    adapter = make_trl_reward(reward, pool, g, layout="halves" if trainer == "oaif" else "blocks",
                              max_missing_reward=cfg.max_missing_reward, on_missing_reward=cfg.on_missing_reward)
    callback = EvaCallback(pool, adapter, creator, cfg, evolve_every=evolve_every, run_dir=run_dir,
                           progress=False)
    if resume is not None:
        adapter.load_state_dict(state["adapter"])
        callback.load_state_dict(state["callback"])
    ckpt_kw: dict[str, Any] = dict(save_strategy="steps", save_steps=checkpoint_every, save_total_limit=2,
                                   ignore_data_skip=True) if checkpoint_every else {}
    args = make_trainer_args(trainer, run_dir / "_trainer", steps=steps, num_generations=g,
                             prompts_per_step=prompts_per_step, max_completion_length=max_completion_length,
                             learning_rate=cfg.learning_rate, temperature=cfg.temperature, top_p=cfg.top_p,
                             seed=cfg.seed, kl_beta=kl_beta, progress=progress, **{**ckpt_kw, **(trainer_kwargs or {})})
    trainer_cls = _trainer_class(trainer)
    if resume is None:
        store.log_event("online_start", trainer=trainer, steps=steps, evolve_every=evolve_every,
                        prompts_per_step=prompts_per_step, num_generations=g, n_seeds=len(seeds))
    else:
        store.log_event("online_resume", checkpoint=str(resume), step=int(state["step"]), pool_size=len(pool),
                        n_events=len(callback.events))
        if progress:
            print(f"[evalab] online eva resumes from {resume.name} (step {state['step']} of {steps}, "
                  f"{len(callback.events)} events, pool {len(pool)})", flush=True)
    reward_funcs: list[Any] = [adapter]
    ds_kw: dict[str, Any] = {}
    if cfg.dynamic_sampling:
        ds_kw = dict(dynamic_sampling=True, max_resample=cfg.max_resample, dynamic_sampling_seed=cfg.seed)
        if cfg.informativeness_reward:  # the spread is measured on that component, which must not move the loss
            reward_funcs.append(TrlComponentReward(adapter, cfg.informativeness_reward))
            args.reward_weights = [1.0, 0.0]
            ds_kw["dynamic_sampling_reward"] = reward_funcs[-1].__name__
    from .training import _install_cpu_compaction

    _install_cpu_compaction()  # the prompt positions carry no label: not projected on CPU either
    t = trainer_cls(model=model, args=args, reward_funcs=reward_funcs, train_dataset=pool.as_dataset(),
                    processing_class=tokenizer, callbacks=[callback], eva_pool=pool,
                    eva_start_epoch=int(state["sampler_epoch"]) if resume is not None else 0, **ds_kw)
    if resume is not None and int(state["step"]) >= steps:  # finished before: reload, train nothing
        # (Trainer.train would run one more step first: it checks max_steps only after a step, and the
        # grown pool changes the epoch length it would otherwise stop on)
        from transformers import TrainerState

        t._load_from_checkpoint(str(resume))
        t.state = TrainerState.load_from_json(str(resume / "trainer_state.json"))
        train_runtime = _finished_runtime(run_dir)  # what the run measured when it trained (NaN if unknown)
    else:
        out = t.train(resume_from_checkpoint=str(resume) if resume is not None else None)
        train_runtime = float(out.metrics.get("train_runtime", float("nan")))
    log_history = pd.DataFrame(t.state.log_history)
    atomic_write_parquet(run_dir / "train_log.parquet", log_history)
    callback.write()
    result: dict[str, Any] = {
        "run_dir": run_dir, "events": callback.events_frame(), "pool": pool.to_frame(),
        "groups": adapter.groups_frame(), "variants": callback.variants_frame(), "log_history": log_history,
        "train_runtime": train_runtime, "trainer": t,
        "resumed_from": resume,
    }
    if save_model:
        model_dir = run_dir / "model"
        t.save_model(str(model_dir))
        tokenizer.save_pretrained(str(model_dir))
        result["model_dir"] = model_dir
    summary = {"trainer": trainer, "steps": steps, "evolve_every": evolve_every, "num_generations": g,
               "prompts_per_step": prompts_per_step, "train_runtime": result["train_runtime"],
               "n_events": len(callback.events), "pool_size": len(pool), "pool_evolved": pool.n_evolved,
               "groups_scored": len(adapter.groups), "missing_reward_skipped": adapter.n_skipped,
               "kl_beta": kl_beta, "resumed_from": str(resume) if resume is not None else None,
               "evolved_groups_scored": int(result["groups"]["evolved"].sum()) if len(adapter.groups) else 0}
    if cfg.dynamic_sampling:
        ds = pd.DataFrame(t.dynamic_sampling_log)
        atomic_write_parquet(run_dir / "dynamic_sampling.parquet", ds)
        result["dynamic_sampling"] = ds
        summary["dynamic_sampling"] = {k: float(ds[k].sum()) if len(ds) else 0.0
                                       for k in ("groups_dropped", "resample_rounds", "extra_completions",
                                                 "groups_padded")}
    if callback.predictor is not None:
        result["prediction"] = callback.predictor.frame()
        summary["prediction"] = callback.predictor.summary()
    atomic_write_text(run_dir / "online_summary.json", json.dumps(summary, indent=2, sort_keys=True))
    store.log_event("online_end", **summary)
    return result


def _finished_runtime(run_dir: Path) -> float:
    """The training time a finished online run measured: its ``online_summary.json``, else the first
    ``online_end`` event of its log that has one (a rerun that only reloads the run must not lose it)."""
    summ = run_dir / "online_summary.json"
    if summ.exists():
        v = json.loads(summ.read_text()).get("train_runtime")
        if isinstance(v, (int, float)) and math.isfinite(v):
            return float(v)
    ev = RunStore(run_dir).events() if (run_dir / "config.json").exists() else pd.DataFrame()
    if len(ev) and "train_runtime" in ev:
        vals = pd.to_numeric(ev.loc[ev["event"] == "online_end", "train_runtime"], errors="coerce").dropna()
        if len(vals):
            return float(vals.iloc[0])
    return float("nan")


def online_run_finished(run_dir: str | Path) -> bool:
    """Has this online run finished and kept its final policy (``online_summary.json`` and ``model/``)?"""
    run_dir = Path(run_dir)
    return (run_dir / "online_summary.json").exists() and (run_dir / "model" / "config.json").exists()


def prune_online_run(run_dir: str | Path, *, dry_run: bool = False) -> dict[str, Any] | None:
    """Delete the trainer checkpoints (``_trainer/checkpoint-*``: weights, optimizer, scheduler, RNG) of a finished
    online run that kept its final policy, leaving ``_trainer/PRUNED`` so a later call on the run refuses to resume
    it (there is nothing to resume from) instead of training it again. A run that is unfinished, or kept no
    ``model/``, is left alone (None). Returns {path, files, bytes} of what was (or, ``dry_run``, would be) freed."""
    run_dir = Path(run_dir)
    work = run_dir / "_trainer"
    if not online_run_finished(run_dir) or not work.is_dir():
        return None
    ckpts = sorted(d for d in work.glob("checkpoint-*") if d.is_dir())
    files = [f for d in ckpts for f in d.rglob("*") if f.is_file()]
    rec = {"path": str(run_dir), "files": len(files), "bytes": sum(f.stat().st_size for f in files)}
    if not dry_run and (ckpts or not (work / PRUNED).exists()):
        atomic_write_text(work / PRUNED, json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **rec}))
        for d in ckpts:
            shutil.rmtree(d)
    return rec


def _seeds_fingerprint(seeds: Sequence[Prompt]) -> str:
    import hashlib

    return hashlib.sha256("\x00".join(f"{p.id}\x01{p.text}" for p in seeds).encode()).hexdigest()[:16]


def _online_resume_point(run_dir: Path, settings: Mapping[str, Any]) -> Path | None:
    """The latest trainer checkpoint of ``run_dir`` that has its eva state, or None to start fresh.
    A run directory written with other settings raises (resuming must not mix two runs)."""
    run_file = run_dir / RUN_FILE
    if run_file.exists():
        old = json.loads(run_file.read_text())
        diff = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
        if diff:
            what = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
            raise ValueError(f"run_dir={str(run_dir)!r} holds an online run with other settings ({what}); "
                             "use another run_dir, or delete this one to start over")
    if (run_dir / "_trainer" / PRUNED).exists():
        raise ValueError(f"run_dir={str(run_dir)!r} holds a finished online run whose trainer checkpoints were "
                         f"pruned (_trainer/{PRUNED}; its final policy is model/): it cannot be resumed or rerun; "
                         "use another run_dir to train again")
    if not settings.get("checkpoint_every"):
        return None
    from .training import last_checkpoint

    return last_checkpoint(run_dir / "_trainer", require=("trainer_state.json", EVA_STATE_FILE))
