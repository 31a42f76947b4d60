"""Sampling: the KV cache changes nothing, stop tokens, greedy, top-p, context overflow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.errors import UserError
from seuseuro.lm.model import LMConfig, Transformer
from seuseuro.lm.sample import SamplingConfig, generate, generate_uncached, sample_token


@pytest.fixture(scope="module")
def model():
    return Transformer.init(LMConfig(vocab_size=24, d_model=32, n_layers=2, d_ff=48, max_seq_len=32), jax.random.key(1))


def _prompts():
    prompt = jnp.array([[0, 0, 5, 6], [7, 8, 9, 10], [0, 11, 12, 13]], jnp.int32)
    return prompt, prompt != 0


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.8, 0.9), (0.0, 1.0)])
def test_cached_sampling_equals_uncached(model, temperature, top_p):
    prompt, valid = _prompts()
    cfg = SamplingConfig(max_new_tokens=12, temperature=temperature, top_p=top_p, stop_ids=(3,))
    key = jax.random.key(7)
    a = generate(model, prompt, valid, key, cfg, 0)
    b = generate_uncached(model, prompt, valid, key, cfg, 0)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_stop_tokens_pad_the_rest(model):
    prompt, valid = _prompts()
    # high temperature over a small vocabulary: a stop token appears quickly
    cfg = SamplingConfig(max_new_tokens=20, temperature=5.0, stop_ids=(3, 4, 5))
    tokens, lengths, finished = (np.asarray(x) for x in generate(model, prompt, valid, jax.random.key(0), cfg, 0))
    for row, n, f in zip(tokens, lengths, finished, strict=True):
        if f:
            assert row[n - 1] in (3, 4, 5) and not set(row[: n - 1]) & {3, 4, 5}
            assert (row[n:] == 0).all()
        else:
            assert n == 20
    assert finished.any()


def test_top_p_keeps_only_the_nucleus():
    logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
    keys = jax.random.split(jax.random.key(0), 200)
    draws = set(np.asarray(jax.jit(jax.vmap(lambda k: sample_token(k, logits, 1.0, 0.7)[0]))(keys)).tolist())
    assert draws == {0, 1}  # 0.5 < 0.7 so token 1 is needed; 0.8 >= 0.7 so 2 and 3 are cut
    assert int(sample_token(jax.random.key(0), logits, 0.0, 1.0)[0]) == 0


def test_prompt_longer_than_context_is_a_user_error(model):
    prompt = jnp.ones((1, 30), jnp.int32)
    with pytest.raises(UserError, match="exceed the model's context"):
        generate(model, prompt, prompt != 0, jax.random.key(0), SamplingConfig(max_new_tokens=8), 0)
