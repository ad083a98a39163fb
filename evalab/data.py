"""Build the prompt sets in data/ from the templates below (all text written for this repo).

    python -m evalab.data                 # (re)writes data/*.jsonl and data/README.md, deterministically
    python -m evalab.data --check         # exit 1 if the files in data/ differ from what the code builds

Five sets, each a jsonl of ``evalab.prompts.Prompt`` records:

- ``seed_constraint_prompts.jsonl``    X_0 for the verifiable task: a one-sentence task (task type x topic)
                                       plus 1-3 constraints (mostly 1-2, so a 135M solver satisfies some and a
                                       curriculum has room to grow);
- ``heldout_constraint_prompts.jsonl`` the evaluation set: same kinds of prompts, but no (task type, topic)
                                       pair of the seed set appears in it;
- ``chat_prompts.jsonl``               open questions without constraints, for reward models and judges;
- ``pool_constraint_prompts.jsonl``    unseen prompts of the seed set's kind for the ``mode="fresh"`` control
                                       (the paper's "+ new human prompts"): the (task type, topic) pairs neither
                                       the seed nor the held-out set uses, plus the same task types on topics
                                       only the pool has, so no task text of the seed or held-out set occurs in it.
- ``seed_easy_constraint_prompts.jsonl`` the seed set's tasks with one constraint each, of a kind the untrained
                                       solver meets about half the time (``EASY_KINDS``): an easier X_0 for the
                                       regime where a fixed set can saturate (issue 11's seed-set difficulty lever).

Every constraint prompt's text is ``constraints.render_prompt(task, constraints)`` and its constraints pass
``constraints.validate_constraints``. The data card (``data/README.md``) is written by the same code, so
its counts are always those of the files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import constraints as C
from .prompts import REPO_ROOT, Prompt

SEED = 42
N_SEED = 400
N_HELDOUT = 120
N_CHAT = 60
N_POOL = 240  # 5 demo iterations of 48 fresh prompts (the seed/held-out split leaves 140 unused task-topic pairs)
N_CONSTRAINTS_P = {1: 0.45, 2: 0.40, 3: 0.15}  # constraints per prompt: mostly 1-2 (room for a curriculum)

# The easy seed set: one constraint per prompt, of the kinds the untrained embedded solver met on 25-75% of the
# seed prompts that carried them (data/base_solver_pass_rates.json: greedy, 64 tokens, 4 prompts per kind, so a
# coarse cut). The kinds it always met (exclude_keywords, sentence_count_max) or never met are left out, and so is
# word_count_min: most of its sampled minimums (60-100 words) cannot be met under the demo's 64-token cap.
EASY_KINDS = ("end_with", "include_keywords", "no_commas", "placeholder_count", "start_with", "title",
              "word_count_max")

SEED_FILE = "seed_constraint_prompts.jsonl"
EASY_FILE = "seed_easy_constraint_prompts.jsonl"
HELDOUT_FILE = "heldout_constraint_prompts.jsonl"
CHAT_FILE = "chat_prompts.jsonl"
POOL_FILE = "pool_constraint_prompts.jsonl"
CARD_FILE = "README.md"


@dataclass(frozen=True)
class Topic:
    name: str  # a noun phrase that fits every task template
    domain: str
    keywords: tuple[str, ...]  # lowercase words an answer on the topic would naturally use


TOPICS: tuple[Topic, ...] = tuple(Topic(n, d, tuple(k.split())) for d, n, k in (
    ("science", "volcanoes", "lava magma eruption"),
    ("science", "the water cycle", "rain evaporation clouds"),
    ("science", "black holes", "gravity light star"),
    ("science", "photosynthesis", "sunlight leaves oxygen"),
    ("science", "the human heart", "blood pump beat"),
    ("science", "earthquakes", "plates shaking fault"),
    ("nature", "honeybees", "hive pollen honey"),
    ("nature", "coral reefs", "ocean fish reef"),
    ("nature", "owls", "night feathers hunt"),
    ("nature", "autumn leaves", "color trees fall"),
    ("nature", "desert plants", "cactus water heat"),
    ("health", "getting enough sleep", "rest night dream"),
    ("health", "drinking enough water", "thirst body glass"),
    ("health", "stretching after exercise", "muscles stretch body"),
    ("health", "healthy breakfasts", "fruit oats energy"),
    ("food", "baking bread", "flour oven dough"),
    ("food", "making soup", "pot vegetables broth"),
    ("food", "cooking with spices", "pepper flavor taste"),
    ("food", "homemade pizza", "cheese dough oven"),
    ("travel", "visiting a big city", "streets map museum"),
    ("travel", "a camping trip", "tent fire stars"),
    ("travel", "long train journeys", "station ticket window"),
    ("travel", "packing a suitcase", "clothes bag list"),
    ("technology", "smartphones", "screen battery apps"),
    ("technology", "strong passwords", "security account secret"),
    ("technology", "electric cars", "battery charge road"),
    ("technology", "household robots", "machine sensor task"),
    ("technology", "how the internet works", "network website data"),
    ("history", "ancient Egypt", "pyramid pharaoh river"),
    ("history", "the printing press", "books ink paper"),
    ("history", "the first airplanes", "flight wings engine"),
    ("history", "medieval castles", "walls knight tower"),
    ("money", "saving money", "budget bank goal"),
    ("money", "compound interest", "interest growth years"),
    ("money", "starting a small business", "customers plan profit"),
    ("work", "job interviews", "questions resume confidence"),
    ("work", "working from home", "desk schedule focus"),
    ("work", "teamwork", "team trust goal"),
    ("work", "time management", "schedule tasks priorities"),
    ("education", "learning a new language", "words practice grammar"),
    ("education", "studying for exams", "notes practice review"),
    ("education", "reading books", "story pages library"),
    ("education", "learning math", "numbers problems practice"),
    ("arts", "painting with watercolors", "brush paper color"),
    ("arts", "learning the guitar", "chords strings practice"),
    ("arts", "photography", "camera light photo"),
    ("arts", "writing poetry", "rhyme words verse"),
    ("sports", "running", "pace shoes distance"),
    ("sports", "chess", "board king moves"),
    ("sports", "gardening", "soil seeds plants"),
    ("sports", "swimming", "water pool breath"),
    ("home", "keeping a tidy room", "clutter shelves clean"),
    ("home", "adopting a dog", "walks food leash"),
    ("home", "cooking for friends", "dinner guests recipe"),
    ("home", "moving to a new town", "neighbors boxes home"),
))

# Topics only the fresh-prompt pool uses (appended after TOPICS, so the seed/held-out split is unchanged).
POOL_TOPICS: tuple[Topic, ...] = tuple(Topic(n, d, tuple(k.split())) for d, n, k in (
    ("science", "the moon", "tides orbit craters"),
    ("science", "rainbows", "light colors rain"),
    ("nature", "wolves", "pack howl forest"),
    ("nature", "mushrooms", "forest spores damp"),
    ("health", "walking every day", "steps fresh air"),
    ("food", "making pancakes", "batter pan syrup"),
    ("travel", "a road trip", "car map snacks"),
    ("technology", "3D printers", "plastic layers model"),
    ("history", "the Roman roads", "stone legions travel"),
    ("money", "paying off debt", "loan payments budget"),
))

# One sentence each; "{t}" is the topic. Short on purpose: the solver has 135M parameters.
TASKS: dict[str, str] = {
    "explain": "Explain {t} to a beginner.",
    "list": "List a few useful facts about {t}.",
    "story": "Write a short story about {t}.",
    "email": "Write a short email to a friend about {t}.",
    "poem": "Write a short poem about {t}.",
    "summary": "Summarize the key ideas behind {t}.",
    "advice": "Give practical advice about {t}.",
    "pros_cons": "Describe the good and bad sides of {t}.",
    "describe": "Describe {t} in simple words.",
    "dialogue": "Write a short dialogue between two friends about {t}.",
    "misconception": "Correct a common misconception about {t}.",
    "social_post": "Write a social media post about {t}.",
}

CHAT_TEMPLATES = (
    "Tell me something surprising about {t}.",
    "How would you explain {t} to a ten-year-old?",
    "What is a good first step for someone curious about {t}?",
    "Why do so many people find {t} interesting?",
    "What questions should I ask an expert on {t}?",
)


def _task_text(task_type: str, topic: Topic) -> str:
    return TASKS[task_type].format(t=topic.name)


def split_pairs(seed: int = SEED, n_heldout: int = N_HELDOUT) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Disjoint (task type, topic index) pairs: (seed pairs, held-out pairs), both shuffled.

    Held-out pairs are drawn per task type in turn, so every task type is in both sets."""
    rng = np.random.default_rng(seed)
    pairs = [(task, i) for task in TASKS for i in range(len(TOPICS))]
    order = [pairs[int(j)] for j in rng.permutation(len(pairs))]
    held: list[tuple[str, int]] = []
    by_task = {task: [p for p in order if p[0] == task] for task in TASKS}
    while len(held) < n_heldout:
        for task in TASKS:
            if len(held) < n_heldout and by_task[task]:
                held.append(by_task[task].pop())
    held_set = set(held)
    return [p for p in order if p not in held_set], held


