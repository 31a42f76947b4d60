"""Learning test (CI budget, < 90 s on 2 cores): after a short SFT warm start, GRPO raises held-out
accuracy on 2-digit addition. Deterministic (fixed seeds and problems)."""

import jax
import numpy as np
import pytest

from seuseuro.algos import grpo
from seuseuro.envs.text import make_task
from seuseuro.lm import sft
from seuseuro.lm.model import LMConfig, Transformer
from seuseuro.lm.rollout import evaluate, prompt_length
from seuseuro.lm.sample import SamplingConfig
from seuseuro.lm.tokenizer import train_tokenizer


@pytest.mark.slow
def test_grpo_raises_held_out_accuracy_after_sft():
    task = make_task("addition", digits=2)
    train, test = task.sample(4000, 0, "train"), task.sample(300, 0, "test")
    tok = train_tokenizer([t for p in train[:1000] for t in (p.prompt, p.solution)], 64)
    config = LMConfig(
        vocab_size=tok.vocab_size, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=192, max_seq_len=48
    )
    # 1. SFT warm start, deliberately short: the model knows the format but often errs
    sft_config = sft.SFTConfig(steps=300, batch_size=32, learning_rate=3e-3, num_problems=4000)
    data = sft.make_sft_data(train, tok, config.max_seq_len)
    optimizer = sft.make_optimizer(sft_config)
    state = sft.init_state(Transformer.init(config, jax.random.key(0)), optimizer)
    step = sft.make_train_step(optimizer)
    for i in range(sft_config.steps):
        idx = sft.batch_indices(0, i, len(train), sft_config.batch_size)
        state, _ = step(state, data.tokens[idx], data.valid[idx], data.loss_mask[idx])
    budget = max(len(tok.encode(p.solution)) for p in train) + 2
    plen = prompt_length(tok, [p.prompt for p in train + test])
    greedy = SamplingConfig(max_new_tokens=budget, temperature=0.0)

    def accuracy(model) -> float:
        return evaluate(model, tok, task, test, jax.random.key(5), greedy, batch_size=300, prompt_len=plen).accuracy

    before = accuracy(state.model)
    assert 0.1 < before < 0.7  # room to improve, and signal for RL
    # 2. GRPO on the training split
    cfg = grpo.Config(steps=60, prompts_per_step=16, group_size=8, max_new_tokens=budget, learning_rate=5e-5)
    gstate = grpo.init_state(state.model, cfg)
    update = grpo.make_update(cfg, plen)
    for i in range(cfg.steps):
        problems = [train[j] for j in np.random.default_rng([0, i]).integers(0, len(train), cfg.prompts_per_step)]
        batch, _ = grpo.rollout(gstate, None, tok, problems, task.score, jax.random.key(100 + i), cfg, plen)
        gstate, _ = update(gstate, batch)
    after = accuracy(gstate.model)
    assert after >= before + 0.03, (before, after)
