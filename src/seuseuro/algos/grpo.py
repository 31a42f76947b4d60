"""GRPO and its relatives (Dr. GRPO, DAPO) for language models with verifiable rewards.

Reproduced, top to bottom:
1. Rollout: for each prompt, sample G answers (``group_size``) with temperature; a checker scores
   each (envs/text). DeepSeekMath (Shao et al. 2024), section 4.1.
2. Group-relative advantage: ``A_i = (r_i - mean(r)) / (std(r) + eps)`` within each group, shared by
   every token of the answer. Dr. GRPO (Liu et al. 2025) drops the std division: ``scale_rewards=False``.
3. Clipped ratio objective ``min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)`` per token, with the
   decoupled (asymmetric) clip range of DAPO (Yu et al. 2025: eps_low 0.2, eps_high 0.28).
4. Loss aggregation (``loss_agg``):
   - ``"seq_mean_token_mean"``: mean over tokens of each answer, then over answers (GRPO);
   - ``"token_mean"``: mean over all tokens of the batch (DAPO), so long answers weigh more;
   - ``"seq_mean_token_sum_norm"``: token sums divided by a constant, the generation budget
     ``max_new_tokens`` (Dr. GRPO), which removes the length bias of the per-answer mean.
5. Optional KL to a frozen reference (the SFT model), k3 estimator ``exp(q - p) - (q - p) - 1``
   (Schulman 2020), as in GRPO; DAPO and Dr. GRPO use ``kl_coef = 0``.
6. Dynamic sampling (DAPO): groups whose rewards are all equal carry no gradient; with
   ``drop_equal_groups`` they are masked out of the loss and the normalizers. DAPO then samples more
   prompts to refill the batch; here the batch simply shrinks (static shapes), and the fraction kept
   is logged.
7. Overlong answers (``overlong``): ``"mask"`` drops truncated answers from the loss (DAPO's
   overlong filtering); ``"penalty"`` adds DAPO's soft overlong punishment, a reward that falls
   linearly from 0 to ``-overlong_penalty`` over the last ``overlong_buffer`` tokens of the budget.

Simplified: one model serves rollouts and learning (no separate inference engine); with
``epochs = 1`` (one gradient step per batch, TRL's default) the old policy equals the current one, so
the ratio is 1 with the gradient of the policy-gradient loss, and no extra forward pass is paid.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from seuseuro.envs.text.task import Problem
from seuseuro.errors import UserError, require_finite
from seuseuro.lm.model import Transformer, token_logprobs
from seuseuro.lm.rollout import complete
from seuseuro.lm.sample import SamplingConfig
from seuseuro.lm.tokenizer import TextTokenizer

LossAgg = Literal["seq_mean_token_mean", "token_mean", "seq_mean_token_sum_norm"]
Overlong = Literal["none", "mask", "penalty"]


@dataclasses.dataclass(frozen=True)
class Config:
    """GRPO hyperparameters. Defaults: DAPO-style token-mean loss with a small symmetric clip."""

    steps: int = 100
    """Rollout + update iterations."""
    prompts_per_step: int = 16
    """Distinct prompts per step (the batch is prompts_per_step * group_size answers)."""
    group_size: int = 8
    """G, answers sampled per prompt. 4-16; larger groups give better baselines."""
    learning_rate: float = 5e-5
    """AdamW learning rate (constant after warm-up). ~1e-6 for billion-parameter models; for the ~1M
    models trained here 3e-5..5e-5 improve them and >= 1e-4 degrades them (measured, BENCHMARKS.md)."""
    warmup_steps: int = 10
    """Linear learning-rate warm-up. Adam's first steps move every weight by ~lr whatever the gradient
    noise (measured here: one un-warmed step at 1e-4 costs correct answers 1.3 nats of log-likelihood);
    warming up lets the moment estimates average the noise first."""
    max_grad_norm: float = 1.0
    """Global gradient-norm clip."""
    epochs: int = 1
    """Gradient steps per batch (mu in DeepSeekMath). >1 reuses samples and makes the ratio matter."""
    clip_low: float = 0.2
    """Lower clip range eps_low: the ratio is clipped at 1 - clip_low."""
    clip_high: float = 0.2
    """Upper clip range eps_high (DAPO's clip-higher: 0.28)."""
    loss_agg: LossAgg = "token_mean"
    """How per-token losses become one number; see the module docstring."""
    scale_rewards: bool = True
    """Divide advantages by the group's std (GRPO); False is Dr. GRPO."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the frozen initial model (GRPO: 0.04; DAPO/Dr. GRPO: 0)."""
    drop_equal_groups: bool = False
    """Mask groups whose rewards are all equal (DAPO's dynamic sampling, without refilling)."""
    overlong: Overlong = "none"
    """Answers cut at max_new_tokens: kept ("none"), masked out ("mask") or penalized ("penalty")."""
    overlong_buffer: int = 8
    """Penalty ramp length in tokens (DAPO's L_cache) for overlong="penalty"."""
    overlong_penalty: float = 1.0
    """Largest overlong penalty (reward units)."""
    max_new_tokens: int = 48
    """Answer budget in tokens (L_max)."""
    temperature: float = 1.0
    """Sampling temperature of rollouts."""
    top_p: float = 1.0
    """Nucleus sampling of rollouts."""
    adv_eps: float = 1e-4
    """Added to the group std before dividing."""

    def __post_init__(self):
        require_finite(self)
        if self.loss_agg not in get_args(LossAgg) or self.overlong not in get_args(Overlong):
            raise UserError(
                f"--loss-agg {self.loss_agg!r} / --overlong {self.overlong!r}: choose "
                f"{'|'.join(get_args(LossAgg))} and {'|'.join(get_args(Overlong))}"
            )
        if self.max_grad_norm <= 0 or self.adv_eps <= 0 or self.overlong_penalty < 0:
            raise UserError("--max-grad-norm and --adv-eps must be > 0 and --overlong-penalty >= 0")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise UserError(
                f"--temperature must be >= 0 (got {self.temperature}), --top-p in (0, 1] (got {self.top_p})"
            )
        if self.group_size < 2:
            raise UserError(f"group_size={self.group_size} must be >= 2: advantages are relative to the group")
        if self.warmup_steps < 0:
            raise UserError(f"warmup_steps={self.warmup_steps} must be >= 0")
        if min(self.steps, self.prompts_per_step, self.epochs, self.max_new_tokens) < 1:
            raise UserError("steps, prompts_per_step, epochs and max_new_tokens must be >= 1")
        if not (0 <= self.clip_low < 1 and self.clip_high >= 0):
            raise UserError(f"clip_low={self.clip_low} must be in [0, 1) and clip_high={self.clip_high} >= 0")
        if self.kl_coef < 0 or self.learning_rate <= 0:
            raise UserError("kl_coef must be >= 0 and learning_rate > 0")
        if self.overlong == "penalty" and not 0 < self.overlong_buffer <= self.max_new_tokens:
            raise UserError(f"overlong_buffer={self.overlong_buffer} must be in 1..max_new_tokens")

    @property
    def batch_size(self) -> int:
        return self.prompts_per_step * self.group_size


# ---------------------------------------------------------------------------------------------------
# The maths: small pure functions, tested against hand-computed values (tests/algos/test_grpo.py)
# ---------------------------------------------------------------------------------------------------
def group_advantages(rewards: jax.Array, scale: bool = True, eps: float = 1e-4) -> jax.Array:
    """``rewards (P, G)`` -> advantages ``(P, G)``, relative to each group's mean (and std)."""
    centred = rewards - rewards.mean(axis=1, keepdims=True)
    if not scale:
        return centred
    # Bessel-corrected std, as TRL's GRPOTrainer (torch.std), so the two give the same advantages.
    return centred / (rewards.std(axis=1, keepdims=True, ddof=1) + eps)


def equal_group_mask(rewards: jax.Array) -> jax.Array:
    """``(P, G)`` -> ``(P, G)`` 1.0 for groups with at least two different rewards."""
    varied = (rewards.max(axis=1) > rewards.min(axis=1)).astype(jnp.float32)
    return jnp.broadcast_to(varied[:, None], rewards.shape)


def overlong_reward(lengths: jax.Array, max_len: int, buffer: int, penalty: float) -> jax.Array:
    """DAPO's soft overlong punishment: 0 up to ``max_len - buffer`` tokens, then linear down to
    ``-penalty`` at ``max_len``."""
    excess = lengths - (max_len - buffer)
    return -penalty * jnp.clip(excess / buffer, 0.0, 1.0)


def kl_k3(logp: jax.Array, ref_logp: jax.Array) -> jax.Array:
    """Per-token KL(pi || pi_ref) estimate ``exp(ref - logp) - (ref - logp) - 1`` (>= 0, unbiased)."""
    d = ref_logp - logp
    return jnp.exp(d) - d - 1.0


def aggregate(per_token: jax.Array, mask: jax.Array, mode: LossAgg, max_len: int) -> jax.Array:
    """``per_token (B, T)`` losses and ``mask (B, T)`` -> a scalar, by ``mode`` (module docstring)."""
    seq_has = (mask.sum(axis=1) > 0).astype(per_token.dtype)
    n_seq = jnp.maximum(seq_has.sum(), 1.0)
    token_sums = (per_token * mask).sum(axis=1)
    if mode == "token_mean":
        return token_sums.sum() / jnp.maximum(mask.sum(), 1.0)
    if mode == "seq_mean_token_mean":
        return (token_sums / jnp.maximum(mask.sum(axis=1), 1.0)).sum() / n_seq
    if mode == "seq_mean_token_sum_norm":
        return token_sums.sum() / (n_seq * max_len)
    raise UserError(f"unknown loss_agg {mode!r}")


def clipped_policy_loss(
    logp: jax.Array,
    old_logp: jax.Array,
    advantages: jax.Array,
    mask: jax.Array,
    config: Config,
    ref_logp: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """GRPO's loss for token log-probs ``(B, T)`` and per-answer ``advantages (B,)``."""
    adv = advantages[:, None]
    ratio = jnp.exp(logp - old_logp)
    clipped = jnp.clip(ratio, 1.0 - config.clip_low, 1.0 + config.clip_high)
    per_token = -jnp.minimum(ratio * adv, clipped * adv)
    metrics = {}
    if config.kl_coef > 0 and ref_logp is not None:
        kl = kl_k3(logp, ref_logp)
        per_token = per_token + config.kl_coef * kl
        metrics["train/kl"] = (kl * mask).sum() / jnp.maximum(mask.sum(), 1.0)
    loss = aggregate(per_token, mask, config.loss_agg, config.max_new_tokens)
    is_clipped = ((ratio < 1.0 - config.clip_low) & (adv < 0)) | ((ratio > 1.0 + config.clip_high) & (adv > 0))
    metrics["train/clip_fraction"] = (is_clipped * mask).sum() / jnp.maximum(mask.sum(), 1.0)
    return loss, metrics


# ---------------------------------------------------------------------------------------------------
# Rollouts and updates
# ---------------------------------------------------------------------------------------------------
class Batch(eqx.Module):
    """One step's rollouts, ready for the loss."""

    tokens: jax.Array  # (B, P + N) left-padded prompt then the answer
    valid: jax.Array  # (B, P + N)
    mask: jax.Array  # (B, N) answer tokens that enter the loss
    advantages: jax.Array  # (B,)
    old_logp: jax.Array  # (B, N) at sampling time (only used when epochs > 1)
    ref_logp: jax.Array  # (B, N) of the reference model (only used when kl_coef > 0)


class GRPOState(eqx.Module):
    model: Transformer
    opt_state: optax.OptState
    step: jax.Array


def make_optimizer(config: Config) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adamw(
            optax.linear_schedule(0.0, config.learning_rate, max(config.warmup_steps, 1) * config.epochs),
            b1=0.9,
            b2=0.99,
            weight_decay=0.0,
        ),
    )


def init_state(model: Transformer, config: Config) -> GRPOState:
    return GRPOState(model, make_optimizer(config).init(eqx.filter(model, eqx.is_array)), jnp.int32(0))


def _answer_logprobs(model: Transformer, tokens, valid, prompt_len: int):
    """Log-probs and entropies ``(B, N)`` of the answer tokens."""
    logp, entropy = token_logprobs(model, tokens, valid)
    return logp[:, prompt_len - 1 :], entropy[:, prompt_len - 1 :]


def rollout(
    state: GRPOState,
    reference: Transformer | None,
    tokenizer: TextTokenizer,
    problems: Sequence[Problem],
    score: Callable[[Problem, str], float],
    key: jax.Array,
    config: Config,
    prompt_len: int,
) -> tuple[Batch, dict[str, float]]:
    """Sample ``group_size`` answers per problem, score them and build the loss batch."""
    g = config.group_size
    group_prompts = [p.prompt for p in problems for _ in range(g)]
    sampling = SamplingConfig(config.max_new_tokens, config.temperature, config.top_p)
    t0 = time.perf_counter()
    out = complete(state.model, tokenizer, group_prompts, key, sampling, prompt_len)
    gen_time = time.perf_counter() - t0
    rewards = np.array([score(problems[i // g], text) for i, text in enumerate(out.texts)], np.float32)
    correct = rewards == 1.0
    shaped = rewards.copy()
    if config.overlong == "penalty":
        shaped += np.asarray(
            overlong_reward(
                jnp.asarray(out.lengths), config.max_new_tokens, config.overlong_buffer, config.overlong_penalty
            )
        )
    rewards_pg = jnp.asarray(shaped.reshape(-1, g))
    advantages = group_advantages(rewards_pg, config.scale_rewards, config.adv_eps).reshape(-1)
    n = config.max_new_tokens
    mask = (np.arange(n)[None, :] < out.lengths[:, None]).astype(np.float32)
    keep = np.ones(len(rewards), np.float32)
    if config.drop_equal_groups:
        keep *= np.asarray(equal_group_mask(rewards_pg)).reshape(-1)
    if config.overlong == "mask":
        keep *= out.finished.astype(np.float32)
    mask *= keep[:, None]
    tokens = np.concatenate([out.prompt, out.tokens], axis=1)
    # answer tokens up to and including the stop token are context; what follows is padding
    valid = np.concatenate([out.prompt_valid, np.arange(n)[None, :] < out.lengths[:, None]], axis=1)
    old_logp = ref_logp = jnp.zeros((len(rewards), n))
    if config.epochs > 1:
        old_logp = _logp_fn(state.model, tokens, valid, prompt_len)
    if config.kl_coef > 0 and reference is not None:
        ref_logp = _logp_fn(reference, tokens, valid, prompt_len)
    batch = Batch(jnp.asarray(tokens), jnp.asarray(valid), jnp.asarray(mask), advantages, old_logp, ref_logp)
    gen_tokens = int(out.lengths.sum())
    metrics = {
        "rollout/reward": float(shaped.mean()),
        "rollout/accuracy": float(correct.mean()),
        "rollout/answer_length": float(out.lengths.mean()),
        "rollout/truncated": float(1.0 - out.finished.mean()),
        "rollout/groups_kept": float(np.asarray(equal_group_mask(rewards_pg))[:, 0].mean()),
        "time/generation_s": gen_time,
        "time/tokens_per_s": gen_tokens / max(gen_time, 1e-9),
    }
    return batch, metrics


@eqx.filter_jit
def _logp_fn(model, tokens, valid, prompt_len: int):
    return _answer_logprobs(model, jnp.asarray(tokens), jnp.asarray(valid), prompt_len)[0]


def make_update(config: Config, prompt_len: int):
    """The jitted update: ``update(state, batch) -> (state, metrics)``, ``config.epochs`` steps."""
    optimizer = make_optimizer(config)

    def loss_fn(model, batch: Batch):
        logp, entropy = _answer_logprobs(model, batch.tokens, batch.valid, prompt_len)
        old = batch.old_logp if config.epochs > 1 else jax.lax.stop_gradient(logp)
        loss, metrics = clipped_policy_loss(logp, old, batch.advantages, batch.mask, config, batch.ref_logp)
        metrics["train/entropy"] = (entropy * batch.mask).sum() / jnp.maximum(batch.mask.sum(), 1.0)
        return loss, metrics

    @eqx.filter_jit
    def update(state: GRPOState, batch: Batch) -> tuple[GRPOState, dict]:
        def one_epoch(carry, _):
            model, opt_state = carry
            (loss, metrics), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model, batch)
            params = eqx.filter(model, eqx.is_array)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            model = eqx.apply_updates(model, updates)
            metrics = {**metrics, "train/loss": loss, "train/grad_norm": optax.global_norm(grads)}
            return (model, opt_state), metrics

        params, static = eqx.partition(state.model, eqx.is_array)

        def scan_body(carry, x):
            p, o = carry
            (m, o), metrics = one_epoch((eqx.combine(p, static), o), x)
            return (eqx.filter(m, eqx.is_array), o), metrics

        (params, opt_state), metrics = jax.lax.scan(scan_body, (params, state.opt_state), None, config.epochs)
        metrics = jax.tree.map(lambda x: x[-1], metrics)
        return GRPOState(eqx.combine(params, static), opt_state, state.step + 1), metrics

    return update


def make_trainer(config: Config, reference: Transformer, tokenizer: TextTokenizer, problems: Sequence[Problem],
                 score: Callable, seed: int, prompt_len: int, log_every: int, after_checkpoint=None):  # fmt: skip
    """GRPO as a :class:`~seuseuro.core.chunked.Trainer` for the host driver: a chunk is ``log_every``
    steps of rollout (generation on the host's jitted sampler) + update. Step k draws its prompts from
    ``(seed, k)`` and samples with ``fold_in(key(seed), k)``, so a resumed run continues exactly."""
    from seuseuro.core.chunked import Trainer

    update = make_update(config, prompt_len)
    ref_model = reference if config.kl_coef > 0 else None
    base_key = jax.random.key(seed)

    def run_chunk(state: GRPOState, n_active: int):
        start, rows = int(state.step), []
        for step in range(start, start + n_active):
            t_step = time.perf_counter()
            rng = np.random.default_rng([seed, step])
            batch_problems = [problems[i] for i in rng.integers(0, len(problems), config.prompts_per_step)]
            key = jax.random.fold_in(base_key, step)
            batch, metrics = rollout(state, ref_model, tokenizer, batch_problems, score, key, config, prompt_len)
            state, train_metrics = update(state, batch)
            row = {**metrics, **{k: float(v) for k, v in train_metrics.items()}}
            row["time/step_s"] = time.perf_counter() - t_step
            rows.append(row)
        return state, {k: np.asarray([[r[k] for r in rows]]) for k in rows[0]}

    return Trainer(
        config, 1, log_every, lambda keys: init_state(reference, config), run_chunk,
        lambda: jax.eval_shape(lambda: init_state(reference, config)),
        after_checkpoint=after_checkpoint, progress_metric="rollout/accuracy", progress_digits=2,
        log_every_update=False, num_updates=config.steps, steps_per_update=1,
    )  # fmt: skip