def _n_constraints(rng: np.random.Generator) -> int:
    ks = list(N_CONSTRAINTS_P)
    return int(ks[int(rng.choice(len(ks), p=list(N_CONSTRAINTS_P.values())))])


def constraint_prompts(pairs: Sequence[tuple[str, int]], n: int, prefix: str, seed: int,
                       topics: Sequence[Topic] = TOPICS, *, kinds: Sequence[str] | None = None,
                       n_constraints: int | None = None) -> list[Prompt]:
    """``n`` prompts, one per (task type, topic) pair taken in order, each with 1-3 sampled constraints
    (``n_constraints``: exactly that many; ``kinds``: only these kinds, default all).

    Kinds are drawn so that they are spread evenly: each new constraint prefers the kinds used least so far
    (among those compatible with the prompt's other constraints)."""
    if n > len(pairs):
        raise ValueError(f"asked for {n} {prefix} prompts but only {len(pairs)} (task, topic) pairs are available")
    names = list(kinds) if kinds is not None else list(C.KIND_NAMES)
    bad = [k for k in names if k not in C.KIND_NAMES]
    if bad or not names:
        raise ValueError(f"kinds={bad or names}: choose among {', '.join(C.KIND_NAMES)}")
    rng = np.random.default_rng(seed)
    used: Counter[str] = Counter({k: 0 for k in names})
    out = []
    for j, (task_type, ti) in enumerate(pairs[:n]):
        topic = topics[ti]
        task = _task_text(task_type, topic)
        cs: list[dict] = []
        for _ in range(n_constraints if n_constraints is not None else _n_constraints(rng)):
            least = min(used[k] for k in names if k not in {c["kind"] for c in cs})
            rare = [k for k in names if used[k] <= least + 2]
            nxt = C.add_constraint(cs, rng, task=task, vocab=topic.keywords, kinds=rare) \
                or C.add_constraint(cs, rng, task=task, vocab=topic.keywords, kinds=names)
            if nxt is None:
                break
            cs = nxt
            used[cs[-1]["kind"]] += 1
        out.append(Prompt(id=f"{prefix}-{j + 1:04d}", text=C.render_prompt(task, cs), task=task, constraints=cs,
                          domain=topic.domain, operator="seed", iteration=0))
    return out


