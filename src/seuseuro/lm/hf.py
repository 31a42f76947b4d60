"""Load a Hugging Face Qwen2 or Llama checkpoint directory (config.json + *.safetensors +
tokenizer.json) into :class:`~seuseuro.lm.model.Transformer`; nothing is downloaded.

Weights keep Hugging Face's ``(out, in)`` layout, so loading is a renaming. Sharded checkpoints
(``model.safetensors.index.json``) are read shard by shard. bfloat16/float16 weights are cast to
float32. Unsupported variants (RoPE scaling, sliding windows, other architectures) are refused with
a clear error rather than loaded wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from seuseuro.errors import UserError
from seuseuro.lm.model import MLP, Attention, Block, LMConfig, RMSNorm, Transformer
from seuseuro.lm.tokenizer import TextTokenizer

SUPPORTED = ("qwen2", "llama")


def config_from_hf(cfg: dict) -> LMConfig:
    """Our :class:`LMConfig` from a Hugging Face config.json dict."""
    model_type = cfg.get("model_type")
    if model_type not in SUPPORTED:
        raise UserError(f"model_type {model_type!r} is not supported; lm/hf.py loads {' and '.join(SUPPORTED)}")
    if cfg.get("rope_scaling"):
        raise UserError(f"rope_scaling {cfg['rope_scaling']} is not supported; use a checkpoint without it")
    if model_type == "qwen2" and cfg.get("use_sliding_window"):
        raise UserError("sliding-window attention is not supported; set use_sliding_window=false")
    if cfg.get("hidden_act", "silu") != "silu":
        raise UserError(f"hidden_act {cfg['hidden_act']!r} is not supported (SwiGLU needs silu)")
    heads = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    return LMConfig(
        vocab_size=cfg["vocab_size"],
        d_model=cfg["hidden_size"],
        n_layers=cfg["num_hidden_layers"],
        n_heads=heads,
        n_kv_heads=cfg.get("num_key_value_heads") or heads,
        d_ff=cfg["intermediate_size"],
        max_seq_len=cfg.get("max_position_embeddings", 2048),
        rope_theta=float(cfg.get("rope_theta", 10000.0)),
        norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        qkv_bias=True if model_type == "qwen2" else bool(cfg.get("attention_bias", False)),
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        head_dim=head_dim if head_dim != cfg["hidden_size"] // heads else 0,
    )


def _read_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.flax import load_file  # handles bfloat16, which NumPy cannot

    index = path / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else None
    if files is None:
        files = [p.name for p in sorted(path.glob("*.safetensors"))]
    if not files:
        raise UserError(f"no *.safetensors in {path}; save the model with safe_serialization=True")
    tensors: dict[str, np.ndarray] = {}
    for name in files:
        for k, v in load_file(str(path / name)).items():
            tensors[k] = v.astype(jnp.float32)
    return tensors


def load_hf_model(path: str | Path) -> Transformer:
    """The model of a Hugging Face checkpoint directory."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise UserError(f"{path} has no config.json; pass a Hugging Face checkpoint directory")
    config = config_from_hf(json.loads((path / "config.json").read_text()))
    t = _read_tensors(path)
    used: set[str] = set()

    def get(name: str, optional: bool = False):
        if name not in t:
            if optional:
                return None
            raise UserError(f"checkpoint {path} lacks tensor {name}; it is not a complete {SUPPORTED} model")
        used.add(name)
        return t[name]

    def check(x, shape, name):
        if x is not None and tuple(x.shape) != shape:
            raise UserError(f"tensor {name} has shape {tuple(x.shape)} but config.json implies {shape}")
        return x

    c, hd = config, config.hd
    blocks = []
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        w = lambda n, shape: check(get(n), shape, n)  # noqa: B023 - used at once
        b = lambda n, shape: check(get(n, optional=not c.qkv_bias), shape, n)  # noqa: B023
        attn = Attention(
            w(a + "q_proj.weight", (c.n_heads * hd, c.d_model)),
            w(a + "k_proj.weight", (c.n_kv_heads * hd, c.d_model)),
            w(a + "v_proj.weight", (c.n_kv_heads * hd, c.d_model)),
            w(a + "o_proj.weight", (c.d_model, c.n_heads * hd)),
            b(a + "q_proj.bias", (c.n_heads * hd,)),
            b(a + "k_proj.bias", (c.n_kv_heads * hd,)),
            b(a + "v_proj.bias", (c.n_kv_heads * hd,)),
            c.n_heads,
            c.n_kv_heads,
            hd,
        )
        mlp = MLP(
            w(p + "mlp.gate_proj.weight", (c.d_ff, c.d_model)),
            w(p + "mlp.up_proj.weight", (c.d_ff, c.d_model)),
            w(p + "mlp.down_proj.weight", (c.d_model, c.d_ff)),
        )
        blocks.append(
            Block(
                RMSNorm(w(p + "input_layernorm.weight", (c.d_model,)), c.norm_eps),
                attn,
                RMSNorm(w(p + "post_attention_layernorm.weight", (c.d_model,)), c.norm_eps),
                mlp,
            )
        )
    embed = check(get("model.embed_tokens.weight"), (c.vocab_size, c.d_model), "embed_tokens")
    head = None if c.tie_embeddings else check(get("lm_head.weight"), (c.vocab_size, c.d_model), "lm_head")
    norm = RMSNorm(get("model.norm.weight"), c.norm_eps)
    return Transformer(embed, tuple(blocks), norm, head, config)


def load_hf_tokenizer(path: str | Path) -> TextTokenizer:
    """The tokenizer.json of a checkpoint, with EOS/pad taken from its config files."""
    path = Path(path)
    eos_name = pad_name = None
    tc = path / "tokenizer_config.json"
    if tc.exists():
        cfg = json.loads(tc.read_text())
        eos_name = _token_name(cfg.get("eos_token"))
        pad_name = _token_name(cfg.get("pad_token"))
    if eos_name is None:
        raise UserError(f"{path} has no tokenizer_config.json naming an eos_token; add one")
    return TextTokenizer.load(path / "tokenizer.json", eos_token=eos_name, pad_token=pad_name)


def _token_name(entry) -> str | None:
    return entry.get("content") if isinstance(entry, dict) else entry
