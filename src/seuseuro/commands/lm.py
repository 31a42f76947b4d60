"""The reasoning pillar's commands: ``train sft``, ``train grpo``, ``sample`` and the language-model
branch of ``eval`` (:class:`EvalLMArgs`, :func:`run_eval_lm`). A run directory's files:
``lm/runs.py``. ``--init`` also accepts a Hugging Face Qwen2/Llama directory.

Randomness: problems of step k come from a generator seeded with ``(seed, k)`` and the sampling
key is ``fold_in(key(seed), k)``, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Annotated

import tyro

from seuseuro.algos import grpo
from seuseuro.errors import UserError
from seuseuro.lm.model import LMConfig
from seuseuro.lm.runs import TOKENIZER_FILE, lm_config_from_dict, load_lm, parse_task_options, save_model, task_from
from seuseuro.lm.sft import SFTConfig
from seuseuro.runs import RunDir, config_from_dict


# ---------------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TrainSFTArgs:
    """Train a tiny language model from scratch on generated worked solutions
    (<think>...</think><answer>...</answer>), the warm start that GRPO needs."""

    task: str = "addition"
    """Text task: addition, multiplication, countdown, knights."""
    task_option: tuple[str, ...] = ()
    """Task options as key=value, e.g. --task-option digits=2 partial_credit=0.1."""
    sft: Annotated[SFTConfig, tyro.conf.OmitArgPrefixes] = SFTConfig()
    model: LMConfig = LMConfig()
    vocab_size: int = 96
    """Largest tokenizer vocabulary (BPE stops earlier when the task's text has fewer merges)."""
    seed: int = 0
    """Seed of problems, initialization and batches."""
    run_dir: Path | None = None
    """Where to write the run (default: runs/sft-TASK-TIME)."""
    runs_root: Path = Path("runs")
    """Parent of new run directories."""
    resume: Path | None = None
    """Continue this run from its latest checkpoint."""
    log_every: int = 10
    """Write metrics every this many steps."""
    checkpoint_every: int = 100
    """Write checkpoints every this many steps (and always at the end)."""
    eval_problems: int = 500
    """Held-out problems for the final greedy evaluation (0 = skip)."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Also write TensorBoard event files."""

    def __post_init__(self):
        _check_schedule(self.log_every, self.checkpoint_every, self.eval_problems)


def _check_schedule(log_every: int, checkpoint_every: int, eval_problems: int) -> None:
    if log_every < 1 or checkpoint_every < 1 or eval_problems < 0:
        raise UserError(
            f"--log-every and --checkpoint-every must be >= 1 and --eval-problems >= 0 "
            f"(got {log_every}, {checkpoint_every}, {eval_problems})"
        )


def _check_sampling(temperature: float, top_p: float) -> None:
    if not (math.isfinite(temperature) and temperature >= 0) or not 0 < top_p <= 1:
        raise UserError(f"--temperature must be >= 0 (0 = greedy) and --top-p in (0, 1]; got {temperature}, {top_p}")


@dataclasses.dataclass(frozen=True)
class TrainGRPOArgs:
    """Improve a model by GRPO against a task's checker, starting from --init (an SFT or GRPO run
    directory, or a Hugging Face Qwen2/Llama checkpoint directory)."""

    init: Path | None = None
    """Run directory (or Hugging Face checkpoint) to start from. Required unless --resume."""
    task: str | None = None
    """Text task (default: the task of the --init run)."""
    task_option: tuple[str, ...] = ()
    """Task options as key=value (default: those of the --init run)."""
    grpo: Annotated[grpo.Config, tyro.conf.OmitArgPrefixes] = grpo.Config()
    seed: int = 0
    """Seed of problems and sampling."""
    num_problems: int = 20000
    """Training problems generated once; each step draws prompts_per_step of them."""
    run_dir: Path | None = None
    """Where to write the run (default: runs/grpo-TASK-TIME)."""
    runs_root: Path = Path("runs")
    """Parent of new run directories."""
    resume: Path | None = None
    """Continue this run from its latest checkpoint."""
    log_every: int = 1
    """Write metrics every this many steps."""
    checkpoint_every: int = 25
    """Write checkpoints every this many steps (and always at the end)."""
    eval_problems: int = 500
    """Held-out problems for the final evaluation (0 = skip)."""
    eval_temperature: float = 0.0
    """Temperature of the final evaluation (0 = greedy)."""
    progress: bool = True
    """Show a progress bar."""
    tensorboard: bool = True
    """Also write TensorBoard event files."""

    def __post_init__(self):
        _check_schedule(self.log_every, self.checkpoint_every, self.eval_problems)
        _check_sampling(self.eval_temperature, 1.0)
        if self.num_problems < 1:
            raise UserError(f"--num-problems must be >= 1, got {self.num_problems}")


@dataclasses.dataclass(frozen=True)
class EvalLMArgs:
    """Held-out accuracy of a language-model run (SFT or GRPO) with a 95% confidence interval."""

    run_dir: tyro.conf.Positional[Path]
    """The run directory to evaluate."""
    task: str | None = None
    """Task to evaluate on (default: the run's task)."""
    task_option: tuple[str, ...] | None = None
    """Task options as key=value (default: the run's)."""
    num_problems: int = 500
    """Held-out (test split) problems."""
    temperature: float = 0.0
    """0 = greedy; DeepSeek-R1 reports pass@1 sampled at 0.6 with top-p 0.95."""
    top_p: float = 1.0
    """Nucleus sampling."""
    seed: int = 0
    """Seed of the test problems and of sampling."""
    show: int = 3
    """Sampled answers printed."""

    def __post_init__(self):
        _check_sampling(self.temperature, self.top_p)
        if self.num_problems < 1 or self.show < 0:
            raise UserError(f"--num-problems must be >= 1 and --show >= 0; got {self.num_problems}, {self.show}")


@dataclasses.dataclass(frozen=True)
class SampleArgs:
    """Answer a prompt with a trained language model."""

    run_dir: tyro.conf.Positional[Path]
    """Run directory (SFT or GRPO) or a Hugging Face checkpoint directory."""
    prompt: tyro.conf.Positional[str]
    """The prompt, in the task's format (e.g. "347+589")."""
    num_samples: int = 1
    """Answers to sample."""
    temperature: float = 0.0
    """0 = greedy."""
    top_p: float = 1.0
    """Nucleus sampling."""
    max_new_tokens: int = 0
    """Answer budget (0 = the run's)."""
    seed: int = 0
    """Sampling seed."""

    def __post_init__(self):
        _check_sampling(self.temperature, self.top_p)
        if self.num_samples < 1 or self.max_new_tokens < 0:
            raise UserError(
                f"--num-samples must be >= 1 and --max-new-tokens >= 0 (0 = the run's); "
                f"got {self.num_samples}, {self.max_new_tokens}"
            )


def _print_eval(result, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title=title)
    for col in ("problems", "accuracy", "95% CI", "mean score", "well formed", "answer length"):
        table.add_column(col)
    lo, hi = result.ci95
    table.add_row(str(result.n), f"{result.accuracy:.3f}", f"[{lo:.3f}, {hi:.3f}]", f"{result.mean_score:.3f}",
                  f"{result.format_rate:.3f}", f"{result.mean_length:.1f}")  # fmt: skip
    console.print(table)
    for ex in result.examples:
        console.print(
            f"[bold]{ex['prompt']}[/bold] -> {ex['answer']}  (expected {ex['expected']}, score {ex['score']})"
        )


# ---------------------------------------------------------------------------------------------------
# train sft
# ---------------------------------------------------------------------------------------------------
def run_train_sft(args: TrainSFTArgs) -> int:
    import jax

    from seuseuro.core.compile_cache import enable_persistent_cache
    from seuseuro.envs.text import make_task
    from seuseuro.lm import sft
    from seuseuro.lm.model import Transformer, count_params
    from seuseuro.lm.tokenizer import TextTokenizer, train_tokenizer

    enable_persistent_cache()
    if args.resume is not None:
        run = RunDir.open_for_resume(args.resume, "sft")
        source = run.path / "config.json"
        task = make_task(run.require("task", str), **run.require("task_options", dict))
        config = config_from_dict(SFTConfig, run.config_dict, source)
        seed = run.require("seed", int)
        tok = TextTokenizer.load(run.path / TOKENIZER_FILE)
        lm_config = lm_config_from_dict(run.require("lm", dict), source)
    else:
        task = make_task(args.task, **parse_task_options(args.task_option))
        config, seed = args.sft, args.seed
    problems = task.sample(config.num_problems, seed, "train")
    if args.resume is None:
        tok = train_tokenizer([t for p in problems[:5000] for t in (p.prompt, p.solution)], args.vocab_size)
        lm_config = dataclasses.replace(args.model, vocab_size=tok.vocab_size)
    data = sft.make_sft_data(problems, tok, lm_config.max_seq_len)
    answer_budget = int(max(len(tok.encode(p.solution)) for p in problems)) + 2
    model = Transformer.init(lm_config, jax.random.key(seed))
    if args.resume is None:
        extra = {"task": task.name, "task_options": parse_task_options(args.task_option), "seed": seed,
                 "lm": dataclasses.asdict(lm_config), "max_new_tokens": answer_budget}  # fmt: skip
        run = RunDir.create("sft", task.name, config, root=args.runs_root, path=args.run_dir, extra=extra)
        tok.save(run.path / TOKENIZER_FILE)
    from rich.console import Console

    console = Console(stderr=True)
    console.print(f"[bold]run directory[/bold] {run.path}  ({count_params(model):,} parameters)")
    trainer = sft.make_trainer(
        config, model, data, seed, min(args.log_every, config.steps),
        after_checkpoint=lambda state, step: save_model(run, state.model, step),
    )  # fmt: skip
    result = _train(trainer, run, args, "sft")
    if result is None:
        return 130
    console.print(f"trained {result.updates_done} steps in {result.seconds:.1f} s")
    if args.eval_problems > 0:
        _evaluate_and_record(run, result.state.model, tok, task, args.eval_problems, seed, 0.0, 1.0, answer_budget)
    return 0


def _train(trainer, run: RunDir, args, algo: str):
    """The host driver (progress, metrics, checkpoints every ``--checkpoint-every`` steps, Ctrl-C,
    resume) on an LM trainer; None when the run was stopped (the resume command is printed)."""
    import jax
    from rich.console import Console

    from seuseuro.driver import run_training

    # the driver checkpoints between chunks of --log-every steps
    every = max(1, args.checkpoint_every // trainer.updates_per_chunk)
    result = run_training(trainer, run, jax.random.PRNGKey(0), resume=args.resume is not None, checkpoint_every=every,
                          progress=args.progress, tensorboard=args.tensorboard)  # fmt: skip
    if result.interrupted:
        Console(stderr=True).print(
            f"stopped at step {result.updates_done}; resume with: seuseuro train {algo} --resume {run.path}"
        )
        return None
    return result


def _evaluate_and_record(run, model, tok, task, n, seed, temperature, top_p, budget, show=3):
    import jax

    from seuseuro.lm.rollout import evaluate
    from seuseuro.lm.sample import SamplingConfig

    problems = task.sample(n, seed, "test")
    sampling = SamplingConfig(max_new_tokens=budget, temperature=temperature, top_p=top_p)
    result = evaluate(model, tok, task, problems, jax.random.key(seed), sampling, n_examples=show)
    record = {"task": task.name, "split": "test", "temperature": temperature, "top_p": top_p, "seed": seed,
              **result.to_dict()}  # fmt: skip
    path = run.path / "eval.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    previous[f"{task.name}/t{temperature:g}"] = record
    run.write_json("eval.json", previous)
    _print_eval(result, f"{run.path.name}: held-out {task.name} (temperature {temperature:g})")
    return result


# ---------------------------------------------------------------------------------------------------
# train grpo
# ---------------------------------------------------------------------------------------------------
def run_train_grpo(args: TrainGRPOArgs) -> int:
    from rich.console import Console

    from seuseuro.core.compile_cache import enable_persistent_cache
    from seuseuro.envs.text import make_task
    from seuseuro.lm.rollout import prompt_length

    enable_persistent_cache()
    console = Console(stderr=True)
    if args.resume is not None:
        run = RunDir.open_for_resume(args.resume, "grpo")
        init_path, seed = Path(run.require("init", str)), run.require("seed", int)
        num_problems = run.require("num_problems", int)
        config = config_from_dict(grpo.Config, run.config_dict, run.path / "config.json")
        reference, tok, init_record = load_lm(init_path)
        task_name, task_opts = run.require("task", str), run.require("task_options", dict)
        task = make_task(task_name, **task_opts)
    else:
        if args.init is None:
            raise UserError("pass --init RUN_DIR (an SFT run or a Hugging Face checkpoint) or --resume RUN_DIR")
        init_path, seed, num_problems = args.init, args.seed, args.num_problems
        reference, tok, init_record = load_lm(init_path)
        task, task_name, task_opts = task_from(init_record, args.task, args.task_option or None)
        config = args.grpo
        if config.max_new_tokens == grpo.Config.max_new_tokens and "max_new_tokens" in init_record:
            config = dataclasses.replace(config, max_new_tokens=init_record["max_new_tokens"])
    problems = task.sample(num_problems, seed, "train")
    test_problems = task.sample(args.eval_problems, seed, "test") if args.eval_problems else []
    plen = prompt_length(tok, [p.prompt for p in problems + test_problems])
    if plen + config.max_new_tokens > reference.config.max_seq_len:
        raise UserError(
            f"prompts ({plen} tokens) + answers ({config.max_new_tokens}) exceed the model's context "
            f"of {reference.config.max_seq_len}; lower --max-new-tokens"
        )
    if args.resume is None:
        extra = {"task": task_name, "task_options": task_opts, "seed": seed, "init": str(init_path),
                 "num_problems": num_problems, "lm": dataclasses.asdict(reference.config),
                 "max_new_tokens": config.max_new_tokens,
                 # a Hugging Face tokenizer names its end and pad tokens its own way (<|endoftext|>, ...)
                 "special_tokens": {"eos_token": tok.tokenizer.id_to_token(tok.eos_id),
                                    "pad_token": tok.tokenizer.id_to_token(tok.pad_id)}}  # fmt: skip
        run = RunDir.create("grpo", task_name, config, root=args.runs_root, path=args.run_dir, extra=extra)
        tok.save(run.path / TOKENIZER_FILE)
    console.print(f"[bold]run directory[/bold] {run.path}  (from {init_path})")
    trainer = grpo.make_trainer(
        config, reference, tok, problems, task.score, seed, plen, min(args.log_every, config.steps),
        after_checkpoint=lambda state, step: save_model(run, state.model, step),
    )  # fmt: skip
    result = _train(trainer, run, args, "grpo")
    if result is None:
        return 130
    console.print(f"trained {result.updates_done} GRPO steps in {result.seconds:.1f} s")
    if args.eval_problems > 0:
        _evaluate_and_record(
            run, result.state.model, tok, task, args.eval_problems, seed, args.eval_temperature, 1.0,
            config.max_new_tokens,
        )  # fmt: skip
    return 0


# ---------------------------------------------------------------------------------------------------
# eval and sample
# ---------------------------------------------------------------------------------------------------
def run_eval_lm(args: EvalLMArgs) -> int:
    from seuseuro.core.compile_cache import enable_persistent_cache

    enable_persistent_cache()
    model, tok, record = load_lm(args.run_dir)
    task, _, _ = task_from(record, args.task, args.task_option)
    budget = record.get("max_new_tokens", 48)
    run = RunDir.open(args.run_dir)
    _evaluate_and_record(run, model, tok, task, args.num_problems, args.seed, args.temperature, args.top_p, budget,
                         show=args.show)  # fmt: skip
    return 0


def run_sample(args: SampleArgs) -> int:
    import jax

    from seuseuro.core.compile_cache import enable_persistent_cache
    from seuseuro.lm.rollout import complete
    from seuseuro.lm.sample import SamplingConfig

    enable_persistent_cache()
    model, tok, record = load_lm(args.run_dir)
    budget = args.max_new_tokens or record.get("max_new_tokens", 48)
    plen = len(tok.encode_prompt(args.prompt))
    if plen + budget > model.config.max_seq_len:
        raise UserError(
            f"the prompt has {plen} tokens; with {budget} answer tokens that exceeds the model's context of "
            f"{model.config.max_seq_len}; shorten the prompt or pass a smaller --max-new-tokens"
        )
    sampling = SamplingConfig(max_new_tokens=budget, temperature=args.temperature, top_p=args.top_p)
    out = complete(model, tok, [args.prompt] * args.num_samples, jax.random.key(args.seed), sampling)
    for text in out.texts:
        print(text)
    return 0