def chat_prompts(n: int = N_CHAT, seed: int = SEED) -> list[Prompt]:
    """``n`` open questions (no constraints), distinct (template, topic) pairs."""
    rng = np.random.default_rng(seed + 2)
    pairs = [(t, i) for t in range(len(CHAT_TEMPLATES)) for i in range(len(TOPICS))]
    picked = [pairs[int(j)] for j in rng.permutation(len(pairs))[:n]]
    return [Prompt(id=f"chat-{j + 1:04d}", text=CHAT_TEMPLATES[t].format(t=TOPICS[i].name),
                   domain=TOPICS[i].domain, operator="seed", iteration=0) for j, (t, i) in enumerate(picked)]


def pool_pairs(seed: int = SEED) -> list[tuple[str, int]]:
    """(task type, topic index into TOPICS + POOL_TOPICS) pairs for the fresh-prompt pool, shuffled: the pairs of
    TASKS x TOPICS that neither the seed set (its first N_SEED pairs) nor the held-out set uses, and every task
    type on the pool-only topics."""
    seed_pairs, _ = split_pairs(seed)
    unused = seed_pairs[N_SEED:]
    extra = [(task, len(TOPICS) + i) for task in TASKS for i in range(len(POOL_TOPICS))]
    cands = unused + extra
    rng = np.random.default_rng(seed + 3)
    return [cands[int(j)] for j in rng.permutation(len(cands))]


