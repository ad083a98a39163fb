"""Run digests: everything a grid's results file is computed from, for one finished (arm, seed), in a few tens of KB.

A reproduction grid (``python -m evalab reproduce``) takes hours of 2-core time per arm, and its run stores hold
checkpoints (~0.5 GB a run even pruned) that never go into git. When the machine that ran them is gone (a fresh
session, a GPU node handed back), so is every number. A digest keeps what the aggregation needs and nothing else:

- the per-prompt held-out scores of every evaluated iteration (``full`` and ``frac``; the paired bootstrap CIs
  need the prompts, not only the means);
- the per-prompt cells of every other curve quantity (``reproduction.QUANTITIES``) per iteration;
- the per-seed row of every iteration (``reproduction.per_seed_rows``: costs, pair budget, acceptance);
- the pass rates of each iteration's training set (``reproduction.pass_rate_distribution``);
- where the creator's children landed: each evolved prompt's root pass rate and next outcome
  (``reproduction.offspring_records``; digests written before stop 38 lack them);
- the config, the provenance manifest, the stage seconds and where the final checkpoint was.

``reproduction_results`` and every aggregate it calls take a ``RunDigest`` wherever they take a ``RunStore``, and
give the same numbers (``tests/test_digest.py`` checks every table of a results file, to the last digit). ``reproduce --digests DIR`` writes one
digest per finished run (``DIR/<arm>/seed<k>.json``) and counts a run whose digest matches its config as done, so a
grid can be finished across machines and the results file rebuilt from the digests alone:

    python -m evalab reproduce --config configs/curricula.yaml     # digests: data/digests/reproduction (in the yaml)

    from evalab.digest import load_digests
    from evalab.reproduction import reproduction_results
    results = reproduction_results(load_digests("data/digests/reproduction", arms=["eva", "static"]))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import LEGACY_DEFAULTS, EvaConfig
from .store import RunStore, atomic_write_text, json_default, json_records

DIGEST_VERSION = 1
# Fields a digest may differ in from the run a grid asks for: where the run lived says nothing about what it computed.
DIGEST_FREE_FIELDS = ("run_dir",)


def _floats(values: Any) -> list[float | None]:
    """Cells as JSON numbers, unrounded (JSON round-trips a float exactly: the aggregates come out the same)."""
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def _array(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


class RunDigest:
    """One finished run's results, read back from a digest (``digest_of`` makes one from a run store). It answers
    what the reproduction's aggregates ask a ``RunStore``: ``config``, ``root``, ``iterations()``, ``eval_cells``,
    ``cells``, ``rows``, ``pass_rates``, ``stage_seconds``, ``checkpoint``, ``manifest``."""

    def __init__(self, data: Mapping[str, Any], source: str | Path | None = None):
        where = f"digest {source}" if source is not None else "digest"
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("version") != DIGEST_VERSION:
            raise ValueError(f"{where}: version {data.get('version')!r}, this evalab reads version {DIGEST_VERSION}")
        missing = [k for k in ("arm", "config", "iterations", "eval", "cells", "rows", "pass_rates") if k not in data]
        if missing:
            raise ValueError(f"{where}: missing field(s) {missing}")
        try:
            self.config = EvaConfig.from_dict({**LEGACY_DEFAULTS, **data["config"]})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: config: {e}") from e
        self.arm = str(data["arm"])
        self.source = None if source is None else str(source)
        self.root = Path(self.config.run_dir)
        self.data = dict(data)

    # --- what the aggregates read ----------------------------------------------------------------------
    def iterations(self) -> list[int]:
        """Iterations the run holds a prompt set for (``RunStore.iterations``)."""
        return [int(t) for t in self.data["iterations"]]

    def eval_cells(self, metric: str = "full") -> pd.DataFrame:
        """``ablation.eval_cells``: iteration, prompt_id, score of every evaluated iteration."""
        if metric not in ("full", "frac"):
            raise ValueError(f"metric={metric!r}: choose 'full' (all constraints met) or 'frac' (fraction met)")
        rows = [{"iteration": int(t), "prompt_id": i, "score": s}
                for t, e in sorted(self.data["eval"].items(), key=lambda kv: int(kv[0]))
                for i, s in zip(e["prompt_id"], _array(e[metric]))]
        return pd.DataFrame(rows, columns=["iteration", "prompt_id", "score"])

    def cells(self, t: int, quantity: str) -> np.ndarray:
        """``reproduction.prompt_cells`` of a quantity other than the held-out scores (empty where absent)."""
        if quantity in ("heldout_full", "heldout_frac"):
            c = self.eval_cells("full" if quantity == "heldout_full" else "frac")
            return c.loc[c.iteration == t, "score"].to_numpy(float)
        by_t = self.data["cells"].get(quantity)
        if by_t is None:
            raise ValueError(f"digest {self.source or ''}: no cells of {quantity!r}")
        return _array(by_t.get(str(int(t)), []))

    def rows(self) -> list[dict[str, Any]]:
        """The run's ``per_seed_rows`` (None → NaN), arm as stored."""
        return [{k: (np.nan if v is None else v) for k, v in r.items()} for r in self.data["rows"]]

    def pass_rates(self) -> dict[int, np.ndarray]:
        """{iteration: pass rates of the training set's scored prompts}."""
        return {int(t): _array(v) for t, v in self.data["pass_rates"].items()}

    def offspring(self) -> pd.DataFrame:
        """``reproduction.offspring_records`` of the run (a digest written before they were kept has none: rebuild
        it from its run store with ``digest_of``)."""
        from .reproduction import OFFSPRING_COLUMNS

        if "offspring" not in self.data:
            raise ValueError(f"digest {self.source or ''}: no offspring records (written before digests kept them); "
                             "rebuild it from its run store with evalab.digest.digest_of")
        return pd.DataFrame(self.data["offspring"], columns=list(OFFSPRING_COLUMNS))

    @property
    def stage_seconds(self) -> float:
        """Seconds the run's stages took; NaN for a digest cut by ``upto`` (the prefix's seconds were not kept)."""
        s = self.data.get("stage_seconds")
        return float("nan") if s is None and "cut_from" in self.data else float(s or 0.0)

    @property
    def checkpoint(self) -> str | None:
        return self.data.get("checkpoint")

    @property
    def manifest(self) -> dict[str, Any] | None:
        return self.data.get("manifest")

    def _differing(self, expected: EvaConfig) -> dict[str, tuple[Any, Any]]:
        mine, want = self.config.to_dict(), expected.to_dict()
        return {k: (mine.get(k), want[k]) for k in want if k not in DIGEST_FREE_FIELDS and mine.get(k) != want[k]}

    def config_differences(self, expected: EvaConfig) -> list[str]:
        """Fields (``DIGEST_FREE_FIELDS`` aside) in which this digest's run differs from ``expected``."""
        return [f"{k}={a!r} (grid: {b!r})" for k, (a, b) in self._differing(expected).items()]

    def shorter_than(self, expected: EvaConfig) -> bool:
        """The digest's run is ``expected``'s grid run stopped earlier: ``iterations`` is the only difference, and
        fewer (a grid extended past it: the run resumes and its digest is rewritten when it finishes)."""
        diff = self._differing(expected)
        return list(diff) == ["iterations"] and self.config.iterations < expected.iterations

    def longer_than(self, expected: EvaConfig) -> bool:
        """The digest's run is ``expected``'s grid run continued further: ``iterations`` is the only difference, and
        more. Its first ``expected.iterations`` iterations are what the shorter run computes (a run resumes from its
        last checkpoint when a grid extends it; nothing of an earlier iteration changes), so ``upto`` stands for it."""
        diff = self._differing(expected)
        return list(diff) == ["iterations"] and self.config.iterations > expected.iterations

    def upto(self, iterations: int) -> RunDigest:
        """This run as it stood after ``iterations`` iterations: the held-out scores, curve cells and per-seed rows of
        t <= last, the training pass rates of t < last, ``config.iterations`` = ``iterations`` (last = ``iterations``,
        plus one with a warm-start round, which is iteration 0), the offspring records of t < last - 1.
        Not kept (unknown for the prefix): ``stage_seconds`` (None; the full run's is ``cut_from["stage_seconds"]``)
        and ``checkpoint`` (None: that iteration's checkpoint was pruned). ``cut_from`` records what it was cut from."""
        from .loop import round_of
        from .reproduction import PROMPT_SET_QUANTITIES

        have = int(self.config.iterations)
        if not 1 <= int(iterations) <= have:
            raise ValueError(f"upto({iterations!r}): the run has {have} iterations; choose 1..{have}")
        d = self.data
        config = EvaConfig.from_dict({**LEGACY_DEFAULTS, **d["config"], "iterations": int(iterations)})
        k = config.iterations + int(config.warmup_round)  # the last (eval-only) stage index of the shorter run
        kept = ("arm", "seed", "iteration", "heldout_full", "heldout_frac", *PROMPT_SET_QUANTITIES)

        def row(r: Mapping[str, Any]) -> dict[str, Any]:  # t = k is eval only in the shorter run: no step 1 there
            t = int(r["iteration"])
            out = {c: (v if t < k or c in kept else None) for c, v in r.items()}
            return {**out, "round": round_of(config, t)}

        cut = {
            **d,
            "config": {**d["config"], "iterations": config.iterations},
            "iterations": [t for t in d["iterations"] if int(t) <= k],
            "eval": {t: v for t, v in d["eval"].items() if int(t) <= k},
            "cells": {q: {t: (v if int(t) < k or q in PROMPT_SET_QUANTITIES else []) for t, v in by_t.items()
                          if int(t) <= k} for q, by_t in d["cells"].items()},
            "rows": [row(r) for r in d["rows"] if int(r["iteration"]) <= k],
            "pass_rates": {t: v for t, v in d["pass_rates"].items() if int(t) < k},
            # a record of iteration t holds the outcome at t + 1: kept where t + 1 < k (stage k has no step 1)
            **({"offspring": [r for r in d["offspring"] if int(r["iteration"]) < k - 1]} if "offspring" in d else {}),
            "stage_seconds": None,
            "checkpoint": None,
            "cut_from": {"iterations": have, "stage_seconds": d.get("stage_seconds"), "source": self.source},
        }
        return RunDigest(cut, source=self.source)

    def write(self, path: str | Path) -> Path:
        """Write atomically (``DIR/<arm>/seed<k>.json`` by ``digest_path``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.data, indent=None, separators=(",", ":"), default=json_default,
                                           allow_nan=False) + "\n")
        return path


def digest_of(store: RunStore, arm: str) -> RunDigest:
    """The digest of one run store (any stage reached; a grid writes it when the run is finished)."""
    from .ablation import eval_cells
    from .provenance import read_manifest
    from .reproduction import QUANTITIES, _training_pass_rates, compute_seconds, final_checkpoints, offspring_records, \
        per_seed_rows, prompt_cells

    its = store.iterations()
    ev: dict[str, dict[str, list[Any]]] = {}
    full, frac = eval_cells(store, "full"), eval_cells(store, "frac")
    for t in sorted({int(t) for t in full.iteration}):
        a = full[full.iteration == t].set_index("prompt_id").score
        b = frac[frac.iteration == t].set_index("prompt_id").score.reindex(a.index)
        ev[str(t)] = {"prompt_id": [str(i) for i in a.index], "full": _floats(a), "frac": _floats(b)}
    cells = {q: {str(t): _floats(prompt_cells(store, t, q)) for t in its}
             for q in QUANTITIES if q not in ("heldout_full", "heldout_frac")}
    rows = json_records(per_seed_rows({arm: [store]}))
    data = {
        "version": DIGEST_VERSION,
        "arm": arm,
        "config": store.config.to_dict(),
        "iterations": [int(t) for t in its],
        "eval": ev,
        "cells": cells,
        "rows": rows,
        "pass_rates": {str(t): _floats(r) for t, r in _training_pass_rates(store).items()},
        "offspring": json_records(offspring_records(store)),
        "stage_seconds": round(compute_seconds(store), 1),
        "checkpoint": final_checkpoints({arm: [store]})[arm][str(store.config.seed)],
        "manifest": read_manifest(store.root),
    }
    return RunDigest(json.loads(json.dumps(data, default=json_default)))


def digest_path(directory: str | Path, arm: str, seed: int) -> Path:
    """``DIR/<arm>/seed<k>.json``: arm names (``metric=var``, ``creator=r_zero``, ``eva+frontier``) are kept."""
    return Path(directory) / arm / f"seed{int(seed)}.json"


def load_digest(path: str | Path) -> RunDigest:
    """A digest file (ValueError naming the file when it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"digest {path}: no such file")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"digest {path}: not valid JSON: {e}") from e
    return RunDigest(data, source=path)


def load_digests(directory: str | Path, arms: Sequence[str] | None = None) -> dict[str, list[RunDigest]]:
    """{arm: [digest per seed, ascending]} of ``DIR/<arm>/seed<k>.json`` (``arms``: these, in this order)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"digests: {directory} is not a directory")
    names = list(arms) if arms is not None else sorted(d.name for d in directory.iterdir() if d.is_dir())
    out: dict[str, list[RunDigest]] = {}
    for arm in names:
        files = sorted((directory / arm).glob("seed*.json"), key=lambda p: int(p.stem[4:]) if p.stem[4:].isdigit()
                       else -1)
        digests = [load_digest(p) for p in files if p.stem[4:].isdigit()]
        if digests:
            out[arm] = digests
    return out
