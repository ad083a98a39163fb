"""The run store: one directory per run, one file per finished stage, atomic writes, resume.

    from evalab.store import RunStore
    store = RunStore("runs/demo", config)      # creates the dir, or checks the config of an existing one
    store.has(0, "weights")                     # is stage 'weights' of iteration 0 finished?
    store.read_table(0, "responses")            # a pandas DataFrame

Layout (every table is parquet, readable with pandas or ``datasets.Dataset.from_parquet``):

    run_dir/
      config.json               the EvaConfig the run was created with (``iterations`` grows when the run
                                is extended: ``RunStore.record_extension``)
      manifest.json             provenance: package versions, git commit + dirty flag, Python, CPU/GPU,
                                hash of the effective config (evalab/provenance.py)
      events.jsonl              append-only log: stage start/end, timings, retries, warnings
      .writer.lock              held (flock) by the one process writing the run; names its pid, host, start
      iter_000/
        prompts.parquet         X_t with lineage (id, parent_id, iteration, operator, text, constraints)
        eval.json               held-out score of the solver entering iteration t
        responses.parquet       N responses per prompt of X_t and their rewards (+ n_tokens, reward components)
        weights.parquet         informativeness weight per prompt (+ reward mean/max/min, pass_rate, outcome,
                                reward_ema when EvaConfig.ema > 0; see evalab.breakdown)
        selected.parquet        the informative subset (prompt id, weight, rank)
        evolved.parquet         every creator variant, accepted or not, with the reject reason
        next_prompts.parquet    X_{t+1} (also written as iter_{t+1}/prompts.parquet)
        train_responses.parquet N responses per prompt of X_{t+1} by the solver of iteration t
        pairs.parquet           best-vs-worst preference pairs
        checkpoint/             the trained solver (= the solver entering iteration t+1); ``prune_checkpoints``
                                empties all but the last one (its DONE stays, a PRUNED marker says when)
        train_log.parquet       trainer log history (loss, rewards/margins, lr per step)
        prediction.parquet      sampling="thompson" / skip="greso": the state entering t (Beta posterior, zero-
                                variance run per prompt, p_e) and which prompts of X_t step 1 generated for
                                (evalab.curricula)

A stage is finished iff its file exists: files appear only through ``os.replace`` of a complete
temporary file (directories: rename of a complete temporary directory), so a crash at any moment
leaves either the old state or the new one, never half a file. Re-running a finished stage is skipped.

One writer per run directory: opening a store for writing (``RunStore(run_dir, config)``) takes an exclusive lock
on ``.writer.lock`` for as long as any store object of this process has the run open; a second process gets
``RunLocked`` naming the holder, before it touches anything (its clean-up of stale temporaries would otherwise
delete the first writer's files in progress). Reading (``RunStore(run_dir)``) takes no lock.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .config import IDENTITY_FIELDS, LEGACY_DEFAULTS, EvaConfig

STAGES = ("prompts", "eval", "responses", "weights", "selected", "evolved", "next_prompts",
          "train_responses", "pairs", "checkpoint", "train_log", "prediction",
          "creator_training", "creator_checkpoint")  # the last two: creator_training="grpo" (creator_training.py)
_JSON_STAGES = {"eval"}
_DIR_STAGES = {"checkpoint", "creator_checkpoint"}
PRUNED = "PRUNED"  # marker in a finished checkpoint directory whose weights prune_checkpoints removed


FILE_MODE = 0o644  # mkstemp creates 0600 files; run artifacts are meant to be shared and read


class StoreWriteError(OSError):
    """A stage file could not be written (disk full, quota, permissions). The store is unchanged: the file's old
    state (usually: absent, the stage unfinished) is kept and a re-run resumes from there. ``str()`` is one line."""

    def __str__(self) -> str:
        return str(self.strerror)


def _write_failed(path: Path, err: OSError) -> StoreWriteError:
    why = f"[Errno {err.errno}] {os.strerror(err.errno)}" if err.errno else str(err).splitlines()[0]
    return StoreWriteError(err.errno, f"could not write {path}: {why}; the run store is unchanged and readable "
                                      "(that stage is not finished): fix the cause and re-run to resume")


def _atomic_replace(path: Path, write: Callable[[str], None]) -> None:
    """Write through ``write(tmp_path)`` into a temporary file beside ``path``, fsync, then rename it
    over ``path``: readers see the old file or the new one, never a partial one. An OSError (ENOSPC, EDQUOT,
    EACCES, ...) becomes a :class:`StoreWriteError` after the partial temporary is removed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _write_failed(path, e) from e
    os.fchmod(fd, FILE_MODE)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, StoreWriteError):
            raise _write_failed(path, e) from e
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_replace(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_parquet(path: Path, df: pd.DataFrame) -> None:
    _atomic_replace(path, lambda tmp: df.to_parquet(tmp, index=False))


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it is renamed to ``path`` (replacing nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o755)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class ConfigMismatch(ValueError):
    """The run directory was created with a config that computes something else."""


def check_config(run_dir: str | Path, config: EvaConfig) -> None:
    """Raise ConfigMismatch, naming each field, when the run directory's config.json differs from ``config`` in an
    identity field. Read-only (nothing in the run is touched), so it can check a run another process is writing."""
    root = Path(run_dir)
    # a field newer than the run directory did not exist when it ran: LEGACY_DEFAULTS says what it computed
    # instead (e.g. no warmup), any other new field has its (off) default
    defaults = {k: v for k, v in EvaConfig().to_dict().items() if k in IDENTITY_FIELDS}
    old = {**defaults, **LEGACY_DEFAULTS, **json.loads((root / "config.json").read_text())}
    diff = {k: (old.get(k), getattr(config, k)) for k in IDENTITY_FIELDS if old.get(k) != getattr(config, k)}
    if diff:
        lines = ", ".join(f"{k}: run has {a!r}, config asks {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ConfigMismatch(f"run directory {root} was created with a different config ({lines}); "
                             "use a new run_dir or the original settings")


WRITER_LOCK = ".writer.lock"


class RunLocked(RuntimeError):
    """Another process is writing this run directory (the message names it and its pid)."""


# resolved run dir -> [open lock file, number of writer stores of this process holding it]
_HELD: dict[str, list[Any]] = {}
_HELD_GUARD = threading.Lock()


def _lock_writer(root: Path) -> str:
    """Take (or share, within this process) the run directory's writer lock; RunLocked if another process has it.
    Returns the key to release with ``_unlock_writer``. A no-op where ``fcntl`` is missing (not POSIX)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return ""
    key = str(root.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            return key
        root.mkdir(parents=True, exist_ok=True)
        f = open(root / WRITER_LOCK, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise RunLocked(f"run directory {root} is being written by {holder}; wait for it to finish (or stop "
                            "it), or use another run_dir") from None
        import socket

        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        f.flush()
        _HELD[key] = [f, 1]
        return key


def _unlock_writer(key: str) -> None:
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del _HELD[key]
            held[0].close()  # closing the file releases the flock


def writer_holder(run_dir: str | Path) -> str | None:
    """Who holds the run directory's writer lock (its pid, host and start), or None when no process does."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    p = Path(run_dir) / WRITER_LOCK
    if not p.exists():
        return None
    key = str(Path(run_dir).resolve())
    with open(p) as f:
        if key in _HELD:
            return f.read().strip()
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return f.read().strip() or "another process"
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


class RunStore:
    def __init__(self, run_dir: str | Path, config: EvaConfig | None = None, *, create: bool = True):
        self.root = Path(run_dir)
        if config is None:
            if not (self.root / "config.json").exists():
                what = "does not exist" if not self.root.exists() else "has no config.json (not a run directory, or still starting)"
                raise FileNotFoundError(f"run directory {self.root} {what}")
            self.config = EvaConfig.load(self.root / "config.json")
            return
        self.config = config
        cfg_path = self.root / "config.json"
        existed = cfg_path.exists()
        if existed:
            check_config(self.root, config)
        elif not create:
            raise FileNotFoundError(f"run directory {self.root} has no config.json")
        key = _lock_writer(self.root)  # before anything is written or cleaned up
        weakref.finalize(self, _unlock_writer, key)
        if not existed:
            atomic_write_text(cfg_path, json.dumps(config.to_dict(), indent=2, sort_keys=True))
        else:
            self.record_extension(config)
        self.remove_stale_temporaries()
        self.record_manifest(existed=existed)

    def record_extension(self, config: EvaConfig) -> int | None:
        """A run reopened with more ``iterations`` than it was created with is being extended (``iterations`` is
        not an identity field: a finished run resumes from its last checkpoint). config.json then records the new
        count, so whoever reads the run (``RunStore(run_dir)``, digests, results files) sees how far it is meant to
        go, and the events log ``iterations_extended`` with both counts. Returns the old count when extended; fewer
        iterations than recorded change nothing (the run keeps what it has)."""
        cfg_path = self.root / "config.json"
        old = json.loads(cfg_path.read_text())
        have = old.get("iterations")
        if not isinstance(have, int) or config.iterations <= have:
            return None
        atomic_write_text(cfg_path, json.dumps({**old, "iterations": config.iterations}, indent=2, sort_keys=True))
        self.log_event("iterations_extended", **{"from": have, "to": config.iterations})
        return have

    def record_manifest(self, existed: bool = False) -> dict[str, Any] | None:
        """Write ``manifest.json`` (provenance) when the run is created; a run reopened for writing under another
        environment (packages, commit, machine) keeps its first manifest and appends the new one to
        ``resumed_under``. A run that existed before manifests did (``existed`` and no manifest) gets none: what
        made it is unknown, and the environment that reopens it (e.g. a notebook reading data/demo_run) must not
        be recorded as its origin; ``compare`` reports it as made before provenance was recorded. Returns the
        manifest in force (None for such a run)."""
        from .provenance import MANIFEST, build_manifest, environment

        path = self.root / MANIFEST
        if existed and not path.exists():
            return None
        new = build_manifest(json.loads((self.root / "config.json").read_text()))
        if not path.exists():
            atomic_write_text(path, json.dumps(new, indent=2, sort_keys=True))
            return new
        old = json.loads(path.read_text())
        latest = (old.get("resumed_under") or [old])[-1]
        if environment(latest) != environment(new):
            old["resumed_under"] = list(old.get("resumed_under", [])) + [new]
            atomic_write_text(path, json.dumps(old, indent=2, sort_keys=True))
            self.log_event("environment_changed", manifest=new)
        return old

    def remove_stale_temporaries(self) -> int:
        """Delete half-written temporaries (``.<name>.*.tmp``) that a killed writer left behind. Called
        when a run is opened for writing: one writer per run directory at a time."""
        n = 0
        for p in sorted(self.root.rglob(".*.tmp"), key=lambda x: len(x.parts), reverse=True):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()
            n += 1
        if n:
            self.log_event("removed_stale_temporaries", count=n)
        return n

    # --- paths ---------------------------------------------------------------------------------------
    def iter_dir(self, t: int) -> Path:
        return self.root / f"iter_{t:03d}"

    def path(self, t: int, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages are {STAGES}")
        if stage in _DIR_STAGES:
            return self.iter_dir(t) / stage
        return self.iter_dir(t) / (f"{stage}.json" if stage in _JSON_STAGES else f"{stage}.parquet")

    def has(self, t: int, stage: str) -> bool:
        p = self.path(t, stage)
        if stage in _DIR_STAGES:
            return p.is_dir() and (p / "DONE").exists()
        return p.exists()

    def is_pruned(self, t: int, stage: str = "checkpoint") -> bool:
        """Is this finished checkpoint directory emptied by :meth:`prune_checkpoints` (the stage stays finished)?"""
        return stage in _DIR_STAGES and (self.path(t, stage) / PRUNED).exists()

    def prune_checkpoints(self, *, keep: tuple[int, ...] = (), dry_run: bool = False) -> list[dict[str, Any]]:
        """Free the disk that a finished run no longer needs: the weights of every solver (and creator) checkpoint
        but the last one. Checkpoint t is θ_{t+1}; once checkpoint t+1 exists, every stage that starts from θ_{t+1}
        has run, so resuming or extending the run needs only the last checkpoint. A pruned directory keeps its DONE
        marker (the stage stays finished: a rerun trains nothing) and gets a ``PRUNED`` marker; loading it as a
        solver raises (``EvaRun.solver_path``). Hard-linked files (a shared warm start) free their bytes only when
        the last link goes; the bytes returned count what was unlinked. ``keep``: iterations to leave whole as well
        (0 keeps a warm-start round other arms may share). Returns one record per checkpoint pruned: iteration,
        stage, path, files, bytes."""
        out: list[dict[str, Any]] = []
        for stage in sorted(_DIR_STAGES):
            for t in self.iterations_with(stage)[:-1]:
                if t in keep:
                    continue
                d = self.path(t, stage)
                files = [f for f in d.rglob("*") if f.is_file() and f.name not in ("DONE", PRUNED)]
                if not files:  # pruned before (a marker written first: a prune cut short is finished by the next)
                    continue
                n_bytes = sum(f.stat().st_size for f in files)
                out.append({"iteration": t, "stage": stage, "path": str(d), "files": len(files), "bytes": n_bytes})
                if dry_run:
                    continue
                atomic_write_text(d / PRUNED, json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                          "files": len(files), "bytes": n_bytes}))
                for f in files:
                    f.unlink()
                for sub in sorted((x for x in d.rglob("*") if x.is_dir()), key=lambda x: len(x.parts), reverse=True):
                    sub.rmdir()
                self.log_event("checkpoint_pruned", iteration=t, stage=stage, files=len(files), bytes=n_bytes)
        return out

    def iterations_with(self, stage: str) -> list[int]:
        """Iterations whose ``stage`` is finished, ascending."""
        return [int(d.name[5:]) for d in sorted(self.root.glob("iter_[0-9][0-9][0-9]")) if self.has(int(d.name[5:]),
                                                                                                     stage)]

    def iterations(self) -> list[int]:
        """Iterations that have at least a prompt set, ascending."""
        out = []
        for d in sorted(self.root.glob("iter_[0-9][0-9][0-9]")):
            if (d / "prompts.parquet").exists():
                out.append(int(d.name[5:]))
        return out

    # --- read / write --------------------------------------------------------------------------------
    def write_table(self, t: int, stage: str, df: pd.DataFrame) -> Path:
        p = self.path(t, stage)
        atomic_write_parquet(p, df)
        return p

    def read_table(self, t: int, stage: str) -> pd.DataFrame:
        p = self.path(t, stage)
        if not p.exists():
            raise FileNotFoundError(f"stage {stage!r} of iteration {t} is not finished: {p} is missing")
        return pd.read_parquet(p)

    def write_json(self, t: int, stage: str, obj: Any) -> Path:
        p = self.path(t, stage)
        atomic_write_text(p, json.dumps(obj, indent=2, sort_keys=True, default=json_default))
        return p

    def read_json(self, t: int, stage: str) -> Any:
        p = self.path(t, stage)
        if not p.exists():
            raise FileNotFoundError(f"stage {stage!r} of iteration {t} is not finished: {p} is missing")
        return json.loads(p.read_text())

    @contextmanager
    def checkpoint_writer(self, t: int) -> Iterator[Path]:
        """A temporary directory that becomes ``iter_t/checkpoint`` (with a DONE marker) on success."""
        with atomic_dir(self.path(t, "checkpoint")) as tmp:
            yield tmp
            (tmp / "DONE").write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))

    def scratch_dir(self, t: int, name: str) -> Path:
        """A persistent working directory (e.g. trainer checkpoints for mid-training resume)."""
        p = self.iter_dir(t) / f"_{name}"
        p.mkdir(parents=True, exist_ok=True)
        return p

    # --- events --------------------------------------------------------------------------------------
    def log_event(self, event: str, **data: Any) -> None:
        rec = {"time": time.time(), "event": event, **data}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with open(self.root / "events.jsonl", "a") as fh:
                fh.write(json.dumps(rec, default=json_default) + "\n")
                fh.flush()
        except OSError as e:  # a cut last line is skipped by events()
            raise _write_failed(self.root / "events.jsonl", e) from e

    def events(self) -> pd.DataFrame:
        p = self.root / "events.jsonl"
        if not p.exists():
            return pd.DataFrame(columns=["time", "event"])
        rows = []
        for line in p.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: skip it
                continue
        return pd.DataFrame(rows)


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays, and paths."""
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def json_records(df: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as plain dicts with NaN and inf as None, so ``json.dumps(..., allow_nan=False)`` writes
    valid JSON (``json_default`` handles the numpy scalars)."""
    import numpy as np

    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in df.astype(object).to_dict(orient="records")]
