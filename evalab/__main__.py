"""Command line: run or inspect an eva run headlessly.

    python -m evalab run --profile ci --run-dir runs/ci --iterations 2 --set metric=a_avg --set sampling=greedy
    python -m evalab online --profile ci --run-dir runs/online --trainer grpo --steps 6 --evolve-every 2
    python -m evalab summary runs/ci
    python -m evalab compare runs/abl --baseline static --out results.json   # an ablation's arms, with CIs
    python -m evalab config --profile paper --trainer simpo   # the effective config; what the papers fix
    python -m evalab reproduce --config configs/reproduction.yaml --root runs/reproduction \
        --out data/reproduction.json        # the multi-iteration grid (evalab/reproduction.py), resumable
    python -m evalab reproduce-online --config configs/online_reproduction.yaml   # online eva vs the seed
        # stream (and + dynamic sampling), several seeds, each final policy evaluated on the held-out set
    python -m evalab prune runs/reproduction --dry-run   # the disk that finished runs no longer need

``run`` and ``online`` resume: pointing them at an existing run directory continues from the last finished
stage (online: the last checkpoint); a config that changes what the run computes is refused, naming the fields.

Bad input (an unknown or invalid config field, a missing path, a malformed prompt file, a bad parameter) is
checked before anything runs and reported as one line naming the field and the fix, exit code 2;
``--debug`` (anywhere on the line) shows the traceback instead. ``run`` shows a progress bar over the
pending stages with an ETA from the stages' own timings (the same stage of earlier iterations).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from .config import EvaConfig, profile_config


EXIT_USAGE = 2  # argparse's exit code for bad usage; every bad-input error exits with it
# keys of a `reproduce --config` yaml (command-line options win over them)
REPRODUCE_KEYS = ("profile", "root", "out", "arms", "seeds", "iterations", "set", "n_boot", "prune", "digests",
                  "reuse")
# keys of a `reproduce-online --config` yaml
ONLINE_REPRODUCE_KEYS = ("profile", "root", "out", "arms", "seeds", "trainer", "steps", "evolve_every",
                         "prompts_per_step", "max_completion_length", "checkpoint_every", "torch_threads", "set",
                         "n_boot", "prune")


class InputError(Exception):
    """Bad input from the command line (a field, a path, a file, a parameter): one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{self.prog}: {message} (see `{self.prog} --help`)")


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _parse_set(items: list[str]) -> dict[str, Any]:
    """``--set key=value`` items as typed EvaConfig overrides; InputError naming the field for anything wrong."""
    import json

    names = {f.name for f in dataclasses.fields(EvaConfig)}
    defaults = EvaConfig()
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--set {item!r}: expected KEY=VALUE, e.g. --set metric=a_avg")
        k, v = item.split("=", 1)
        k = k.strip()
        if k not in names:
            close = difflib.get_close_matches(k, sorted(names), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(f"--set {k}={v}: unknown EvaConfig field; {hint}"
                             "`python -m evalab config` lists every field")
        default = getattr(defaults, k)
        if isinstance(default, bool):
            if v.lower() not in _TRUE + _FALSE:
                raise InputError(f"--set {k}={v}: EvaConfig.{k} is a boolean; use true or false")
            out[k] = v.lower() in _TRUE
        elif isinstance(default, (int, float)):
            kind = type(default)
            try:
                out[k] = kind(v)
            except ValueError:
                raise InputError(f"--set {k}={v}: EvaConfig.{k} is {'an integer' if kind is int else 'a number'}, "
                                 f"e.g. --set {k}={default!r}") from None
        elif isinstance(default, (dict, list)):
            try:
                val = json.loads(v)
            except json.JSONDecodeError:
                val = None
            if not isinstance(val, type(default)):
                raise InputError(f"--set {k}={v}: EvaConfig.{k} is a JSON {type(default).__name__}, "
                                 f"e.g. --set '{k}={json.dumps({'dtype': 'bfloat16'} if isinstance(default, dict) else [])}'")
            out[k] = val
        else:
            out[k] = v
    return out


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (argparse turns the error into one usage line)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be >= {minimum}")
        return v
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _config(profile: str, run_dir: str, overrides: dict[str, Any], eval_set: bool = True) -> EvaConfig:
    """The run's config, its prompt files read once (``eval_set``: the held-out set too, when the run evaluates):
    InputError naming the field for a bad value or file."""
    from .prompts import load_prompts

    try:
        cfg = profile_config(profile, run_dir=run_dir, **overrides)
    except ValueError as e:  # EvaConfig.validate names the field and the allowed values
        raise InputError(_one_line(e)) from e
    files = [("prompt_set", cfg.prompt_set, cfg.n_prompts)]
    if cfg.run_eval and eval_set:
        files.append(("eval_set", cfg.eval_set, cfg.n_eval))
    for name, path, limit in files:
        try:
            load_prompts(path, limit)
        except FileNotFoundError as e:
            raise InputError(f"EvaConfig.{name}={path!r}: file not found; give an existing jsonl prompt set "
                             f"with --set {name}=PATH") from e
        except (ValueError, OSError) as e:
            raise InputError(f"EvaConfig.{name}={path!r}: {_one_line(e)}; fix the file or give another "
                             f"with --set {name}=PATH") from e
    return cfg


def _check_resume(cfg: EvaConfig) -> None:
    """An existing run directory must have been created with the same identity fields (InputError naming them).
    Read-only: the run may be one another process is writing (a grid lane), so nothing in it is touched."""
    from pathlib import Path

    from .store import ConfigMismatch, check_config

    if (Path(cfg.run_dir) / "config.json").exists():
        try:
            check_config(cfg.run_dir, cfg)
        except ConfigMismatch as e:
            raise InputError(_one_line(e)) from e


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m evalab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debug", action="store_true", help="show the traceback of an error (also accepted after the "
                    "subcommand)")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    r = sub.add_parser("run", help="run (or resume) an eva run")
    r.add_argument("--profile", default="demo", choices=["ci", "demo", "paper"])
    r.add_argument("--run-dir", required=True)
    r.add_argument("--iterations", type=_positive_int, default=None)
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an EvaConfig field")
    r.add_argument("--quiet", action="store_true")
    o = sub.add_parser("online", help="run (or resume) online eva inside a TRL RL trainer")
    o.add_argument("--profile", default="demo", choices=["ci", "demo", "paper"])
    o.add_argument("--run-dir", required=True)
    o.add_argument("--trainer", default="grpo", choices=["grpo", "rloo", "oaif"])
    o.add_argument("--steps", type=_positive_int, default=8, help="optimizer steps")
    o.add_argument("--evolve-every", type=_positive_int, default=2, help="steps between evolution events")
    o.add_argument("--prompts-per-step", type=_positive_int, default=2)
    o.add_argument("--max-completion-length", type=_positive_int, default=None)
    o.add_argument("--checkpoint-every", type=_non_negative_int, default=None,
                   help="default: --evolve-every; 0 = no resume")
    o.add_argument("--torch-threads", type=_non_negative_int, default=0)
    o.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an EvaConfig field")
    o.add_argument("--quiet", action="store_true")
    s = sub.add_parser("summary", help="print the per-iteration summary of a run directory")
    s.add_argument("run_dir")
    cmp_ = sub.add_parser("compare", help="held-out score of an ablation's arms (run_ablation's root) with 95%% CIs")
    cmp_.add_argument("root")
    cmp_.add_argument("--baseline", default="static", help="arm the others are paired against")
    cmp_.add_argument("--metric", default="full", choices=["full", "frac"])
    cmp_.add_argument("--out", default=None, help="also write the tables (and per-seed scores) to this json")
    rp = sub.add_parser("reproduce", help="run (or resume) the reproduction grid: arms × seeds × iterations under "
                        "one budget, then write the results json (evalab/reproduction.py)")
    _grid_arguments(rp, REPRODUCE_KEYS, "run stores", "data/reproduction.json",
                    "comma-separated arms or groups (evalab.reproduction.REPRODUCTION_ARMS, ARM_GROUPS: protocol, "
                    "sampling, metrics, all)")
    rp.add_argument("--iterations", type=_positive_int, default=None)
    rp.add_argument("--digests", default=None, help="directory of run digests (evalab/digest.py): each finished run "
                    "writes <dir>/<arm>/seed<k>.json, and a run whose digest is there (same config) is not run again, "
                    "so the results json can be rebuilt on another machine from the digests alone")
    rp.add_argument("--reuse", default=None, help="comma-separated digest directories of runs made before with the "
                    "same config (another grid's), read only: their runs are not run again, and their digests are not "
                    "copied (new runs write to --digests); e.g. more seeds of a grid that already ran")
    rp.add_argument("--collect", action="store_true", help="run nothing: write the results json (and the digests) "
                    "from the finished runs and the digests there are, naming each (arm, seed) left out")
    _grid_tail_arguments(rp, "only the plan and one line per finished (arm, seed)")
    ro = sub.add_parser("reproduce-online", help="run (or resume) the online arms (online eva, the seed stream, "
                        "+ dynamic sampling, + MoPPS / GRESO prediction) × seeds with one trainer, evaluate each "
                        "final policy on the held-out set, then write the results json (evalab/reproduction.py)")
    _grid_arguments(ro, ONLINE_REPRODUCE_KEYS, "runs", "data/online_reproduction.json",
                    "comma-separated among evalab.reproduction.ONLINE_ARMS (default online-eva,online-seed)")
    ro.add_argument("--trainer", default=None, choices=["grpo", "rloo", "oaif"])
    ro.add_argument("--steps", type=_positive_int, default=None, help="optimizer steps (default: the profile's, "
                    "evalab.online.ONLINE_PROFILES)")
    ro.add_argument("--evolve-every", type=_positive_int, default=None)
    ro.add_argument("--prompts-per-step", type=_positive_int, default=None)
    ro.add_argument("--torch-threads", type=_non_negative_int, default=None)
    _grid_tail_arguments(ro, "no progress bars or stage lines (the trainer still logs each step)")
    pr = sub.add_parser("prune", help="free the disk finished runs under a root no longer need: every checkpoint "
                        "of an offline run but its last, the trainer checkpoints of a finished online run that saved "
                        "its final policy (results, tables and final policies stay)")
    pr.add_argument("root")
    pr.add_argument("--dry-run", action="store_true", help="only list what would be freed")
    c = sub.add_parser("config", help="print the config of a profile")
    c.add_argument("--profile", default="paper", choices=["ci", "demo", "paper"])
    c.add_argument("--trainer", default="dpo", choices=["dpo", "simpo", "orpo", "sppo"],
                   help="show this trainer's recipe (as the profile adapts it)")
    return ap


def _grid_arguments(p: argparse.ArgumentParser, keys: tuple[str, ...], what: str, out: str, arms: str) -> None:
    """The options `reproduce` and `reproduce-online` share, before their own."""
    p.add_argument("--config", default=None, help="yaml with any of: " + ", ".join(keys))
    p.add_argument("--root", default=None, help=f"directory of the {what}, <root>/<arm>/seed<k>")
    p.add_argument("--out", default=None, help=f"results json (default {out})")
    p.add_argument("--profile", default=None, choices=["ci", "demo", "paper"])
    p.add_argument("--arms", default=None, help=arms)
    p.add_argument("--seeds", default=None, help="comma-separated integers, e.g. 1,2,3")


def _grid_tail_arguments(p: argparse.ArgumentParser, quiet: str) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override an EvaConfig field")
    p.add_argument("--n-boot", type=_positive_int, default=None, help="bootstrap resamples (default 1000)")
    p.add_argument("--quiet", action="store_true", help=quiet)
    p.add_argument("--prune", action="store_true", default=None, help="as each run finishes, delete the checkpoints "
                   "it no longer needs (`python -m evalab prune`); its final policy stays")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [x for x in argv if x != "--debug"]
    try:
        a = build_parser().parse_args(argv)
        a.argv = argv
        job = _prepare(a)  # every input check; nothing has run yet
    except InputError as e:
        if debug:
            raise
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    from .rewards import MissingRewardError
    from .store import RunLocked, StoreWriteError

    try:
        return job()
    except (StoreWriteError, MissingRewardError, RunLocked) as e:  # an experiment that must stop: one line, store resumable
        if debug:
            raise
        print(f"evalab: stopped: {_one_line(e)}", file=sys.stderr)
        return 1


def _prepare(a: argparse.Namespace) -> Callable[[], int]:
    """Check the command's inputs (InputError for any bad one) and return what runs it."""
    if a.cmd == "config":
        from .config import describe_config

        return lambda: print(describe_config(profile_config(a.profile, trainer=a.trainer))) or 0
    if a.cmd == "summary":
        from .store import RunStore

        try:
            store = RunStore(a.run_dir)
        except (FileNotFoundError, ValueError) as e:
            raise InputError(f"summary {a.run_dir}: {_one_line(e)}; give a run directory (it holds config.json)") from e

        def _summary() -> int:
            from .loop import summarize

            print(summarize(store).to_string(index=False))
            return 0
        return _summary
    if a.cmd == "compare":
        from .ablation import load_ablation

        try:
            stores = load_ablation(a.root)
        except (FileNotFoundError, ValueError) as e:
            raise InputError(f"compare {a.root}: {_one_line(e)}; give the root an ablation was written to") from e
        return lambda: _compare(a, stores)
    if a.cmd == "prune":
        from pathlib import Path

        if not Path(a.root).is_dir():
            raise InputError(f"prune {a.root}: no such directory; give the root of run stores (e.g. runs/reproduction)")
        return lambda: _prune(a.root, a.dry_run)
    if a.cmd == "reproduce":
        return _prepare_reproduce(a)
    if a.cmd == "reproduce-online":
        return _prepare_reproduce_online(a)
    overrides = _parse_set(a.set)
    if a.cmd == "online":
        cfg = _config(a.profile, a.run_dir, overrides, eval_set=False)  # online mode has no held-out eval
        _check_resume(cfg)

        def _online() -> int:
            from .online import run_online_eva

            out = run_online_eva(cfg, trainer=a.trainer, steps=a.steps, evolve_every=a.evolve_every,
                                 prompts_per_step=a.prompts_per_step, max_completion_length=a.max_completion_length,
                                 checkpoint_every=a.checkpoint_every, torch_threads=a.torch_threads,
                                 progress=not a.quiet)
            print(out["events"].to_string(index=False))
            return 0
        return _online
    if a.iterations is not None:
        overrides["iterations"] = a.iterations
    cfg = _config(a.profile, a.run_dir, overrides)
    from .loop import EvaRun

    _check_resume(cfg)
    run = EvaRun(cfg, progress=not a.quiet)

    def _run() -> int:
        summary = run_with_progress(run, show=not a.quiet)
        print(summary.to_string(index=False))
        return 0
    return _run


def _reproduce_file(path: str | None, keys: tuple[str, ...] = REPRODUCE_KEYS) -> dict[str, Any]:
    """The `reproduce --config` yaml (``keys``: the ones it may hold) as a dict (InputError naming the file or the
    unknown key)."""
    from pathlib import Path

    import yaml

    if path is None:
        return {}
    if not Path(path).is_file():
        raise InputError(f"--config {path}: file not found; give a yaml like configs/reproduction.yaml")
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as e:
        raise InputError(f"--config {path}: not valid yaml: {_one_line(e)}") from e
    if not isinstance(data, dict):
        raise InputError(f"--config {path}: expected a mapping of {', '.join(keys)}")
    for k in data:
        if k not in keys:
            close = difflib.get_close_matches(str(k), keys, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise InputError(f"--config {path}: unknown key {k!r}; {hint}keys: {', '.join(keys)}")
    if not isinstance(data.get("set", {}), dict):
        raise InputError(f"--config {path}: 'set' must map EvaConfig fields to values")
    return data


def _prepare_reproduce(a: argparse.Namespace) -> Callable[[], int]:
    """Every input of `reproduce` checked (arms, seeds, each arm's config, resumable run directories)."""
    from pathlib import Path

    from .ablation import arm_config
    from .reproduction import reproduction_arms

    f, profile, root, out = _grid_head(a, REPRODUCE_KEYS, "run stores", "data/reproduction.json")
    arms_in: Any = a.arms.split(",") if a.arms else f.get("arms", ["protocol"])
    from .reproduction import ARM_GROUPS, REPRODUCTION_ARMS

    if isinstance(arms_in, list):  # names (a mapping of {arm: overrides} from the yaml passes through)
        bad = [x for x in arms_in if not isinstance(x, str) or (x not in REPRODUCTION_ARMS and x not in ARM_GROUPS)]
        if bad or not arms_in:
            raise InputError(f"--arms {bad[0] if bad else ''}: not a named arm or group; arms: "
                             f"{', '.join(REPRODUCTION_ARMS)}; groups: {', '.join(ARM_GROUPS)}")
    try:
        arms = reproduction_arms(arms_in)
    except ValueError as e:
        raise InputError(f"--arms {arms_in}: {_one_line(e)}") from e
    seeds = _seeds(a.seeds if a.seeds is not None else f.get("seeds", [1, 2, 3]))
    overrides = {**f.get("set", {}), **_parse_set(a.set)}
    iterations = a.iterations or f.get("iterations")
    if iterations is not None:
        overrides["iterations"] = iterations
    base = _config(profile, str(root), overrides)  # each (arm, seed) gets its own run_dir (arm_config)
    for arm, ov in arms.items():
        for s in seeds:
            try:
                cfg = arm_config(base, ov, s, Path(root) / arm / f"seed{s}")
            except ValueError as e:
                raise InputError(f"arm {arm}: {_one_line(e)}") from e
            _check_resume(cfg)
    n_boot = a.n_boot or int(f.get("n_boot", 1000))
    prune = _prune_flag(a, f)
    digests = a.digests or f.get("digests")
    if digests is not None and (not isinstance(digests, str) or (Path(digests).exists() and
                                                                 not Path(digests).is_dir())):
        raise InputError(f"digests={digests!r}: a directory path (it is created if missing)")
    reuse = _reuse_dirs(a.reuse.split(",") if a.reuse else f.get("reuse", []), digests)
    if digests is not None or reuse:  # every digest of the grid read and checked before anything runs
        from .reproduction import grid_digests

        try:
            grid_digests(base, arms, seeds, root, digests, reuse=reuse)
        except ValueError as e:
            raise InputError(_one_line(e)) from e
    _check_out_keeps(out, arms, seeds, "reproduce")  # the last check: every field above is named first
    command = "python -m evalab " + " ".join(a.argv)

    def _reproduce() -> int:
        from .reproduction import (digest_dirs, grid_seeds, reproduction_results, run_reproduction, summary_table,
                                   summary_view)

        wall: dict[str, dict[str, float]] = {}
        t0 = time.time()
        stores = run_reproduction(base, arms, seeds, root, progress=not a.quiet, wall=wall, prune=prune,
                                  digests=digests, collect_only=a.collect, reuse=reuse)
        if not stores:
            print(f"error: reproduce --collect: no finished run in {root} and no digest"
                  + (f" in {', '.join(map(str, digest_dirs(digests, reuse)))}" if digests or reuse else "")
                  + ": nothing to collect", file=sys.stderr)
            return EXIT_USAGE
        res = reproduction_results(stores, base=base, arms=arms, wall=wall, command=command, n_boot=n_boot)
        got = {(arm, int(st.config.seed)) for arm, runs in stores.items() for st in runs}
        res["missing"] = [{"arm": arm, "seed": int(s)} for arm in arms for s in seeds if (arm, int(s)) not in got]

        def view(r: dict[str, Any]) -> Any:
            return summary_view(summary_table(r), seeds=grid_seeds(r))

        ckpts = [str(p) for by_seed in res.get("checkpoints", {}).values() for p in by_seed.values() if p]
        n_here = sum(Path(p).is_dir() for p in ckpts)
        return _write_and_report(out, res, t0, view,
                                 f"reproduce: {len(arms) * len(seeds)} runs" if not a.collect else
                                 f"reproduce --collect: {sum(map(len, stores.values()))} of {len(arms) * len(seeds)} "
                                 "runs", f"final checkpoints: {n_here} of {len(ckpts)} here, "
                                 + (f"in {root}/<arm>/seed<k>/iter_<last>/checkpoint" if not a.collect else
                                    "at the paths the results file's checkpoints list")
                                 + ("" if n_here == len(ckpts) else " (the rest came from digests: their stores "
                                    "were made on another machine)"))
    return _reproduce


def _write_and_report(out: str, res: dict[str, Any], t0: float, view: Callable[[dict[str, Any]], Any], what: str,
                      where: str) -> int:
    """Write a grid's results json (with its total wall time), print ``view`` of it as read back, and one line."""
    import pandas as pd

    from .reproduction import load_results, write_results

    res["total_wall_s"] = round(time.time() - t0, 1)
    write_results(out, res)
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(view(load_results(out)).to_string(index=False), flush=True)
    print(f"[evalab] {what} done in {_fmt_s(time.time() - t0)}; results in {out}; {where}", flush=True)
    return 0


def _prune(root: str, dry_run: bool) -> int:
    from .reproduction import prune_runs

    df = prune_runs(root, dry_run=dry_run)
    if len(df):
        print(df.assign(GB=(df["bytes"] / 1e9).round(2)).drop(columns=["bytes"]).to_string(index=False))
    verb = "would free" if dry_run else "freed"
    print(f"[evalab] prune {root}: {verb} {df['bytes'].sum() / 1e9 if len(df) else 0:.1f} GB in {len(df)} "
          f"checkpoint folders", flush=True)
    return 0


def _prune_flag(a: argparse.Namespace, f: dict[str, Any]) -> bool:
    v = a.prune if a.prune is not None else f.get("prune", False)
    if not isinstance(v, bool):
        raise InputError(f"--config {a.config}: prune={v!r}: true or false")
    return v


def _grid_head(a: argparse.Namespace, keys: tuple[str, ...], what: str, out: str) -> tuple[dict[str, Any], str, str,
                                                                                         str]:
    """The config file, profile, root and results path of `reproduce` / `reproduce-online` (the command line wins
    over the file; InputError naming a bad profile or a missing root)."""
    f = _reproduce_file(a.config, keys)
    profile = a.profile or f.get("profile", "demo")
    if profile not in ("ci", "demo", "paper"):
        raise InputError(f"--config {a.config}: profile={profile!r}: choose one of ci, demo, paper")
    root = a.root or f.get("root")
    if not root:
        raise InputError(f"{a.cmd}: no --root (nor 'root' in --config): name the directory of the {what}")
    return f, profile, str(root), a.out or f.get("out") or out


def _check_out_keeps(out: str, arms: Any, seeds: list[int], what: str) -> None:
    """Refuse, before anything runs, a results path that already holds arms or seeds this command would drop
    (a smoke test with --arms eva must not replace the shipped grid's file): InputError naming them."""
    import json
    from pathlib import Path

    p = Path(out)
    if not p.is_file():
        return
    try:
        old = json.loads(p.read_text())
        old_arms, old_seeds = list(old.get("arms") or []), [int(s) for s in old.get("seeds") or []]
    except (ValueError, TypeError, AttributeError):
        raise InputError(f"--out {out}: exists and is not a results json of `{what}`; "
                         "move it or name another --out") from None
    lost_arms = [x for x in old_arms if x not in set(arms)]
    lost_seeds = [s for s in old_seeds if s not in set(seeds)]
    if lost_arms or lost_seeds:
        lost = ", ".join([*(f"arm {x}" for x in lost_arms), *(f"seed {s}" for s in lost_seeds)])
        raise InputError(f"--out {out}: it holds {lost}, which this command does not run, and writing it would drop "
                         "them; name another --out (or include them, or delete the file to start it afresh)")


def _reuse_dirs(reuse: Any, digests: str | None) -> list[str]:
    """`reuse` (yaml list or --reuse a,b) as existing digest directories, none of them ``digests`` (InputError naming
    the bad entry): they are read, never written."""
    from pathlib import Path

    if isinstance(reuse, str):
        reuse = [reuse]
    if not isinstance(reuse, list) or not all(isinstance(r, str) and r for r in reuse):
        raise InputError(f"reuse={reuse!r}: a list of digest directories, e.g. [data/digests/reproduction]")
    for r in reuse:
        if not Path(r).is_dir():
            raise InputError(f"reuse: {r}: not a directory; give the digest directories of runs made before")
        if digests is not None and Path(r).resolve() == Path(digests).resolve():
            raise InputError(f"reuse: {r} is the digests directory itself; reuse names other grids' digests (read "
                             "only), digests the directory this grid's runs write to")
    if len({Path(r).resolve() for r in reuse}) != len(reuse):
        raise InputError(f"reuse={reuse}: a directory named twice")
    return list(reuse)


def _seeds(seeds_in: Any) -> list[int]:
    """``--seeds 1,2,3`` or a yaml list as distinct non-negative integers (InputError otherwise)."""
    try:
        seeds = ([int(x) for x in seeds_in.split(",")] if isinstance(seeds_in, str) else
                 [int(x) for x in seeds_in if not isinstance(x, bool) and int(x) == x])
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"--seeds {seeds_in}: a comma-separated list of integers (distinct, >= 0), "
                         "e.g. --seeds 1,2,3") from None
    return seeds


def _prepare_reproduce_online(a: argparse.Namespace) -> Callable[[], int]:
    """Every input of `reproduce-online` checked (arms, seeds, trainer settings, resumable run directories)."""
    from pathlib import Path

    from .online import DYNAMIC_SAMPLING_TRAINERS, ONLINE_TRAINERS, online_settings
    from .reproduction import ONLINE_ARMS, online_arm_config

    f, profile, root, out = _grid_head(a, ONLINE_REPRODUCE_KEYS, "runs", "data/online_reproduction.json")
    arms = a.arms.split(",") if a.arms else f.get("arms", ["online-eva", "online-seed"])
    if not isinstance(arms, list) or not arms or any(x not in ONLINE_ARMS for x in arms) or len(set(arms)) < len(arms):
        raise InputError(f"--arms {arms}: distinct names among {', '.join(ONLINE_ARMS)}")
    seeds = _seeds(a.seeds if a.seeds is not None else f.get("seeds", [1, 2, 3]))
    trainer = a.trainer or f.get("trainer", "grpo")
    if trainer not in ONLINE_TRAINERS:
        raise InputError(f"--config {a.config}: trainer={trainer!r}: choose one of {', '.join(ONLINE_TRAINERS)}")
    if "online-eva+dynamic" in arms and trainer not in DYNAMIC_SAMPLING_TRAINERS:
        raise InputError(f"--arms online-eva+dynamic: dynamic sampling needs a group trainer "
                         f"({', '.join(DYNAMIC_SAMPLING_TRAINERS)}), not trainer={trainer}")
    settings: dict[str, Any] = online_settings(profile)
    for k in ("steps", "evolve_every", "prompts_per_step", "max_completion_length", "checkpoint_every",
              "torch_threads"):
        v = getattr(a, k, None)
        v = v if v is not None else f.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if k in ("checkpoint_every", "torch_threads")
                                                                   else 1):
            raise InputError(f"--config {a.config}: {k}={v!r}: an integer >= "
                             f"{0 if k in ('checkpoint_every', 'torch_threads') else 1}")
        settings[k] = v
    settings.setdefault("torch_threads", 0)
    base = _config(profile, str(root), {**f.get("set", {}), **_parse_set(a.set)})
    for arm in arms:
        for s in seeds:
            _check_resume(online_arm_config(base, arm).replace(seed=s, run_dir=str(Path(root) / arm / f"seed{s}")))
    n_boot = a.n_boot or int(f.get("n_boot", 1000))
    prune = _prune_flag(a, f)
    _check_out_keeps(out, arms, seeds, "reproduce-online")  # the last check: every field above is named first
    command = "python -m evalab " + " ".join(a.argv)

    def _reproduce_online() -> int:
        from .reproduction import (evaluate_online_runs, online_results, online_summary_table, online_summary_view,
                                   run_online_arms)

        wall: dict[str, dict[str, float]] = {}
        t0 = time.time()
        print(f"[evalab] reproduce-online: {len(arms)} arms × {len(seeds)} seeds, trainer={trainer}, {settings}, "
              f"in {root}", flush=True)
        kw = {k: v for k, v in settings.items() if k not in ("steps", "evolve_every")}
        runs = run_online_arms(base, seeds, root, steps=settings["steps"], evolve_every=settings["evolve_every"],
                               trainer=trainer, arms=arms, progress=not a.quiet, wall=wall, save_model=True,
                               prune=prune, **kw)
        stores = evaluate_online_runs(runs, progress=not a.quiet)
        res = online_results(runs, stores, settings={"trainer": trainer, **settings}, base=base, wall=wall,
                             command=command, n_boot=n_boot)
        return _write_and_report(out, res, t0, lambda r: online_summary_view(online_summary_table(r)),
                                 f"reproduce-online: {len(arms) * len(seeds)} runs",
                                 f"final policies in {root}/<arm>/seed<k>/model")
    return _reproduce_online


