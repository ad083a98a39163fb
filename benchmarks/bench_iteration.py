"""One eva iteration on the embedded default, per stage: wall time, work done, throughput and % of peak.

    python benchmarks/bench_iteration.py --profile demo       # one demo iteration, held-out eval included
    python benchmarks/bench_iteration.py --quick              # the tiny ci profile (a smoke run, minutes)
    python benchmarks/bench_iteration.py --profile demo --set epochs=1 --threads 1
    python benchmarks/bench_iteration.py --profile paper --no-peak --run-dir /tmp/it   # a GPU (device_check.py)

Wall time per stage comes from the run's own event log (the numbers a notebook run records). The work
of each stage is read back from what it wrote: generated tokens (responses, train_responses, eval;
counted with the model's tokenizer, end-of-turn token included), creator calls (evolved) and pairs ×
epochs (checkpoint). "% peak" divides the stage's matmul FLOP rate by this machine's fp32 matmul rate at
the model's shapes, measured in the same process just before the run (``benchmarks/peak.py``): forward
FLOPs = 2 × 134.5M per token (prompt tokens once per sequence, generated tokens once), training = 3 ×
the forward of prompt + chosen and prompt + rejected per pair-epoch, plus one reference forward per
pair (precomputed once per call). Stages that only read and write tables show no work.

Set OMP_NUM_THREADS=1 (or --threads 1) on a machine shared with other jobs: on 2 busy cores torch's
default 2 threads spin-wait and run several times slower. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from evalab.__main__ import _parse_set  # noqa: E402
from evalab.config import profile_config  # noqa: E402
from evalab.loop import EvaRun  # noqa: E402
from peak import forward_flops_per_token, measure_bandwidth, measure_peak  # noqa: E402


def stage_work(run: EvaRun, t: int, stage: str, tok) -> tuple[str, float, str, float]:
    """(work text, work amount, unit, matmul FLOPs) of one stage, read from what the stage stored."""
    cfg, store, fpt = run.cfg, run.store, forward_flops_per_token()

    def n_tokens(texts) -> int:
        return sum(len(tok(x, add_special_tokens=False)["input_ids"]) + 1 for x in texts)

    if stage in ("responses", "train_responses") and store.has(t, stage):
        df = store.read_table(t, stage)
        new = n_tokens(df.response.astype(str))
        prompts = run.prompts(t if stage == "responses" else t + 1)
        prefill = n_tokens(p.text for p in prompts) + 10 * len(prompts)  # + chat template tokens
        return f"{new} tokens", new, "tok/s", fpt * (new + prefill)
    if stage == "eval" and store.has(t, stage):
        from evalab.prompts import load_prompts

        texts = store.read_json(t, stage)["responses"]
        new = n_tokens(texts)
        prompts = load_prompts(cfg.eval_set, cfg.n_eval)
        prefill = n_tokens(p.text for p in prompts) + 10 * len(prompts)  # + chat template tokens
        return f"{new} tokens", new, "tok/s", fpt * (new + prefill)
    if stage == "evolved" and store.has(t, stage):
        n = len(store.read_table(t, stage))
        return f"{n} calls", n, "calls/s", float("nan")
    if stage == "checkpoint" and store.has(t, "pairs"):
        pairs = store.read_table(t, "pairs")
        per_pair = [n_tokens([p + c]) + n_tokens([p + r]) for p, c, r in zip(pairs.prompt, pairs.chosen, pairs.rejected)]
        pe = len(pairs) * cfg.epochs
        flops = fpt * sum(per_pair) * (3 * cfg.epochs + 1)
        return f"{len(pairs)} pairs × {cfg.epochs:g} ep", pe, "pair-ep/s", flops
    return "", float("nan"), "", float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="demo", choices=["ci", "demo", "paper"])
    ap.add_argument("--quick", action="store_true", help="the ci profile (a smoke run)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--run-dir", default="", help="run store to write (default: a new temporary folder)")
    ap.add_argument("--no-peak", action="store_true",
                    help="skip the CPU matmul and memory rates (on a GPU they say nothing of the run): no %% peak")
    a = ap.parse_args()
    if a.quick:
        a.profile = "ci"
    if a.threads:
        torch.set_num_threads(a.threads)
    run_dir = a.run_dir or tempfile.mkdtemp(prefix="evalab-bench-")
    cfg = profile_config(a.profile, run_dir=run_dir, iterations=1, **_parse_set(a.set))
    load0 = os.getloadavg()[0]
    peak, bw0 = (float("nan"), float("nan")) if a.no_peak else (measure_peak(seconds=5.0), measure_bandwidth())
    t0 = time.time()
    EvaRun(cfg, progress=False).run()
    total = time.time() - t0
    bw1 = float("nan") if a.no_peak else measure_bandwidth()
    run = EvaRun(cfg, progress=False)
    ev = run.store.events()
    st = ev[ev.event == "stage_end"][["iteration", "stage", "seconds"]]
    from evalab.models import load_tokenizer

    tok = load_tokenizer(cfg.solver)
    print(f"profile={a.profile} prompts={cfg.n_prompts} N={cfg.n_responses} new_tokens={cfg.max_new_tokens} "
          f"eval={cfg.n_eval} epochs={cfg.epochs:g} torch_threads={torch.get_num_threads()} run_dir={run_dir}")
    print(f"fp32 matmul peak {peak / 1e9:.1f} GFLOP/s; memory copy {bw0 / 1e9:.1f} GB/s before, {bw1 / 1e9:.1f} "
          f"after; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'it':>3} {'stage':16s} {'seconds':>8s} {'share':>6s}  {'work':>22s} {'throughput':>16s} {'% peak':>7s}")
    for r in st.itertuples():
        text, amount, unit, flops = stage_work(run, int(r.iteration), r.stage, tok)
        rate = f"{amount / r.seconds:.2f} {unit}" if unit and r.seconds > 0 else ""
        frac = f"{flops / r.seconds / peak:.1%}" if flops == flops and peak == peak and r.seconds > 0 else ""
        print(f"{int(r.iteration):3d} {r.stage:16s} {r.seconds:8.1f} {r.seconds / total:6.1%}  {text:>22s} "
              f"{rate:>16s} {frac:>7s}")
    print(f"{'':3s} {'total (wall)':16s} {total:8.1f}")


if __name__ == "__main__":
    main()
