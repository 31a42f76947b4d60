"""Learning test (CI budget, < 90 s on 2 cores): GRPO against the verifiable reward raises held-out
accuracy on 2-digit addition, by a margin far outside seed, CPU and package noise (issue 9).

Why this design: the earlier version stopped SFT after a fixed 300 steps and asked GRPO for +0.03
greedy accuracy; where SFT stopped (0.32 on one machine, 0.49 on another) and the gain (+0.01..+0.06)
were both inside numerical noise. Here the warm start is weak in a controlled way instead:

1. A noisy teacher. Its worked solutions are all correct, but when the sum has a final carry
   (a + b >= 100, ~60% of problems) it drops the carry from the ``<answer>`` 70% of the time
   (``86+67`` -> ``...8+6+1=15</think><answer>53</answer>``). SFT on it learns the steps and, on
   carry problems, to prefer the wrong answer: greedy decoding gets those wrong whatever the
   numerics, while sampling still finds the right one often enough to give GRPO a signal.
2. SFT runs until the model solves most carry-free training problems (a band, checked every
   ``CHECK_EVERY`` steps) rather than for a fixed count, so GRPO starts from the same competence on
   every machine.
3. GRPO on the true reward (the checker, not the teacher) must then undo the teacher's habit: the
   test asks for a large held-out gain AND, on the same held-out problems, many more fixed than
   broken (a paired comparison, immune to where the starting accuracy happens to land).

Measured on a shared 2-core machine (seeds 0-4 via SEUSEURO_TEST_SEED), SFT batch 32 and 40 GRPO steps
(issue 9: ~25% less time than batch 64 and 60 steps, whose gains were +0.43..+0.56): SFT stopped after
450-550 steps; greedy held-out accuracy went 0.493->0.943, 0.480->0.910, 0.390->0.910, 0.437->0.930,
0.463->0.933 (gains +0.43..+0.52 against MIN_GAIN 0.25); GRPO fixed 130-159 held-out problems and
broke 1-6.
"""

import dataclasses

import jax
import numpy as np
import pytest

from seuseuro.algos import grpo
from seuseuro.envs.text import make_task
from seuseuro.envs.text.arithmetic import addition_steps
from seuseuro.envs.text.task import Problem, format_completion
from seuseuro.lm import sft
from seuseuro.lm.model import LMConfig, Transformer
from seuseuro.lm.rollout import complete, prompt_length
from seuseuro.lm.sample import SamplingConfig
from seuseuro.lm.tokenizer import train_tokenizer

DROP_CARRY = 0.7  # teacher's rate of dropping the final carry: > 0.5, so greedy starts wrong on carry problems
SFT_BAND = 0.9  # SFT stops once greedy solves this fraction of carry-free training problems
CHECK_EVERY, MAX_SFT_STEPS = 50, 800
MIN_GAIN = 0.25  # held-out greedy accuracy, after GRPO minus before (measured +0.43..+0.52, seeds 0-4)
MIN_FIXED_PER_BROKEN = 3.0  # paired: problems GRPO fixed per problem it broke


def has_carry(p: Problem) -> bool:
    return len(p.answer) == 3


def noisy_teacher(problems: list[Problem], drop: float, seed: int) -> list[Problem]:
    """The same problems with a worked solution whose answer loses its final carry with probability ``drop``."""
    rng = np.random.default_rng([seed, 9])
    out = []
    for p in problems:
        if has_carry(p) and rng.random() < drop:
            a, b = p.data
            p = dataclasses.replace(p, solution=format_completion(addition_steps(a, b), p.answer[1:]))
        out.append(p)
    return out


def run(seed: int) -> dict:
    """SFT on the noisy teacher up to the band, then GRPO on the checker; per-problem greedy scores before/after."""
    task = make_task("addition", digits=2)
    train, test = task.sample(4000, seed, "train"), task.sample(300, seed, "test")
    tok = train_tokenizer([t for p in train[:1000] for t in (p.prompt, p.solution)], 64)
    config = LMConfig(
        vocab_size=tok.vocab_size, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_ff=192, max_seq_len=48
    )
    budget = max(len(tok.encode(p.solution)) for p in train) + 2
    plen = prompt_length(tok, [p.prompt for p in train + test])
    greedy = SamplingConfig(max_new_tokens=budget, temperature=0.0)

    def scores(model, problems: list[Problem]) -> np.ndarray:
        out = complete(model, tok, [p.prompt for p in problems], jax.random.key(5), greedy, plen)
        return np.array([task.score(p, text) for p, text in zip(problems, out.texts, strict=True)])

    # 1. SFT on the noisy teacher until the carry-free band is reached
    sft_config = sft.SFTConfig(steps=MAX_SFT_STEPS, batch_size=32, learning_rate=3e-3, num_problems=4000)
    data = sft.make_sft_data(noisy_teacher(train, DROP_CARRY, seed), tok, config.max_seq_len)
    optimizer = sft.make_optimizer(sft_config)
    state = sft.init_state(Transformer.init(config, jax.random.key(seed)), optimizer)
    step = sft.make_train_step(optimizer)
    probe = [p for p in train[:400] if not has_carry(p)][:128]
    for i in range(MAX_SFT_STEPS):
        idx = sft.batch_indices(seed, i, len(train), sft_config.batch_size)
        state, _ = step(state, data.tokens[idx], data.valid[idx], data.loss_mask[idx])
        if (i + 1) % CHECK_EVERY == 0 and scores(state.model, probe).mean() >= SFT_BAND:
            break
    sft_steps = i + 1
    before = scores(state.model, test)
    # 2. GRPO on the training split against the checker's 0/1 reward
    cfg = grpo.Config(steps=40, prompts_per_step=16, group_size=8, max_new_tokens=budget, learning_rate=1e-4)
    gstate = grpo.init_state(state.model, cfg)
    update = grpo.make_update(cfg, plen)
    for i in range(cfg.steps):
        problems = [train[j] for j in np.random.default_rng([seed, 1, i]).integers(0, len(train), cfg.prompts_per_step)]
        batch, _ = grpo.rollout(gstate, None, tok, problems, task.score, jax.random.key(1000 * seed + i), cfg, plen)
        gstate, _ = update(gstate, batch)
    after = scores(gstate.model, test)
    carry = np.array([has_carry(p) for p in test])
    return {
        "sft_steps": sft_steps,
        "before": before,
        "after": after,
        "carry": carry,
        "fixed": int(((after == 1) & (before < 1)).sum()),
        "broken": int(((after < 1) & (before == 1)).sum()),
    }


@pytest.mark.slow
def test_grpo_raises_held_out_accuracy_after_sft(learning_seed):
    r = run(learning_seed)
    before, after, carry = r["before"], r["after"], r["carry"]
    summary = {k: round(float(v), 3) for k, v in [("before", before.mean()), ("after", after.mean())]}
    summary |= {"sft_steps": r["sft_steps"], "fixed": r["fixed"], "broken": r["broken"]}
    # the controlled weakness took hold: SFT is competent without a carry and wrong with one
    assert r["sft_steps"] < MAX_SFT_STEPS, summary
    # (measured: carry-free 0.84-0.96, carry 0.006-0.251 on seeds 0-4)
    assert before[~carry].mean() > 0.7 and before[carry].mean() < 0.5, summary
    assert after.mean() >= before.mean() + MIN_GAIN, summary
    assert r["fixed"] >= MIN_FIXED_PER_BROKEN * max(r["broken"], 1), summary
