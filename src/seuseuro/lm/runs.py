"""A language-model run directory's own files, and loading a model from one (or from a Hugging Face
checkpoint directory).

Besides config.json and metrics.csv an LM run holds ``tokenizer.json`` (trained with the run),
``checkpoints/latest.npz`` (the whole training state, for ``--resume``) and
``checkpoints/model.npz`` (the model alone, for ``--init``, ``eval`` and ``sample``). The model's
shape is in config.json under ``lm``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from seuseuro.errors import UserError
from seuseuro.lm.model import LMConfig
from seuseuro.runs import RunDir, config_from_dict

MODEL_FILE = "model.npz"
TOKENIZER_FILE = "tokenizer.json"
LM_ALGOS = ("sft", "grpo")


# ---------------------------------------------------------------------------------------------------
def parse_task_options(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"task option {item!r} is not key=value (e.g. digits=2)")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def lm_config_from_dict(d: dict, source: str | Path = "config.json") -> LMConfig:
    return config_from_dict(LMConfig, d, f"{source} (model description 'lm')")


def load_lm(path: Path):
    """``(model, tokenizer, record)`` of a seuseuro LM run or a Hugging Face checkpoint directory."""
    import jax

    from seuseuro.core.checkpoint import load_checkpoint
    from seuseuro.lm.hf import load_hf_model, load_hf_tokenizer
    from seuseuro.lm.model import Transformer
    from seuseuro.lm.tokenizer import TextTokenizer

    path = Path(path)
    if (path / "config.json").exists() and list(path.glob("*.safetensors")):
        model, tok = load_hf_model(path), load_hf_tokenizer(path)
        record: dict[str, Any] = {"algo": "hf", "lm": dataclasses.asdict(model.config)}
    else:
        run = RunDir.open(path)
        record = run.record
        if run.algo not in LM_ALGOS or "lm" not in record:
            raise UserError(f"{path} is a {run.algo} run, not a language-model run (sft or grpo)")
        config = lm_config_from_dict(record["lm"], path / "config.json")
        template = Transformer.init(config, jax.random.key(0))
        model, _ = load_checkpoint(run.checkpoint_dir / MODEL_FILE, template)
        tok = TextTokenizer.load(path / TOKENIZER_FILE, **record.get("special_tokens", {}))
    if tok.vocab_size > model.config.vocab_size:
        raise UserError(
            f"the tokenizer has {tok.vocab_size} tokens but the model only {model.config.vocab_size}: "
            "they do not belong together; use the tokenizer.json saved with the model"
        )
    return model, tok, record


def save_model(run: RunDir, model, step: int) -> None:
    from seuseuro.core.checkpoint import save_checkpoint

    save_checkpoint(run.checkpoint_dir / MODEL_FILE, model, {"step": step, "lm": dataclasses.asdict(model.config)})


def task_from(record: dict, task: str | None, options: tuple[str, ...] | None):
    from seuseuro.envs.text import make_task

    name = task or record.get("task")
    if name is None:
        raise UserError("no task given and the --init checkpoint names none; pass --task")
    if options is not None and (options or task):
        opts = parse_task_options(options)
    else:
        opts = record.get("task_options", {}) if name == record.get("task") else {}
    return make_task(name, **opts), name, opts
