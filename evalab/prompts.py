"""The prompt record that flows through every stage, with its lineage.

    from evalab.prompts import load_prompts, prompts_to_frame
    X0 = load_prompts("data/seed_constraint_prompts.jsonl", limit=8)
    X0[0].text, X0[0].constraints          # what the solver sees / what the reward checks

A prompt is the text shown to the solver (``text``) plus, for the verifiable task, the structured
constraints the reward checks (``constraints``: a list of ``{"kind": ..., **params}`` dicts, see
``evalab.constraints``). ``task`` is the text without the rendered constraints, so the creator can
rewrite the task while constraints stay machine-checkable. Lineage: ``parent_id`` (None for seeds),
``iteration`` (when the prompt was created) and ``operator`` (seed, buffer, or the evolution operator).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMPT_COLUMNS = ("id", "text", "task", "constraints", "domain", "parent_id", "iteration", "operator")


@dataclass
class Prompt:
    id: str
    text: str
    task: str = ""
    constraints: list[dict[str, Any]] = field(default_factory=list)
    domain: str = ""
    parent_id: str | None = None
    iteration: int = 0
    operator: str = "seed"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"prompt id must be a non-empty string; got {self.id!r}")
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"prompt {self.id!r}: text is empty")
        if not self.task:
            self.task = self.text
        if not isinstance(self.constraints, list) or not all(isinstance(c, dict) and "kind" in c
                                                             for c in self.constraints):
            raise ValueError(f"prompt {self.id!r}: constraints must be a list of dicts with a 'kind'")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Prompt":
        d = dict(d)
        if isinstance(d.get("constraints"), str):
            d["constraints"] = json.loads(d["constraints"])
        if d.get("parent_id") is not None and not isinstance(d["parent_id"], str):
            d["parent_id"] = None if pd.isna(d["parent_id"]) else str(d["parent_id"])
        known = {k: d[k] for k in PROMPT_COLUMNS if k in d}
        if "iteration" in known:
            known["iteration"] = int(known["iteration"])
        return cls(**known)


def child_id(parent_id: str, iteration: int, operator: str, k: int, text: str) -> str:
    """Deterministic id of an evolved prompt: readable prefix + short content hash."""
    h = hashlib.sha1(f"{parent_id}|{iteration}|{operator}|{k}|{text}".encode()).hexdigest()[:8]
    return f"t{iteration}-{h}"


def load_prompts(path: str | Path, limit: int = 0) -> list[Prompt]:
    """Read a jsonl prompt set (one Prompt dict per line). ``limit`` > 0 keeps the first ``limit``."""
    p = resolve_path(path)
    if not p.exists():
        raise FileNotFoundError(f"prompt set not found: {p} (build it with `python -m evalab.data`)")
    out: list[Prompt] = []
    with p.open() as fh:
        for ln, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(Prompt.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                raise ValueError(f"{p}:{ln}: bad prompt record: {e}") from e
            if limit and len(out) >= limit:
                break
    if not out:
        raise ValueError(f"prompt set {p} is empty")
    ids = [x.id for x in out]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"prompt set {p}: duplicate id {dup!r}")
    return out


def resolve_path(path: str | Path) -> Path:
    """A relative path that does not exist from the working directory is looked up from the repo root,
    so notebooks (run from notebooks/) and scripts find ``data/...`` alike."""
    p = Path(path).expanduser()
    if not p.is_absolute() and not p.exists() and (REPO_ROOT / p).exists():
        return REPO_ROOT / p
    return p


def save_prompts(prompts: Iterable[Prompt], path: str | Path) -> None:
    from .store import atomic_write_text

    atomic_write_text(Path(path), "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in prompts))


def prompts_to_frame(prompts: Sequence[Prompt]) -> pd.DataFrame:
    rows = []
    for p in prompts:
        d = p.to_dict()
        d["constraints"] = json.dumps(d["constraints"], sort_keys=True)
        rows.append(d)
    return pd.DataFrame(rows, columns=list(PROMPT_COLUMNS))


def frame_to_prompts(df: pd.DataFrame) -> list[Prompt]:
    return [Prompt.from_dict(r) for r in df.to_dict(orient="records")]