def stage_estimates(events: Any, pending: list[tuple[int, str]]) -> list[float | None]:
    """Expected seconds of each pending (iteration, stage): the latest finished run of the same stage in this run
    directory (an earlier iteration, or the previous attempt), None when that stage has not run yet."""
    last: dict[str, float] = {}
    if events is not None and len(events) and "event" in events:
        done = events[events["event"] == "stage_end"]
        for stage, secs in zip(done.get("stage", []), done.get("seconds", [])):
            if isinstance(stage, str) and secs == secs:  # not NaN
                last[stage] = float(secs)
    return [last.get(stage) for _, stage in pending]


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def run_with_progress(run: Any, show: bool = True) -> Any:
    """``run.run()`` stage by stage under a tqdm bar: total = the pending stages, the postfix names the current
    stage with its expected time and the expected time of everything left (from the stages' own timings)."""
    import logging

    from tqdm.auto import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    pending = run.pending()
    try:
        events = run.store.events()
    except Exception:  # noqa: BLE001 - an unreadable log only costs the estimate
        events = None
    est = stage_estimates(events, pending)
    with tqdm(total=len(pending), unit="stage", desc="evalab run", disable=not show, dynamic_ncols=True) as bar, \
            logging_redirect_tqdm(loggers=[logging.getLogger("evalab")]):  # warnings on their own line, bar kept
        for i, (t, stage) in enumerate(pending):
            here = est[i]
            left = [e for e in est[i:] if e is not None]
            note = f"iter {t} {stage}" + (f" · eta {_fmt_s(here)}" if here is not None else " · eta ?")
            if left:
                note += f" · left ≥{_fmt_s(sum(left))}" if len(left) < len(est) - i else f" · left {_fmt_s(sum(left))}"
            bar.set_postfix_str(note)
            t0 = time.time()
            run.run_stage(t, stage)
            for j in range(i + 1, len(pending)):  # this timing is the best guess for the same stage later on
                if pending[j][1] == stage:
                    est[j] = time.time() - t0
            bar.update(1)
    return run.summary()


