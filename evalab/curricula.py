"""Frontier curricula beyond eva (issue 15), offline pieces: predict difficulty before sampling, keep evolved
prompts at the frontier, and the rewards a creator could be trained on.

    from evalab.curricula import beta_update, thompson_choose, greso_skip, rouge_l, creator_reward
    a, b = beta_update(alpha=1.0, beta=1.0, successes=3, failures=1, discount=0.8)   # (3.8, 1.8)
    idx, draws = thompson_choose(alpha, beta, k=4, target=0.5, rng=np.random.default_rng(0))
    rouge_l("explain tides to a child", "explain the tides to a small child")        # 0.833...
    creator_reward("r_zero", rewards, pass_threshold=1.0)                             # one per prompt

**Pass.** A response passes when its reward is >= ``EvaConfig.pass_threshold`` (1.0 = every constraint
satisfied under the default constraint reward), as in ``evalab.breakdown.pass_breakdown``; a prompt's
successes / failures are counted over its scored (non-NaN) responses.

**Prediction before sampling** (step 1 of eva and no_evolve rounds; ``EvaRun`` writes the ``prediction`` stage
table with the state entering iteration t, what it predicted and which prompts of X_t were generated for):

- ``sampling="thompson"``: MoPPS (Qu et al. 2025, arXiv 2507.04632). Each prompt's pass rate p has a Beta(α, β)
  posterior, discounted so that the solver's older behaviour counts less:

      α ← λ·α + s,   β ← λ·β + f          (s, f: passing / failing responses of one observation; λ = thompson_discount)

  from the prior Beta(α₀, β₀) (``thompson_prior_alpha`` / ``_beta``). Before step 1, one Thompson draw
  p̃ ~ Beta(α, β) per prompt of X_t; the k = ceil(subset_fraction · |X_t|) prompts with the smallest |p̃ − p*|
  (p* = ``target_pass_rate``) are generated for, and they are the informative subset (step 3 takes them all,
  closest first). The other |X_t| − k prompts are not generated for: (|X_t| − k)·N rollouts saved.
  Observations: step 1's responses (the chosen prompts) and step 6's (every prompt of X_{t+1}, sampled by θ_t
  anyway), in that order. **Lineage:** a prompt never observed starts from its nearest observed ancestor's
  posterior shrunk toward the prior, α = λ·α_anc + (1 − λ)·α₀ (β likewise) — an evolved prompt is a rewrite of
  its parent, so the parent's evidence is informative but counts less; with no observed ancestor, the prior.
- ``skip="greso"``: GRESO (Zheng et al. 2025, arXiv 2506.02177). A prompt's zero-variance run z is the number of
  its latest consecutive observations whose scored rewards were all equal (no preference signal); before step 1
  each prompt is skipped with probability

      P(skip) = 1 − p_e^z                  (z = 0: never skipped)

  The exploration probability p_e starts at ``greso_explore_init`` and is steered after every step 1 toward the
  target zero-variance share ζ* (``greso_target``): ζ > ζ* → p_e ← p_e − Δ (skip more), else p_e ← p_e + Δ
  (Δ = ``greso_step``), kept in [Δ, 1]. (GRESO keeps separate p_e for all-pass and all-fail prompts; evalab keeps
  one.) If fewer than k = ceil(subset_fraction · |X_t|) prompts survive the draw, skipped prompts return (lowest
  P(skip) first) so step 3 can still select k parents; with ``sampling="thompson"`` as well, Thompson chooses
  among the survivors. Skipped prompts keep their run (they were not observed); new prompts start at z = 0.

**The frontier check** (step 6, before pairs): ``frontier_band=[low, high]`` drops evolved prompts of X_{t+1}
whose pass rate among step 6's N responses lies outside the band (R-Zero, arXiv 2508.05004: 0.3..0.8; SeRL,
arXiv 2505.20347: 0.2..0.8) — ``frontier_keep``. They stay in X_{t+1} (iteration t+1 samples them under the
new solver); they only give no pair. ``novelty_max_rougeL`` (SeRL: 0.7) rejects a creator variant whose
ROUGE-L F against X_t or an earlier accepted variant of the same stage exceeds the value (reject reason
``not_novel``) — ``rouge_l``, ``novelty_reject``.

**Creator rewards** (issue 15's creator that learns; pure functions, no training yet): ``creator_reward`` and
``repetition_penalty`` below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .breakdown import PASS_TOL

# =====================================================================================================
# Pass counts and zero variance of one observation (a (P, N) reward matrix, NaN = unscored)
# =====================================================================================================


def pass_counts(rewards: np.ndarray, threshold: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(successes, failures) per prompt: scored responses with reward >= ``threshold`` (within float noise) and
    the other scored ones."""
    r = np.asarray(rewards, dtype=float)
    if r.ndim != 2:
        raise ValueError(f"rewards must be 2-D (n_prompts, n_samples); got shape {r.shape}")
    valid = ~np.isnan(r)
    s = (np.where(valid, r, -np.inf) >= threshold - PASS_TOL).sum(axis=1)
    return s.astype(float), (valid.sum(axis=1) - s).astype(float)