def build(seed: int = SEED) -> dict[str, list[Prompt]]:
    """All five sets, by file name (deterministic for a seed)."""
    seed_pairs, held_pairs = split_pairs(seed)
    return {
        SEED_FILE: constraint_prompts(seed_pairs, N_SEED, "seed", seed),
        HELDOUT_FILE: constraint_prompts(held_pairs, N_HELDOUT, "heldout", seed + 1),
        CHAT_FILE: chat_prompts(N_CHAT, seed),
        POOL_FILE: constraint_prompts(pool_pairs(seed), N_POOL, "pool", seed + 3, TOPICS + POOL_TOPICS),
        EASY_FILE: constraint_prompts(seed_pairs, N_SEED, "easy", seed + 4, kinds=EASY_KINDS, n_constraints=1),
    }


def to_jsonl(prompts: Sequence[Prompt]) -> str:
    return "".join(json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) + "\n" for p in prompts)


# --- the data card -------------------------------------------------------------------------------------

def _table(counter: Counter, total: int, head: tuple[str, str]) -> list[str]:
    rows = [f"| {head[0]} | {head[1]} | share |", "| --- | ---: | ---: |"]
    rows += [f"| {k} | {v} | {v / total:.1%} |" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    return rows


def data_card(sets: dict[str, list[Prompt]], texts: dict[str, str]) -> str:
    seed, held, chat, pool, easy = (sets[k] for k in (SEED_FILE, HELDOUT_FILE, CHAT_FILE, POOL_FILE, EASY_FILE))
    lines = [
        "# Data card: evalab prompt sets",
        "",
        "Written by `python -m evalab.data` (code: `evalab/data.py`); do not edit by hand — every number",
        f"below is computed from the files. Seed {SEED}; re-running the command reproduces the files byte for",
        "byte (`python -m evalab.data --check` verifies this, and so does `tests/test_data.py`).",
        "",
        "## What is here",
        "",
        "| file | prompts | bytes | what |",
        "| --- | ---: | ---: | --- |",
        f"| `{SEED_FILE}` | {len(seed)} | {len(texts[SEED_FILE].encode())} | X_0: instruction-following "
        "prompts with verifiable constraints (eva's initial prompt set) |",
        f"| `{HELDOUT_FILE}` | {len(held)} | {len(texts[HELDOUT_FILE].encode())} | held-out evaluation "
        "prompts of the same kind |",
        f"| `{CHAT_FILE}` | {len(chat)} | {len(texts[CHAT_FILE].encode())} | open questions without "
        "constraints, for reward models and LLM judges |",
        f"| `{POOL_FILE}` | {len(pool)} | {len(texts[POOL_FILE].encode())} | unseen prompts of the seed "
        "set's kind: the pool of the `mode=\"fresh\"` control (the paper's \"+ new human prompts\") |",
        f"| `{EASY_FILE}` | {len(easy)} | {len(texts[EASY_FILE].encode())} | the seed set's tasks with one "
        "constraint each, of a kind the untrained solver meets about half the time: an easier X_0 |",
        "",
        "Each line is an `evalab.prompts.Prompt`: `id` (`seed-0001`, `heldout-0001`, `chat-0001`, `pool-0001`), "
        "`text` (what",
        "the solver sees), `task` (the text without its constraint sentences), `constraints` (a list of",
        "`{\"kind\": ..., **params}` dicts, checked by `evalab.constraints`), `domain`, `parent_id` (null),",
        "`iteration` (0), `operator` (`seed`).",
        "",
        "## How it was generated",
        "",
        f"- {len(TOPICS)} topics in {len({t.domain for t in TOPICS})} domains, each with three keywords, and",
        f"  {len(TASKS)} one-sentence task templates ({', '.join(TASKS)}),",
        f"  all written for this repository: {len(TOPICS) * len(TASKS)} (task type, topic) pairs.",
        f"- The pairs are shuffled (seed {SEED}); {N_HELDOUT} of them, spread over all task types, form the",
        "  held-out set, and the seed set uses only the others: **no (task type, topic) pair, hence no task",
        "  text, of the held-out set occurs in the seed set** (checked in `tests/test_data.py`). Topics and",
        "  task types themselves are shared, so the held-out set measures generalisation to new",
        "  combinations, not to new domains.",
        "- Each prompt gets 1–3 constraints (probabilities "
        + ", ".join(f"{k}: {v:.0%}" for k, v in N_CONSTRAINTS_P.items()) + ")",
        "  through `constraints.add_constraint`, which never adds a kind that conflicts with one already",
        "  there; kinds are balanced by preferring the least-used ones. Keywords come from the topic's",
        "  keywords (exclusions half the time from common filler words such as \"very\" or \"also\").",
        "- The prompt text is `constraints.render_prompt(task, constraints)`: the task, then one short",
        "  sentence per constraint.",
        "- Chat prompts: five question templates × topics, distinct (template, topic) pairs.",
        f"- Easy seed prompts: the seed set's {N_SEED} (task type, topic) pairs, in the same order, each with exactly "
        f"one constraint of {len(EASY_KINDS)} kinds ({', '.join(EASY_KINDS)}; seed {SEED + 4}), balanced as above: "
        "the kinds the untrained solver met on 25–75% of the seed prompts that carried them in",
        "  `data/base_solver_pass_rates.json` (4 prompts per kind, so a coarse cut), less `word_count_min`, whose",
        "  sampled minimums (mostly 60–100 words) the demo's 64-token cap cannot reach.",
        f"- Pool prompts: the {len(TOPICS) * len(TASKS) - N_HELDOUT - N_SEED} (task type, topic) pairs that neither "
        f"the seed nor the held-out set uses, plus the {len(TASKS)} task types on {len(POOL_TOPICS)} topics only "
        f"the pool has ({', '.join(t.name for t in POOL_TOPICS)}), shuffled (seed {SEED + 3}); the first "
        f"{N_POOL} get constraints as the seed set does. **No task text of the seed or held-out set occurs in "
        "the pool** (checked in `tests/test_data.py`), so `mode=\"fresh\"` trains on prompts the run has "
        f"never seen: {N_POOL // 48} iterations of the demo profile's 48 prompts without reuse.",
        "",
        "## Intended use",
        "",
        "- `seed`: the initial prompt set X_0 of an eva run with the verifiable reward",
        "  (`EvaConfig.reward = \"constraints\"`); the creator evolves these prompts.",
        "- `heldout`: the evaluation set (`EvaConfig.eval_set`): constraint satisfaction of the solver",
        "  before and after each iteration. Never train on it.",
        "- `chat`: prompts for a reward model (`rm:<id>`) or an LLM judge (`judge:<model>`), where there is",
        "  nothing to check mechanically.",
        "- `pool`: `EvaConfig.pool_set`, the fresh prompts of the `mode=\"fresh\"` control; never the held-out set.",
        "- `easy`: `EvaConfig.prompt_set` for an easier X_0 (`configs/regime_easy.yaml`), where the solver passes",
        "  a fixed set often enough that it can saturate; the held-out set stays the same.",
        "",
        "How hard the seed prompts are for the untrained embedded solver, per constraint kind:",
        "`python benchmarks/base_solver_pass_rates.py` (greedy, 64 new tokens) writes",
        "`data/base_solver_pass_rates.json`.",
        "",
        "Other artifacts written by evalab's own runs: `demo_run/` (a real 2-iteration run, made by",
        "`scripts/make_demo_run.py`; notebook 02's default; made before runs recorded a manifest.json, so its",
        "config.json is its only record) and `learning_demo.json` (eva vs the static",
        "baseline over 3 seeds on the held-out set) and `learning_demo_lora.json` (LoRA vs full fine-tuning,",
        "2 seeds), both made by `python -m evalab compare` and carrying the manifests of their runs;",
        "`reproduction.json` (the multi-iteration grid, `python -m evalab reproduce`, with the manifests of its",
        "runs), `regime_easy.json` (the same grid's eva and static from the easy seed set) and `creator_training_demo.json` (every proposal of a creator trained with GRPO in a 2-iteration",
        "demo run, written by `evalab.plots.save_creator_training`; notebook 02's section 4c);",
        "the other regimes' files (`regime_all_pairs.json`, `regime_small_set.json`, `regime_high_lr.json`,",
        "`regime_high_lr_ep3.json`, `regime_large_set.json`, each written by `python -m evalab reproduce --config configs/regime_*.yaml`) and",
        "`replication_a_avg.json` (the metric ablation's A*_avg lead re-tested on fresh seeds,",
        "`configs/replication_a_avg.yaml`), `replication_a_avg_confirm.json` (its stated confirmation on seeds",
        "4-9, `configs/replication_a_avg_confirm.yaml`), `aim_frontier.json` (a creator aimed at the frontier beside the",
        "3-epoch regime's eva and static, `configs/aim_frontier.yaml`), `aim_frontier_gentle.json` (a gentler aim",
        "that eases only all-fail prompts, beside those three, `configs/aim_frontier_gentle.yaml`),",
        "`reproduction_seeds.json` (the standard grid's eva and static on 9 seeds, reusing the runs of",
        "`reproduction.json` and `replication_a_avg.json`, `configs/reproduction_seeds.yaml`),",
        "`reproduction_long.json` (the same design's eva and static over 8 iterations on seeds 6-8,",
        "`configs/reproduction_long.yaml`) and `reproduction_long_confirm.json` (its stated confirmation on seeds",
        "4, 5 and 9, `configs/reproduction_long_confirm.yaml`);",
        "`digests/<grid>/<arm>/seed<k>.json` (one per finished run of a grid, written by `python -m evalab",
        "reproduce`: what its results file is computed from, evalab/digest.py; `digests/recipe_pilot/<recipe>/`",
        "holds the training-set recipe pilot, which has digests only); see the README.",
        "",
        "Limitations: templated English, short tasks, a small fixed set of topics; constraint checks are",
        "mechanical (e.g. a bullet is a line starting with `-`, `*`, `+` or `•`; words are runs of letters",
        "and digits). The prompts are meant for research on prompt curricula, not as a benchmark of",
        "general instruction following.",
        "",
    ]
    for name, ps in (("seed", seed), ("held-out", held), ("pool", pool), ("easy seed", easy)):
        cons = [c for p in ps for c in p.constraints]
        lines += [f"## Counts: {name} set ({len(ps)} prompts, {len(cons)} constraints)", ""]
        lines += ["Constraints per prompt:", ""]
        lines += _table(Counter(len(p.constraints) for p in ps), len(ps), ("constraints", "prompts")) + [""]
        lines += ["Constraint kinds:", ""]
        lines += _table(Counter(c["kind"] for c in cons), len(cons), ("kind", "constraints")) + [""]
        lines += ["Domains:", ""]
        lines += _table(Counter(p.domain for p in ps), len(ps), ("domain", "prompts")) + [""]
        words = [len(p.text.split()) for p in ps]
        lines += [f"Prompt length: {min(words)}–{max(words)} words (mean {np.mean(words):.1f}).", ""]
    lines += [f"## Counts: chat set ({len(chat)} prompts)", ""]
    lines += _table(Counter(p.domain for p in chat), len(chat), ("domain", "prompts")) + [""]
    return "\n".join(lines)


def render_files(seed: int = SEED) -> dict[str, str]:
    """File name -> file content, for all five sets and the data card."""
    sets = build(seed)
    texts = {name: to_jsonl(ps) for name, ps in sets.items()}
    texts[CARD_FILE] = data_card(sets, texts)
    return texts


def write(out_dir: str | Path = REPO_ROOT / "data", seed: int = SEED) -> dict[str, Path]:
    from .store import atomic_write_text

    out = Path(out_dir)
    paths = {}
    for name, text in render_files(seed).items():
        atomic_write_text(out / name, text)
        paths[name] = out / name
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evalab.data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO_ROOT / "data"), help="output directory (default: the repo's data/)")
    ap.add_argument("--check", action="store_true", help="only compare the files in --out with what the code builds")
    a = ap.parse_args(argv)
    if a.check:
        stale = [name for name, text in render_files().items()
                 if not (Path(a.out) / name).exists() or (Path(a.out) / name).read_text() != text]
        if stale:
            print(f"out of date in {a.out}: {', '.join(stale)} (run `python -m evalab.data`)")
            return 1
        print(f"{a.out}: up to date")
        return 0
    for name, path in write(a.out).items():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
