"""Dynamic sampling (DAPO's filter_groups) for TRL's GRPO / RLOO: the group filter, the refill assembly, the
config fields, and one real tiny GRPO run on the embedded model in which a zero-spread group is dropped and
replaced."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch

from evalab.config import EvaConfig, profile_config
from evalab.dynamic_sampling import (
    DynamicSamplingMixin, concat_group_batches, group_spread, informative_groups, select_groups,
)

NAN = float("nan")


# --------------------------------------------------------------------------------------------------
# the group filter
# --------------------------------------------------------------------------------------------------

def test_group_spread_is_max_minus_min_per_consecutive_group_ignoring_nan():
    r = torch.tensor([1.0, 1.0, 1.0,   0.0, 1.0, 0.5,   0.2, NAN, 0.2,   NAN, 0.7, NAN])
    assert torch.allclose(group_spread(r, 3), torch.tensor([0.0, 1.0, 0.0, 0.0]))
    # a non-binary reward: "all equal" within tolerance, never ==
    keep = informative_groups(torch.tensor([0.3, 0.3 + 1e-9, 0.3, 0.31]), 2)
    assert keep.tolist() == [False, True]
    with pytest.raises(ValueError, match="num_generations=3"):
        group_spread(torch.zeros(4), 3)


def test_select_groups_takes_informative_groups_in_draw_order_then_pads_from_round_zero():
    r0 = torch.tensor([True, False, True, False])
    r1 = torch.tensor([False, True])
    picks, n_pad = select_groups([r0, r1], 4)
    assert picks == [(0, 0), (0, 2), (1, 1), (0, 1)] and n_pad == 1
    full, n_pad = select_groups([r0, torch.tensor([True, True, True])], 4)
    assert full == [(0, 0), (0, 2), (1, 0), (1, 1)] and n_pad == 0  # surplus informative groups are dropped
    with pytest.raises(ValueError, match="n_groups=4"):
        select_groups([r1], 4)


def _round(prompt_w: int, comp_w: int, groups: list[int], g: int = 2) -> dict:
    """A fake TRL output dict whose every tensor row carries its group label (rows in groups of g)."""
    b = len(groups) * g
    lab = torch.tensor([x for x in groups for _ in range(g)], dtype=torch.long)
    return {"prompt_ids": lab[:, None].repeat(1, prompt_w), "prompt_mask": torch.ones(b, prompt_w, dtype=torch.long),
            "completion_ids": lab[:, None].repeat(1, comp_w),
            "completion_mask": torch.ones(b, comp_w, dtype=torch.long),
            "old_per_token_logps": lab[:, None].float().repeat(1, comp_w), "advantages": lab.float(),
            "num_items_in_batch": torch.tensor(b * comp_w)}


def test_concat_group_batches_repads_prompts_left_completions_right_and_recounts_items():
    r0, r1 = _round(3, 2, [10, 11]), _round(2, 4, [20, 21])
    out = concat_group_batches([r0, r1], [(0, 1), (1, 0)], 2, pad_token_id=-1)
    assert out["prompt_ids"].tolist() == [[11] * 3, [11] * 3, [-1, 20, 20], [-1, 20, 20]]
    assert out["prompt_mask"].tolist() == [[1, 1, 1]] * 2 + [[0, 1, 1]] * 2
    assert out["completion_ids"].tolist() == [[11, 11, -1, -1]] * 2 + [[20] * 4] * 2
    assert out["completion_mask"].sum().item() == 2 * 2 + 2 * 4 == out["num_items_in_batch"].item()
    assert out["old_per_token_logps"][0].tolist() == [11.0, 11.0, 0.0, 0.0]
    assert out["advantages"].tolist() == [11.0, 11.0, 20.0, 20.0]
    with pytest.raises(NotImplementedError, match="num_images"):
        concat_group_batches([{**r0, "num_images": [1, 1, 1, 1]}], [(0, 0)], 2, 0)


class _FakeBase:
    """Stands in for GRPOTrainer: each call 'generates' for the given rows; the reward of a row is its
    prompt's table entry (one per completion), and the output tensors carry the prompt index."""

    def __init__(self, table: dict[int, list[float]], dataset: list[dict], num_generations: int = 2) -> None:
        self.table, self.train_dataset, self.num_generations = table, dataset, num_generations
        self.model = type("M", (), {"training": True})()
        self.reward_func_names, self.reward_weights = ["r"], torch.ones(1)
        self._metrics = {"train": defaultdict(list)}
        self.processing_class = type("T", (), {"pad_token_id": 0})()
        self.calls: list[list[int]] = []

    def _calculate_rewards(self, rows: list[dict]) -> torch.Tensor:
        seen: dict[int, int] = {}
        out = []
        for row in rows:
            k = seen.get(row["i"], 0)
            seen[row["i"]] = k + 1
            out.append(self.table[row["i"]][k % self.num_generations])
        return torch.tensor(out)[:, None]

    def _generate_and_score_completions(self, rows: list[dict]) -> dict:
        self.calls.append([row["i"] for row in rows])
        self._calculate_rewards(rows)
        lab = torch.tensor([row["i"] for row in rows])
        return {"prompt_ids": lab[:, None], "prompt_mask": torch.ones(len(rows), 1, dtype=torch.long),
                "completion_ids": lab[:, None], "completion_mask": torch.ones(len(rows), 1, dtype=torch.long),
                "advantages": lab.float()}