def zero_variance(rewards: np.ndarray) -> np.ndarray:
    """Per prompt: its scored rewards are all equal (GRESO's zero-variance prompt: no advantage, no pair). A
    prompt with fewer than two scored responses is not an observation of variance: False."""
    r = np.asarray(rewards, dtype=float)
    valid = ~np.isnan(r)
    spread = np.where(valid, r, -np.inf).max(axis=1) - np.where(valid, r, np.inf).min(axis=1)
    return (valid.sum(axis=1) >= 2) & (spread <= PASS_TOL)


# =====================================================================================================
# MoPPS: discounted Beta posterior + Thompson draw
# =====================================================================================================


def beta_update(alpha: Any, beta: Any, successes: Any, failures: Any, discount: float) -> tuple[Any, Any]:
    """MoPPS's discounted Beta update (arXiv 2507.04632): α ← λ·α + s, β ← λ·β + f (λ = ``discount`` in (0, 1])."""
    if not 0.0 < discount <= 1.0:
        raise ValueError(f"discount={discount!r} must be in (0, 1]")
    return discount * np.asarray(alpha, float) + successes, discount * np.asarray(beta, float) + failures


def thompson_choose(alpha: np.ndarray, beta: np.ndarray, k: int, target: float, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the k prompts whose Thompson draw p̃ ~ Beta(α, β) is closest to ``target``, closest first;
    every draw). Ties in |p̃ − target| keep index order."""
    a, b = np.asarray(alpha, float), np.asarray(beta, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"alpha and beta must be 1-D of one shape; got {a.shape} and {b.shape}")
    if (a <= 0).any() or (b <= 0).any():
        raise ValueError("Beta parameters must be > 0")
    draws = rng.beta(a, b)
    order = np.argsort(np.abs(draws - target), kind="stable")
    return order[:max(0, int(k))].astype(int), draws


# =====================================================================================================
# GRESO: skip by zero-variance history, adaptive exploration probability
# =====================================================================================================


def greso_skip_probability(zero_runs: np.ndarray, p_explore: float) -> np.ndarray:
    """GRESO (arXiv 2506.02177): P(skip) = 1 − p_e^z for a prompt whose last z observations were zero-variance."""
    z = np.asarray(zero_runs, dtype=float)
    return 1.0 - np.power(float(p_explore), z)


def greso_skip(zero_runs: np.ndarray, p_explore: float, rng: np.random.Generator, keep_at_least: int = 0
               ) -> np.ndarray:
    """Boolean skip mask: each prompt skipped with ``greso_skip_probability``; if fewer than ``keep_at_least``
    prompts are kept, skipped ones return, lowest P(skip) first (ties in random order)."""
    p = greso_skip_probability(zero_runs, p_explore)
    skip = rng.random(p.size) < p
    short = int(keep_at_least) - int((~skip).sum())
    if short > 0:
        cand = np.flatnonzero(skip)
        cand = cand[rng.permutation(cand.size)]
        cand = cand[np.argsort(p[cand], kind="stable")]
        skip[cand[:short]] = False
    return skip


def greso_adapt(p_explore: float, zero_share: float, target: float, step: float) -> float:
    """GRESO's adaptive rule: p_e − Δ when the observed zero-variance share exceeds the target (skip more),
    else p_e + Δ; kept in [Δ, 1]. A NaN share (nothing observed) leaves p_e unchanged."""
    if math.isnan(zero_share):
        return float(p_explore)
    p = p_explore - step if zero_share > target else p_explore + step
    return float(min(1.0, max(step, p)))


# =====================================================================================================
# The state a run carries between iterations (one row per prompt ever observed, in the prediction table)
# =====================================================================================================


@dataclass
class PredictionState:
    """Per prompt id: Beta posterior (α, β) and zero-variance run z; the run's GRESO exploration probability."""

    alpha: dict[str, float] = field(default_factory=dict)
    beta: dict[str, float] = field(default_factory=dict)
    zero_run: dict[str, int] = field(default_factory=dict)
    p_explore: float = 1.0

    def copy(self) -> "PredictionState":
        return PredictionState(dict(self.alpha), dict(self.beta), dict(self.zero_run), self.p_explore)


