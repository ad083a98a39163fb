"""Evolution operators and their prompt templates (the creator's step-4 vocabulary).

    from evalab.operators import OPERATORS, build_messages
    build_messages("deepen", "Explain how tides work.")      # the chat messages sent to the creator LLM

Operators (Xu et al. 2023, WizardLM's Evol-Instruct, as used by distilabel's EvolInstruct and by eva,
Ye et al. 2024 §3.2). The templates say the same things as the originals, in evalab's own words:

- in-depth (a harder version of the same prompt): ``add_constraints`` (one or two more requirements),
  ``deepen`` (ask for more depth on the subject), ``concretize`` (general -> specific),
  ``reasoning`` (the answer has to work through several explicit steps);
- in-breadth: ``breadth`` (a brand-new prompt of the *same domain*, on a rarer, less common topic of it,
  about as long and as hard as the example);
- structured only: ``harden`` (one constraint made stricter, in code; see ``evalab.constraints``);
- easing, structured only and never drawn at random: ``relax`` (one constraint dropped, or the only one loosened;
  ``evalab.constraints.relax``). With ``creator_aim="frontier"`` it replaces ``add_constraints`` / ``harden`` in
  the chains of selected prompts the solver mostly fails, so evolution moves them toward the frontier.
"""

from __future__ import annotations

IN_DEPTH = ("add_constraints", "deepen", "concretize", "reasoning")
IN_BREADTH = ("breadth",)
STRUCTURED_ONLY = ("harden",)
OPERATORS = IN_DEPTH + IN_BREADTH + STRUCTURED_ONLY
FREE_TEXT_OPERATORS = IN_DEPTH + IN_BREADTH  # what EvolInstructCreator can apply
CODE_OPERATORS = ("add_constraints", "harden")  # StructuredEvolver applies these without an LLM
EASING_OPERATORS = ("relax",)  # creator_aim="frontier" only: stands in for a code operator on an eased chain

# =====================================================================================================
# Operator templates (our own wording). The creator must answer with the new prompt only.
# =====================================================================================================

_IN_DEPTH_INSTRUCTIONS = {
    "add_constraints": (
        "Make it more demanding by adding one or two specific requirements the answer has to meet, for "
        "example a format, a length limit, a detail that must appear, or something to avoid. Keep the "
        "original request intact."),
    "deepen": (
        "Make it ask for more depth on the same subject: for example the reasons behind something, the "
        "trade-offs between options, or the cases where the usual answer stops being true."),
    "concretize": (
        "Make it more specific: replace general wording with a particular situation, a named example, a "
        "definite audience or concrete numbers, so that the request becomes narrower and more precise."),
    "reasoning": (
        "Change it so that a good answer has to work through several explicit steps of reasoning, such as "
        "comparing, calculating or deducing, instead of stating a single fact."),
}

_FREE_RULES = (
    "Rules:\n"
    "- The result must be one self-contained prompt that a person could send to an assistant.\n"
    "- Do not answer the prompt and do not explain what you changed.\n"
    "- Do not refer to 'the original prompt', 'the rewritten prompt' or anything similar.\n"
    "- {length_rule}\n"
    "- Reply with the text of the new prompt and nothing else.")

_TASK_ONLY_RULE = ("- Do not add rules about the form of the answer (word or sentence limits, bullet points, "
                   "capital letters, keywords, titles); those are added separately.\n")

_IN_DEPTH_TEMPLATE = (
    "You write prompts used to train an AI assistant. Here is an existing prompt:\n\n"
    "\"\"\"\n{text}\n\"\"\"\n\n"
    "{instruction}\n\n{rules}\n\nNew prompt:")

_BREADTH_TEMPLATE = (
    "You write prompts used to train an AI assistant. Here is an example prompt{domain_part}:\n\n"
    "\"\"\"\n{text}\n\"\"\"\n\n"
    "Write one brand-new prompt that belongs to the same domain as the example but is about something "
    "rarer within it: a less common case, topic or situation that people seldom ask about. Keep it about as "
    "long and as difficult as the example.\n\n{rules}\n\nNew prompt:")


def build_messages(operator: str, text: str, *, domain: str = "", task_only: bool = False) -> list[dict[str, str]]:
    """The chat messages asking the creator to apply ``operator`` to ``text`` (a prompt or a bare task).

    ``task_only`` (structured evolver) adds a rule that keeps answer-format requirements out of the task,
    since those live in the checkable constraints.
    """
    if operator not in FREE_TEXT_OPERATORS:
        raise ValueError(f"operator={operator!r}: no LLM template; choose one of {FREE_TEXT_OPERATORS}")
    n_words = len(text.split())
    if operator == "breadth":
        length_rule = f"Keep it roughly as long as the example (about {max(n_words, 5)} words)."
    else:
        length_rule = "Add no more than 25 words to the existing prompt."
    rules = _FREE_RULES.format(length_rule=length_rule)
    if task_only:
        rules = rules.replace("- Reply with", _TASK_ONLY_RULE + "- Reply with")
    if operator == "breadth":
        domain_part = f" from the domain '{domain}'" if domain else ""
        content = _BREADTH_TEMPLATE.format(text=text.strip(), domain_part=domain_part, rules=rules)
    else:
        content = _IN_DEPTH_TEMPLATE.format(text=text.strip(), instruction=_IN_DEPTH_INSTRUCTIONS[operator],
                                            rules=rules)
    return [{"role": "user", "content": content}]


__all__ = [
    "IN_DEPTH", "IN_BREADTH", "STRUCTURED_ONLY", "OPERATORS", "FREE_TEXT_OPERATORS", "CODE_OPERATORS",
    "build_messages",
]