class _FakeDynamic(DynamicSamplingMixin, _FakeBase):
    pass


def test_mixin_drops_zero_spread_groups_refills_and_records_the_cost():
    table = {0: [1, 1], 1: [0, 1], 2: [0, 0], 3: [0, 1], 4: [1, 0]}  # prompts 0 and 2: zero spread
    ds = [{"i": i} for i in range(5)]
    tr = _FakeDynamic(table, ds, dynamic_sampling=True, max_resample=5, dynamic_sampling_seed=0)
    batch = [{"i": i} for i in (0, 0, 1, 1, 2, 2)]
    out = tr._generate_and_score_completions(batch)
    groups = out["prompt_ids"].view(-1, 2)[:, 0].tolist()
    assert len(groups) == 3 and groups[0] == 1 and all(table[i][0] != table[i][1] for i in groups)
    rec = tr.dynamic_sampling_log[-1]
    assert rec["resample_rounds"] >= 1 and rec["groups_padded"] == 0 and rec["frac_zero_spread_first"] == 2 / 3
    n_refill = sum(len(c) for c in tr.calls[1:])
    assert rec["extra_completions"] == n_refill > 0
    assert tr._metrics["train"]["dynamic/groups_dropped"] == [rec["groups_dropped"]] and rec["groups_dropped"] >= 2


def test_mixin_pads_with_zero_spread_groups_when_rounds_run_out_and_is_off_by_default():
    table = {0: [1, 1], 1: [0, 1]}
    ds = [{"i": 0}]  # every refill draws the flat prompt again
    tr = _FakeDynamic(table, ds, dynamic_sampling=True, max_resample=2)
    out = tr._generate_and_score_completions([{"i": 0}, {"i": 0}, {"i": 1}, {"i": 1}])
    assert out["prompt_ids"].flatten().tolist() == [1, 1, 0, 0]  # the informative group first, then padding
    assert tr.dynamic_sampling_log[-1] == {"groups_dropped": 3.0, "resample_rounds": 2.0, "extra_completions": 4.0,
                                           "groups_padded": 1.0, "frac_zero_spread_first": 0.5}
    plain = _FakeDynamic(table, ds)
    plain._generate_and_score_completions([{"i": 0}, {"i": 0}])
    assert len(plain.calls) == 1 and plain.dynamic_sampling_log == []
    with pytest.raises(ValueError, match="max_resample=-1"):
        _FakeDynamic(table, ds, max_resample=-1)
    with pytest.raises(ValueError, match="dynamic_sampling_reward='x'"):
        _FakeDynamic(table, ds, dynamic_sampling_reward="x")


def test_config_fields_are_validated_naming_the_field():
    assert EvaConfig().dynamic_sampling is False and EvaConfig().max_resample == 3
    with pytest.raises(ValueError, match="max_resample"):
        EvaConfig(max_resample=-1)
    with pytest.raises(ValueError, match="dynamic_sampling"):
        EvaConfig(dynamic_sampling="yes")  # type: ignore[arg-type]