def inherited_prior(pid: str, lineage: Mapping[str, str | None], state: PredictionState, cfg: Any
                    ) -> tuple[float, float, str]:
    """(α, β, source) for a prompt: its own posterior ("own"), else its nearest observed ancestor's shrunk toward
    the prior, λ·α_anc + (1 − λ)·α₀ ("parent"), else the prior ("prior")."""
    if pid in state.alpha:
        return state.alpha[pid], state.beta[pid], "own"
    lam, a0, b0 = cfg.thompson_discount, cfg.thompson_prior_alpha, cfg.thompson_prior_beta
    seen: set[str] = set()
    anc = lineage.get(pid)
    while anc is not None and anc not in state.alpha and anc not in seen:
        seen.add(anc)
        anc = lineage.get(anc)
    if anc is not None and anc in state.alpha:
        return lam * state.alpha[anc] + (1 - lam) * a0, lam * state.beta[anc] + (1 - lam) * b0, "parent"
    return a0, b0, "prior"


def observe(state: PredictionState, prompt_ids: Sequence[str], rewards: np.ndarray, cfg: Any,
            lineage: Mapping[str, str | None] | None = None) -> PredictionState:
    """The state after one observation of ``prompt_ids`` ((P, N) rewards): each posterior updated by
    ``beta_update`` from its pass counts (new prompts start from ``inherited_prior``), each zero-variance run
    extended (zero variance) or reset. A prompt with no scored response is not observed."""
    out = state.copy()
    r = np.asarray(rewards, dtype=float)
    s, f = pass_counts(r, cfg.pass_threshold)
    zv = zero_variance(r)
    for i, pid in enumerate(prompt_ids):
        if s[i] + f[i] == 0:
            continue
        a, b, _ = inherited_prior(pid, lineage or {}, out, cfg)
        out.alpha[pid], out.beta[pid] = (float(x) for x in beta_update(a, b, s[i], f[i], cfg.thompson_discount))
        out.zero_run[pid] = out.zero_run.get(pid, 0) + 1 if zv[i] else 0
    return out


