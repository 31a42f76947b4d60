"""Side by side in one run: generation tokens/s and GRPO step time, seuseuro (JAX) vs TRL's
GRPOTrainer (PyTorch, CPU).

Same model on both sides, the TRL peer's (/work/shared/peers/trl_grpo_cpu.py): a random Qwen2 with
hidden 128, intermediate 384, 4 layers, 4 heads, 2 key/value heads, tied embeddings (~0.8M
parameters); 32 completions per step (4 prompts x group 8), answers of at most 32 tokens, one
gradient step per batch.

- tokens/s: 32 sequences x 32 new tokens sampled at temperature 1 without early stop (TRL side:
  ``model.generate(min_new_tokens=32)``, the generation its trainer calls; ours: ``lm.sample.generate``),
  median of 5 timed calls after one warm-up.
- step time: median over steps 2..N of a full GRPO step (generation + rewards + loss + optimizer).
  The first step (compilation for JAX, warm-up for PyTorch) is reported separately.

The peer runs in its own virtual environment (benchmarks/.venv-trl, made with
``python -m venv`` and ``pip install torch==2.13.0 trl transformers datasets``), never in the
system python. Results: benchmarks/out/lm_vs_trl.json, and the table printed for BENCHMARKS.md.

    python benchmarks/lm_vs_trl.py [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "benchmarks" / ".venv-trl"
OUT = REPO / "benchmarks" / "out"

PEER = textwrap.dedent(
    """
    import json, os, statistics, sys, time
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    torch.manual_seed(0)
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, TrainerCallback
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    steps = int(sys.argv[1]); out_dir = sys.argv[2]
    chars = list("0123456789+-*/=() <>abcdefghijklmnopqrstuvwxyz")
    vocab = {c: i for i, c in enumerate(["<pad>", "<eos>"] + chars)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>")
    cfg = Qwen2Config(vocab_size=len(vocab), hidden_size=128, intermediate_size=384, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      pad_token_id=0, eos_token_id=1, bos_token_id=1, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(cfg)
    params = sum(p.numel() for p in model.parameters())
    # generation throughput: 32 sequences x 32 new tokens
    prompts = torch.randint(2, len(vocab), (32, 8))
    gen_times = []
    with torch.no_grad():
        for i in range(6):
            t = time.perf_counter()
            model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True, temperature=1.0,
                           max_new_tokens=32, min_new_tokens=32, pad_token_id=0)
            if i: gen_times.append(time.perf_counter() - t)
    import random
    random.seed(0)
    rows = [{"prompt": f"{a}+{b}=", "answer": str(a + b)}
            for a, b in ((random.randint(10, 99), random.randint(10, 99)) for _ in range(256))]
    def reward(completions, answer, **kw):
        return [1.0 if c.strip().startswith(a) else 0.0 for c, a in zip(completions, answer)]
    step_times = []
    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw): self.t = time.perf_counter()
        def on_step_end(self, args, state, control, **kw): step_times.append(time.perf_counter() - self.t)
    args = GRPOConfig(output_dir=out_dir, per_device_train_batch_size=32, num_generations=8,
                      max_completion_length=32, max_steps=steps, logging_steps=1, learning_rate=1e-4,
                      bf16=False, use_cpu=True, report_to=[], gradient_checkpointing=False, save_strategy="no")
    tr = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=Dataset.from_list(rows),
                     processing_class=hf_tok, callbacks=[Timer()])
    tr.train()
    print(json.dumps({"params": params, "gen_s": statistics.median(gen_times), "first_step_s": step_times[0],
                      "step_s": statistics.median(step_times[1:]), "torch": torch.__version__}))
    """
)


def run_peer(steps: int) -> dict:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "torch==2.13.0", "trl", "transformers", "datasets"],
                       check=True)  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    script = OUT / "trl_peer.py"
    script.write_text(PEER)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "OMP_NUM_THREADS": "2", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([str(python), str(script), str(steps), str(OUT / "trl_out")], capture_output=True,
                          text=True, env=env, timeout=1800, cwd=OUT)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"TRL peer failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(steps: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from seuseuro.algos import grpo
    from seuseuro.envs.text import make_task
    from seuseuro.lm.model import LMConfig, Transformer, count_params
    from seuseuro.lm.rollout import prompt_length
    from seuseuro.lm.sample import SamplingConfig, generate
    from seuseuro.lm.tokenizer import train_tokenizer

    task = make_task("addition", digits=2)
    problems = task.sample(256, 0, "train")
    tok = train_tokenizer([t for p in problems for t in (p.prompt, p.solution)], 64)
    config = LMConfig(vocab_size=49, d_model=128, n_layers=4, n_heads=4, n_kv_heads=2, d_ff=384, max_seq_len=256,
                      tie_embeddings=True)  # fmt: skip
    model = Transformer.init(config, jax.random.key(0))
    # generation throughput, 32 x 32 tokens, no early stop
    prompt = jnp.asarray(np.random.default_rng(0).integers(3, 49, (32, 8)), jnp.int32)
    sampling = SamplingConfig(max_new_tokens=32, temperature=1.0)
    gen_times = []
    for i in range(6):
        t = time.perf_counter()
        jax.block_until_ready(generate(model, prompt, jnp.ones_like(prompt, bool), jax.random.key(i), sampling, 0))
        if i:
            gen_times.append(time.perf_counter() - t)
    cfg = grpo.Config(prompts_per_step=4, group_size=8, max_new_tokens=32, learning_rate=1e-4)
    plen = prompt_length(tok, [p.prompt for p in problems])
    state = grpo.init_state(model, cfg)
    update = grpo.make_update(cfg, plen)
    step_times = []
    for step in range(steps):
        t = time.perf_counter()
        batch_problems = [problems[i] for i in np.random.default_rng(step).integers(0, 256, 4)]
        batch, _ = grpo.rollout(state, None, tok, batch_problems, task.score, jax.random.key(step), cfg, plen)
        state, metrics = update(state, batch)
        jax.block_until_ready(metrics)
        step_times.append(time.perf_counter() - t)
    return {"params": count_params(model), "gen_s": statistics.median(gen_times), "first_step_s": step_times[0],
            "step_s": statistics.median(step_times[1:]), "jax": jax.__version__}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    peer = run_peer(args.steps)
    ours = run_ours(args.steps)
    tokens = 32 * 32
    result = {
        "setting": "random Qwen2 128/384/4 layers/GQA 4:2, 32 completions x <=32 tokens, group 8, 2-core CPU",
        "trl": {**peer, "tokens_per_s": tokens / peer["gen_s"]},
        "seuseuro": {**ours, "tokens_per_s": tokens / ours["gen_s"]},
    }
    result["speedup_tokens_per_s"] = result["seuseuro"]["tokens_per_s"] / result["trl"]["tokens_per_s"]
    result["speedup_step"] = peer["step_s"] / ours["step_s"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lm_vs_trl.json").write_text(json.dumps(result, indent=2))
    t, o = result["trl"], result["seuseuro"]
    print("| | params | generation tokens/s | GRPO step (median) | first step |")
    print("|---|---|---|---|---|")
    print(f"| TRL GRPOTrainer (PyTorch {t['torch']}) | {t['params']:,} | {t['tokens_per_s']:,.0f} | "
          f"{t['step_s']:.2f} s | {t['first_step_s']:.2f} s |")  # fmt: skip
    print(f"| seuseuro (JAX {o['jax']}) | {o['params']:,} | {o['tokens_per_s']:,.0f} | {o['step_s']:.2f} s | "
          f"{o['first_step_s']:.2f} s (compile) |")  # fmt: skip
    print(f"| ratio | | {result['speedup_tokens_per_s']:.1f}x | {result['speedup_step']:.1f}x faster | |")


if __name__ == "__main__":
    main()