def test_online_dpo_refuses_dynamic_sampling_naming_the_field(tmp_path):
    from evalab.online import run_online_eva

    cfg = profile_config("ci", run_dir=str(tmp_path / "r"), dynamic_sampling=True)
    with pytest.raises(ValueError, match="EvaConfig.dynamic_sampling=True: trainer='oaif'"):
        run_online_eva(cfg, trainer="oaif")


# --------------------------------------------------------------------------------------------------
# one real GRPO run on the embedded model
# --------------------------------------------------------------------------------------------------

class _FlatForSomeReward:
    """Constant reward for the prompts in ``flat`` (a zero-spread group every time), a hash of the text
    otherwise (two different completions almost surely differ)."""

    name = "flat_for_some"

    def __init__(self, flat: set[str]) -> None:
        self.flat = flat

    def __call__(self, prompts, responses):
        return np.array([[0.5 if p.id in self.flat else (sum(map(ord, r or "")) % 101) / 100.0 for r in rs]
                         for p, rs in zip(prompts, responses)])


@pytest.mark.slow
def test_real_grpo_run_drops_a_zero_spread_group_and_refills_it(tmp_path):
    from evalab.creator import StructuredEvolver
    from evalab.online import run_online_eva
    from tests.test_online import seed_prompts

    seeds = seed_prompts(4)
    flat = {"s0", "s1", "s2"}  # every batch of 2 of the 4 seeds holds a zero-spread group
    cfg = profile_config("ci", run_dir=str(tmp_path / "ds"), dynamic_sampling=True, max_resample=4,
                         learning_rate=1e-5)
    out = run_online_eva(cfg, trainer="grpo", steps=2, evolve_every=2, prompts_per_step=2, num_generations=2,
                         max_completion_length=6, seeds=seeds, reward=_FlatForSomeReward(flat),
                         creator=StructuredEvolver(llm_rewrite=False, n_variants=1), progress=False,
                         torch_threads=1, checkpoint_every=0)
    ds, groups, log = out["dynamic_sampling"], out["groups"], out["log_history"]
    assert len(ds) == 2  # one record per generation batch (one per step here)
    assert ds.groups_dropped.sum() >= 1 and ds.extra_completions.sum() == 2 * (len(groups) - 4) > 0
    # the refill groups were scored by the reward adapter, and a dropped group was replaced, not padded
    assert len(groups) > 4 and (ds.groups_dropped > ds.groups_padded).any()
    for key in ("dynamic/groups_dropped", "dynamic/resample_rounds", "dynamic/extra_completions"):
        assert key in log and log[key].notna().any()
    summary = json.loads((Path(cfg.run_dir) / "online_summary.json").read_text())
    assert summary["dynamic_sampling"]["extra_completions"] == ds.extra_completions.sum()
    assert (Path(cfg.run_dir) / "dynamic_sampling.parquet").exists()
    assert not math.isnan(float(log.dropna(subset=["loss"])["loss"].iloc[-1]))


def test_component_reward_gives_trl_the_informativeness_component_per_group():
    # with a composite reward the spread is measured on EvaConfig.informativeness_reward's component: a 0-weight
    # TRL reward function that reads groups as the adapter does
    from evalab.online import EvaPromptPool, TrlComponentReward, make_trl_reward
    from evalab.rewards import make_reward
    from tests.test_online import seed_prompts

    seeds = seed_prompts(2)
    pool = EvaPromptPool(seeds)
    reward = make_reward("constraints")
    adapter = make_trl_reward(reward, pool, num_generations=2)
    comp = TrlComponentReward(adapter, "full")
    texts = ["hello", "a longer answer, with a comma.", "x", "y"]
    got = comp(prompts=["p"] * 4, completions=texts, prompt_id=["s0", "s0", "s1", "s1"])
    want = reward.components(seeds, [texts[:2], texts[2:]])["full"].flatten().tolist()
    assert got == want and comp.__name__ == f"{adapter.__name__}_full"
    with pytest.raises(ValueError, match="informativeness_reward='nope'"):
        TrlComponentReward(adapter, "nope")