def _predict(state: PredictionState, prompt_ids: Sequence[str], lineage: Mapping[str, str | None], cfg: Any,
             k: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """The prediction shared by the offline plan and the online draw: one row per candidate with its state
    (alpha, beta, prior_source, zero_run, p_explore), GRESO's p_skip / skipped (at least k survive), Thompson's
    draw / chosen_rank among the survivors (-1: not chosen); and the mask kept (survivors, or Thompson's k)."""
    n = len(prompt_ids)
    priors = [inherited_prior(p, lineage, state, cfg) for p in prompt_ids]
    df = pd.DataFrame({"prompt_id": list(prompt_ids), "alpha": [a for a, _, _ in priors],
                       "beta": [b for _, b, _ in priors], "prior_source": [s for _, _, s in priors],
                       "zero_run": [state.zero_run.get(p, 0) for p in prompt_ids]})
    df["p_explore"] = state.p_explore
    keep = np.ones(n, dtype=bool)
    df["p_skip"] = 0.0
    if cfg.skip == "greso":
        df["p_skip"] = greso_skip_probability(df.zero_run.to_numpy(), state.p_explore)
        keep = ~greso_skip(df.zero_run.to_numpy(), state.p_explore, rng, keep_at_least=k)
    df["skipped"] = ~keep
    df["draw"] = np.nan
    df["chosen_rank"] = -1
    if cfg.sampling == "thompson":
        cand = np.flatnonzero(keep)
        idx, draws = thompson_choose(df.alpha.to_numpy()[cand], df.beta.to_numpy()[cand], k, cfg.target_pass_rate,
                                     rng)
        df.loc[cand, "draw"] = draws
        df.loc[cand[idx], "chosen_rank"] = np.arange(idx.size)
        keep = df.chosen_rank.to_numpy() >= 0
    return df, keep


def plan_step1(state: PredictionState, prompt_ids: Sequence[str], lineage: Mapping[str, str | None], cfg: Any,
               seed: int) -> pd.DataFrame:
    """Which prompts of X_t step 1 generates for: one row per prompt of X_t (in order) with the state entering
    iteration t (alpha, beta, prior_source, zero_run, p_explore), GRESO's p_skip / skipped, Thompson's draw /
    chosen_rank (-1: not chosen) and ``generate``; ``rollouts_saved`` = (not generated) · N."""
    from .sampling import subset_size

    df, keep = _predict(state, prompt_ids, lineage, cfg, subset_size(len(prompt_ids), cfg.subset_fraction),
                        np.random.default_rng(seed))
    df["generate"] = keep
    df["rollouts_saved"] = np.where(keep, 0, cfg.n_responses)
    return df


def plan_draw(state: PredictionState, prompt_ids: Sequence[str], lineage: Mapping[str, str | None], cfg: Any,
              k: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Online: which k of a generation batch's candidates (``prompt_ids``, in the pool's weighted draw order) the
    trainer generates for. GRESO skips first (at least k survive); then Thompson's k closest to p* among the
    survivors, or, with GRESO alone, the first k survivors in draw order. Returns the candidates' table
    (``_predict``'s columns + ``generate``, ``rank`` (-1: declined), ``considered``: candidates up to the last
    one generated for in draw order, all of them with Thompson, which compares every survivor) and the chosen
    positions, in rank order."""
    if not 1 <= k <= len(prompt_ids):
        raise ValueError(f"plan_draw: k={k} must be in [1, {len(prompt_ids)}] (the number of candidates)")
    df, keep = _predict(state, prompt_ids, lineage, cfg, k, rng)
    if cfg.sampling == "thompson":
        chosen = np.flatnonzero(keep)
        chosen = chosen[np.argsort(df.chosen_rank.to_numpy()[chosen], kind="stable")]
        considered = np.ones(len(df), dtype=bool)
    else:
        chosen = np.flatnonzero(keep)[:k]
        considered = np.arange(len(df)) <= chosen[-1]
    rank = np.full(len(df), -1)
    rank[chosen] = np.arange(chosen.size)
    df["generate"] = rank >= 0
    df["rank"] = rank
    df["considered"] = considered
    return df, chosen


def state_from_table(table: pd.DataFrame) -> PredictionState:
    """The state entering an iteration, read back from its stored prediction table (``state_table``): the
    prompts observed before (prior_source "own") with their posterior and zero-variance run, and p_e."""
    own = table[table["prior_source"] == "own"]
    ids = own.prompt_id.astype(str)
    return PredictionState(alpha=dict(zip(ids, own.alpha.astype(float))), beta=dict(zip(ids, own.beta.astype(float))),
                           zero_run=dict(zip(ids, own.zero_run.astype(int))),
                           p_explore=float(table.p_explore.iloc[0]) if len(table) else 1.0)


def state_table(state: PredictionState, plan: pd.DataFrame) -> pd.DataFrame:
    """The prediction stage's table: ``plan`` (rows of X_t, ``in_set`` True) + one row per other prompt in the
    state (``in_set`` False, prior_source "own"), so the stage file holds the whole state entering iteration t."""
    in_plan = set(plan.prompt_id)
    rest = [p for p in sorted(state.alpha) if p not in in_plan]
    other = pd.DataFrame({"prompt_id": rest,
                          "alpha": [state.alpha[p] for p in rest], "beta": [state.beta[p] for p in rest],
                          "prior_source": ["own"] * len(rest),
                          "zero_run": [state.zero_run.get(p, 0) for p in rest]})
    other["p_explore"] = state.p_explore
    plan = plan.assign(in_set=True)
    other = other.assign(in_set=False)
    return pd.concat([plan, other], ignore_index=True) if len(other) else plan


# =====================================================================================================
# The frontier check on evolved prompts (step 6) and novelty against the pool (step 4)
# =====================================================================================================


def frontier_keep(pass_rate: np.ndarray, evolved: np.ndarray, band: Sequence[float]) -> np.ndarray:
    """Boolean keep mask for the pairs: a prompt is dropped iff it is evolved and its pass rate is outside
    ``[band[0], band[1]]`` (NaN — no scored response — is outside). Buffer prompts are always kept."""
    lo, hi = float(band[0]), float(band[1])
    pr = np.asarray(pass_rate, dtype=float)
    inside = (pr >= lo - PASS_TOL) & (pr <= hi + PASS_TOL)
    return ~np.asarray(evolved, dtype=bool) | inside


def _tokens(text: str) -> list[str]:
    from .validation import normalize_text

    return normalize_text(text).split()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel, Allison & Dix 1986 /
    Hyyrö 2004: one big-integer step per token of ``b``)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (Lin 2004) on word tokens (``validation.normalize_text``): with L = LCS length,
    P = L/|candidate|, R = L/|reference|, F = 2PR/(P + R); 0 when either text is empty or L = 0."""
    c, r = _tokens(candidate), _tokens(reference)
    lcs = lcs_length(c, r)
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(c), lcs / len(r)
    return 2 * p * rec / (p + rec)


def novelty_reject(evolved: pd.DataFrame, pool: Sequence[str], max_rouge_l: float) -> pd.DataFrame:
    """Step 4's novelty check (SeRL, arXiv 2505.20347): every accepted variant, in order, whose ROUGE-L F against
    a text of ``pool`` (X_t) or an earlier accepted variant exceeds ``max_rouge_l`` becomes rejected with reason
    ``not_novel``; column ``rouge_l_max`` holds each checked variant's highest ROUGE-L F (NaN: not checked)."""
    df = evolved.copy()
    df["rouge_l_max"] = np.nan
    if not len(df):
        return df
    ref = [_tokens(t) for t in pool]
    for i in np.flatnonzero(df["accepted"].to_numpy(dtype=bool)):
        cand = _tokens(str(df.at[df.index[i], "text"]))
        best = 0.0
        for r in ref:
            lcs = lcs_length(cand, r)
            if lcs:
                p, rec = lcs / len(cand), lcs / len(r)
                best = max(best, 2 * p * rec / (p + rec))
        df.at[df.index[i], "rouge_l_max"] = best
        if best > max_rouge_l:
            df.at[df.index[i], "accepted"] = False
            df.at[df.index[i], "reason"] = "not_novel"
        else:
            ref.append(cand)
    return df


# =====================================================================================================
# Creator rewards (issue 15's "creator that learns"; pure functions)
# =====================================================================================================

CREATOR_REWARDS = ("r_zero", "azr", "sqlm", "informativeness")


def creator_reward(name: str, rewards: np.ndarray, *, pass_threshold: float = 1.0) -> np.ndarray:
    """One reward per proposed prompt from the solver's N responses to it ((P, N) rewards, NaN = unscored;
    p̂ = pass rate over scored responses, passes counted as in ``pass_counts``):

    - ``"r_zero"`` (R-Zero, arXiv 2508.05004): 1 − 2·|p̂ − ½|, peaking at p̂ = ½;
    - ``"azr"`` (Absolute Zero, arXiv 2505.03335): 1 − p̂ when 0 < p̂ < 1, else 0;
    - ``"sqlm"`` (Self-Questioning LMs, arXiv 2508.03682): 1 when some but not all responses pass, else 0;
    - ``"informativeness"``: eva's A*_min (max − min reward), eva's own regret proxy made a reward.

    A prompt with no scored response gets 0."""
    r = np.asarray(rewards, dtype=float)
    if name not in CREATOR_REWARDS:
        raise ValueError(f"creator_reward={name!r}: choose one of {CREATOR_REWARDS}")
    if name == "informativeness":
        from .informativeness import informativeness

        return np.nan_to_num(informativeness(r, metric="a_min"), nan=0.0)
    s, f = pass_counts(r, pass_threshold)
    n = s + f
    p = np.divide(s, n, out=np.full(len(r), np.nan), where=n > 0)
    mixed = (s > 0) & (f > 0)
    if name == "r_zero":
        out = 1.0 - 2.0 * np.abs(p - 0.5)
    elif name == "azr":
        out = np.where(mixed, 1.0 - p, 0.0)
    else:
        out = mixed.astype(float)
    return np.where(n > 0, out, 0.0)


def repetition_penalty(texts: Sequence[str], threshold: float = 0.5) -> np.ndarray:
    """R-Zero's repetition penalty against the batch (arXiv 2508.05004), with ROUGE-L F in place of its BLEU
    distance: prompts i, j are linked when rouge_l(i, j) >= ``threshold``; a prompt's cluster C is its connected
    component (single linkage); penalty = |C| / B (B = batch size). A batch of distinct prompts pays 1/B each;
    k near-copies pay k/B each. The creator's reward is then max(0, reward − penalty) (``penalized_reward``)."""
    toks = [_tokens(t) for t in texts]
    b = len(toks)
    parent = list(range(b))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(b):
        for j in range(i + 1, b):
            lcs = lcs_length(toks[i], toks[j])
            if lcs and 2 * lcs / (len(toks[i]) + len(toks[j])) >= threshold:  # F1 = 2L/(|i|+|j|)
                parent[find(i)] = find(j)
    roots = [find(i) for i in range(b)]
    sizes = {r: roots.count(r) for r in set(roots)}
    return np.array([sizes[r] / b for r in roots], dtype=float) if b else np.zeros(0)


def penalized_reward(name: str, rewards: np.ndarray, texts: Sequence[str], *, pass_threshold: float = 1.0,
                     threshold: float = 0.5) -> np.ndarray:
    """max(0, creator_reward − repetition_penalty): the creator's reward for a batch of proposed prompts."""
    return np.maximum(0.0, creator_reward(name, rewards, pass_threshold=pass_threshold)
                      - repetition_penalty(texts, threshold))


# =====================================================================================================
# The run store side: the state entering iteration t, rebuilt from stored stages only (resumable)
# =====================================================================================================


def lineage_map(store: Any, t: int) -> dict[str, str | None]:
    """id -> parent id of every prompt of X_t and X_{t+1} and every creator variant of iteration t."""
    out: dict[str, str | None] = {}
    for s, stage in ((t, "prompts"), (t + 1, "prompts"), (t, "evolved")):
        if store.has(s, stage):
            df = store.read_table(s, stage)
            if "id" in df and "parent_id" in df:
                out.update((str(i), q if isinstance(q, str) else None) for i, q in zip(df["id"], df["parent_id"]))
    return out


def _observed(resp: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    from .loop import reward_matrix

    ids = [str(i) for i in dict.fromkeys(resp["prompt_id"])]
    return ids, reward_matrix(resp, ids)


def observe_iteration(state: PredictionState, store: Any, cfg: Any, t: int) -> PredictionState:
    """The state after iteration t's observations: step 1's responses (then GRESO's p_e adapts to their
    zero-variance share), then step 6's (skipped where step 6 reuses step 1's samples: static / warm-start)."""
    from .loop import round_of

    lineage = lineage_map(store, t)
    if store.has(t, "responses"):
        ids, r = _observed(store.read_table(t, "responses"))
        state = observe(state, ids, r, cfg, lineage)
        if cfg.skip == "greso":
            zv = zero_variance(r)
            state.p_explore = greso_adapt(state.p_explore, float(zv.mean()) if len(zv) else float("nan"),
                                          cfg.greso_target, cfg.greso_step)
    if round_of(cfg, t) not in ("static", "warmup") and store.has(t, "train_responses"):
        ids, r = _observed(store.read_table(t, "train_responses"))
        state = observe(state, ids, r, cfg, lineage)
    return state


def prediction_state(store: Any, cfg: Any, t: int) -> PredictionState:
    """The state entering iteration t: read from iteration t's prediction stage when stored, else iteration
    t − 1's state updated by its observations (``observe_iteration``); t = 0 starts empty, p_e at its init."""
    if store.has(t, "prediction"):
        return state_from_table(store.read_table(t, "prediction"))
    if t == 0:
        return PredictionState(p_explore=float(cfg.greso_explore_init))
    return observe_iteration(prediction_state(store, cfg, t - 1), store, cfg, t - 1)