def _compare(a: argparse.Namespace, stores: dict[str, Any]) -> int:
    import json
    from pathlib import Path

    import pandas as pd

    from .ablation import compare_arms, compare_to_baseline, per_seed_scores, run_manifests
    from .breakdown import gain_per_cost

    arms = compare_arms(stores, metric=a.metric)
    print(arms.to_string(index=False))
    vs = compare_to_baseline(stores, baseline=a.baseline, metric=a.metric) if a.baseline in stores else pd.DataFrame()
    if len(vs):
        print()
        print(vs.to_string(index=False))
    cost = gain_per_cost(stores, metric=a.metric)
    if len(cost):
        print()
        print("gain per cost (gain = last evaluated iteration - iteration 0; tokens = solver tokens generated in "
              "steps 1 and 6; pairs = preference pairs trained on):")
        print(cost.to_string(index=False))
    if a.out:
        out = {"root": str(a.root), "metric": a.metric, "arms": arms.to_dict(orient="records"),
               "vs_baseline": vs.to_dict(orient="records"), "per_cost": cost.to_dict(orient="records"),
               "per_seed": per_seed_scores(stores, a.metric).to_dict(orient="records"),
               "manifests": run_manifests(stores)}  # provenance of every run behind these numbers
        Path(a.out).write_text(json.dumps(out, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
