"""Sweeps and many seeds on Ray Tune (issue 12, item 1): every trial an ordinary seuseuro run.

A trial is a function trainable (:func:`train_trial`) that builds the registered algorithm's Trainer
from the sweep's fixed flags plus the trial's sampled ones, and runs it with the host driver into a
run directory under the sweep directory (``SWEEP/runs/TRIAL_ID``: config.json, metrics.csv,
checkpoints, eval.json, as ``seuseuro train`` writes; ``seuseuro eval/plot`` read it), K seeds vmapped
inside. After every compiled chunk it reports to Tune with the chunk's checkpoint, so ASHA stops bad
trials early, PBT exploits/explores from checkpoints, and a trial whose worker dies restarts from its
last checkpoint (``FailureConfig(max_failures)``) and ends bit for bit as it would have (the driver's
exact resume). Tune keeps its own state in the sweep directory too, so an interrupted sweep resumes
with ``Tuner.restore`` (``seuseuro sweep --resume SWEEP``).

Simplified: the search flags are Config fields (not RunOptions); every trial uses the same seeds
(common random numbers: differences between trials are the flags'); on a multi-node cluster the sweep
directory must be on storage every node sees (Tune's ``storage_path`` rule), e.g. NFS; PBT may only
mutate flags that keep the TrainState's shapes (rates, coefficients: not num_envs or network sizes), since
an exploiting trial loads another trial's checkpoint into its own program.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from seuseuro.errors import UserError

SWEEP_FILE = "sweep.json"
RESULTS_FILE = "results.csv"
RUNS_DIR = "runs"
PID_FILE = "worker.pid"  # the trial worker's process id, in its run directory (to find or kill it)
KINDS = ("uniform", "loguniform", "randint", "choice", "grid")
DEFAULT_METRIC = "episode_return"


# =================================================================================================
# The sweep's specification: searched flags, fixed flags, resources (sweep.json)
# =================================================================================================


@dataclasses.dataclass(frozen=True)
class Search:
    """One searched flag: ``name=kind(args)``, e.g. ``learning_rate=loguniform(1e-4,1e-2)``."""

    name: str
    kind: Literal["uniform", "loguniform", "randint", "choice", "grid"]
    args: tuple

    def to_tune(self):
        from ray import tune

        if self.kind == "uniform":
            return tune.uniform(*self.args)
        if self.kind == "loguniform":
            return tune.loguniform(*self.args)
        if self.kind == "randint":  # inclusive of both ends, as a researcher writes it
            return tune.randint(self.args[0], self.args[1] + 1)
        if self.kind == "choice":
            return tune.choice(list(self.args))
        return tune.grid_search(list(self.args))

    def describe(self) -> str:
        return f"{self.name}={self.kind}({','.join(map(str, self.args))})"


def parse_search(text: str) -> Search:
    """``FLAG=KIND(ARGS)`` -> :class:`Search`; one-line errors for anything else."""
    usage = (
        "write --search FLAG=KIND(ARGS) with KIND one of "
        + ", ".join(KINDS)
        + ", e.g. learning_rate=loguniform(1e-4,1e-2)"
    )
    name, sep, rest = text.partition("=")
    kind, paren, args_text = rest.partition("(")
    if not sep or not paren or not args_text.endswith(")") or kind not in KINDS:
        raise UserError(f"--search {text!r}: {usage}")
    try:
        args = ast.literal_eval(f"({args_text[:-1]},)")
    except (ValueError, SyntaxError):
        raise UserError(f"--search {text!r}: the arguments must be numbers, strings or booleans; {usage}") from None
    name = name.strip().replace("-", "_")
    if kind in ("uniform", "loguniform", "randint"):
        if len(args) != 2 or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args):
            raise UserError(f"--search {text!r}: {kind} takes two numbers, low and high")
        if not args[0] < args[1] or (kind == "loguniform" and args[0] <= 0):
            raise UserError(f"--search {text!r}: need 0 < low < high for loguniform, low < high otherwise")
        if kind == "randint" and not all(isinstance(a, int) for a in args):
            raise UserError(f"--search {text!r}: randint takes two integers")
    elif not args:
        raise UserError(f"--search {text!r}: {kind} needs at least one value")
    return Search(name, kind, tuple(args))


def parse_fixed(text: str) -> tuple[str, Any]:
    """``FLAG=VALUE`` (a Python literal, or a bare string) -> (name, value)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UserError(f"--set {text!r}: write --set FLAG=VALUE, e.g. total_steps=50000")
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value
    return name.strip().replace("-", "_"), parsed


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep's trials need; written to SWEEP/sweep.json (``--resume`` reads it back)."""

    algo: str
    env: str
    sweep_dir: str  # absolute
    searches: tuple[Search, ...] = ()
    fixed: dict = dataclasses.field(default_factory=dict)
    num_samples: int = 8
    seeds_per_trial: int = 1
    seed: int = 0
    scheduler: Literal["asha", "pbt", "none"] = "asha"
    searcher: Literal["random", "optuna"] = "random"
    metric: str = DEFAULT_METRIC
    mode: Literal["max", "min"] = "max"
    max_concurrent: int = 0  # 0: as many as the cluster's CPUs allow
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    chunk_updates: int = 0
    max_failures: int = 3
    eval_episodes: int = 10

    def __post_init__(self):
        if self.num_samples < 1 or self.seeds_per_trial < 1:
            raise UserError("--num-samples and --seeds-per-trial must be >= 1")
        if self.cpus_per_trial <= 0 or self.gpus_per_trial < 0:
            raise UserError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
        if self.max_concurrent < 0 or self.max_failures < 0 or self.eval_episodes < 0:
            raise UserError("--max-concurrent, --max-failures and --eval-episodes must be >= 0")
        if self.scheduler not in ("asha", "pbt", "none") or self.searcher not in ("random", "optuna"):
            raise UserError("--scheduler is asha, pbt or none; --searcher is random or optuna")
        if self.scheduler == "pbt" and any(s.kind == "grid" for s in self.searches):
            raise UserError("--scheduler pbt mutates sampled flags; use choice(...) instead of grid(...)")
        names = [s.name for s in self.searches]
        if len(set(names)) != len(names) or set(names) & set(self.fixed):
            raise UserError(f"each flag may be searched once and not also fixed with --set (got {names})")

    def to_json(self) -> str:
        record = dataclasses.asdict(self)
        record["searches"] = [dataclasses.asdict(s) for s in self.searches]
        return json.dumps(record, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SweepSpec:
        record = json.loads(text)
        record["searches"] = tuple(Search(s["name"], s["kind"], tuple(s["args"])) for s in record["searches"])
        return cls(**record)

    @property
    def path(self) -> Path:
        return Path(self.sweep_dir)


def trial_config(spec: SweepSpec, params: dict[str, Any]):
    """The algorithm's Config for one trial: the tuned set for the env (when the algorithm has one),
    then ``--set`` flags, then the trial's sampled flags; unknown names are one-line errors."""
    from seuseuro.experiment import algorithm

    module = algorithm(spec.algo).load()
    try:
        base = module.tuned_config(spec.env) if hasattr(module, "tuned_config") else module.Config()
    except UserError:
        base = module.Config()
    known = {f.name for f in dataclasses.fields(base)}
    values = {**spec.fixed, **params}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(
            f"{spec.algo} has no flag(s) {unknown}; --search/--set take its Config fields: {', '.join(sorted(known))}"
        )
    return dataclasses.replace(base, **values)


def num_chunks(spec: SweepSpec, config: Any) -> int:
    from seuseuro.experiment import updates_per_chunk

    return math.ceil(config.num_updates / updates_per_chunk(spec.chunk_updates, config.num_updates))


# =================================================================================================
# One trial: an ordinary run directory, reported to Tune after every chunk
# =================================================================================================


def _copy_checkpoint(src_dir: Path, dst_dir: Path) -> None:
    """Copy a run's checkpoint files (latest.npz, host_state.pkl) between a run and a Tune checkpoint."""
    from seuseuro.core.checkpoint import atomic_write_bytes

    for name in ("latest.npz", "host_state.pkl"):
        if (src_dir / name).exists():
            atomic_write_bytes(dst_dir / name, (src_dir / name).read_bytes())


def train_trial(params: dict[str, Any], spec_json: str) -> None:
    """Ray Tune function trainable: one trial = one seuseuro run under ``SWEEP/runs/TRIAL_ID``."""
    spec = SweepSpec.from_json(spec_json)
    from seuseuro.scale.trial_threads import prepare_trial_process

    sizing = prepare_trial_process(spec.cpus_per_trial, spec.gpus_per_trial)  # before JAX starts (trial_threads.py)

    import jax
    from ray import tune

    from seuseuro.core.checkpoint import atomic_write_text
    from seuseuro.core.compile_cache import enable_persistent_cache
    from seuseuro.driver import RETURN_KEY, run_training
    from seuseuro.experiment import algorithm, evaluate_run, make_env, updates_per_chunk
    from seuseuro.runs import CONFIG_FILE, RunDir, config_to_dict

    enable_persistent_cache()
    module = algorithm(spec.algo).load()
    config = trial_config(spec, params)
    chunk = updates_per_chunk(spec.chunk_updates, config.num_updates)
    env = make_env(spec.env)
    trainer = module.make_train(config, env, num_seeds=spec.seeds_per_trial, updates_per_chunk=chunk)
    path = spec.path / RUNS_DIR / tune.get_context().get_trial_id()
    extra = {"seed": spec.seed, "num_seeds": spec.seeds_per_trial, "updates_per_chunk": chunk,
             "sweep": {"dir": str(spec.path), "params": params, "cores": sizing["cores"]}}  # fmt: skip
    if (path / CONFIG_FILE).exists():  # a restarted trial (or PBT's explore): its config may have changed
        run = RunDir(path)
        record = {**run.record, "config": config_to_dict(config), **extra}
        run.write_json(CONFIG_FILE, record)
    else:
        run = RunDir.create(spec.algo, spec.env, config, path=path, extra=extra)
    atomic_write_text(path / PID_FILE, str(os.getpid()))
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # Tune restored this trial (failure, resume, PBT exploit): continue from it
        with checkpoint.as_directory() as d:
            _copy_checkpoint(Path(d), run.checkpoint_dir)
    elif run.latest_checkpoint.exists():  # no Tune checkpoint: start afresh, not from a stale file
        run.latest_checkpoint.unlink()
    recent = {"value": math.nan}
    total_steps = trainer.num_updates * trainer.steps_per_update

    def report(done: int, row: dict[str, float]) -> None:
        """One Tune report per chunk, with its checkpoint; the last one also carries the evaluation (so a
        scheduler that ends the trial at its last report never cuts the evaluation off)."""
        if math.isfinite(row.get(RETURN_KEY, math.nan)):
            recent["value"] = row[RETURN_KEY]
        metrics = {**row, DEFAULT_METRIC: recent["value"], "updates": done, "env_steps": done * trainer.steps_per_update,
                   "total_env_steps": total_steps}  # fmt: skip
        if done >= trainer.num_updates and spec.eval_episodes > 0:
            aggregate = evaluate_run(run, episodes=spec.eval_episodes)["aggregate"]  # from the checkpoint just written
            metrics.update(eval_return=aggregate["mean_return"], eval_ci95_low=aggregate["ci95"][0],
                           eval_ci95_high=aggregate["ci95"][1])  # fmt: skip
        with tempfile.TemporaryDirectory() as d:
            _copy_checkpoint(run.checkpoint_dir, Path(d))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))

    run_training(trainer, run, jax.random.PRNGKey(spec.seed), resume=checkpoint is not None,
                 progress=False, tensorboard=False, on_checkpoint=report)  # fmt: skip


# =================================================================================================
# The sweep: Tune's scheduler, searcher, resources; results table and plot
# =================================================================================================


def default_sweep_dir(algo: str, env: str, root: Path = Path("sweeps")) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return (root / f"{algo}-{env.replace(':', '-')}-{stamp}").resolve()


def check_address(address: str, timeout_s: float = 10.0) -> None:
    """``address`` is "auto", or HOST:PORT / ray://HOST:PORT (Ray Client) where something answers; else a
    one-line UserError (issue 12). Why the TCP probe: Ray 2.60's ``ray.init`` retries an address where
    no cluster listens for minutes, logging a warning every few seconds (measured: still retrying after
    120 s), so a mistyped address would look like a hung sweep."""
    import socket

    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
        raise UserError(
            f"--address {address!r} is not 'auto' or HOST:PORT; give the address `ray start --head` printed "
            "on the head node (e.g. 10.0.0.1:6379), or leave --address out to run Ray on this machine"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise UserError(
            f"nothing answers at --address {address} ({e.strerror or type(e).__name__}); start the head node "
            "with `ray start --head` (README: Running on a cluster), check the address it printed, or leave "
            "--address out to run Ray on this machine"
        ) from None


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` ("auto" or HOST:PORT), or start Ray on this machine.

    A cluster that is not there is a UserError naming the address (Ray's own error is a ConnectionError
    whose traceback runs through its GCS client)."""
    from seuseuro.scale import require_ray

    if address is not None:
        check_address(address)
    ray = require_ray()
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, TimeoutError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(
            f"cannot join a Ray cluster at --address {address}: {reason}; start one with `ray start --head` "
            "(README: Running on a cluster), or leave --address out to run Ray on this machine"
        ) from None


def _trainable(spec: SweepSpec):
    from ray import tune

    resources = {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(train_trial, spec_json=spec.to_json()), resources)


def make_tuner(spec: SweepSpec, verbose: int = 1):
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining
    from ray.tune.search import BasicVariantGenerator

    config = trial_config(spec, {})
    for s in spec.searches:  # every searched name must be a flag before any worker starts
        trial_config(spec, {s.name: s.args[0] if s.kind != "randint" else int(s.args[0])})
    chunks = num_chunks(spec, config)
    scheduler = None
    if spec.scheduler == "asha":
        # one Tune iteration = one compiled chunk; rungs at 1, 2, 4, ... chunks
        scheduler = ASHAScheduler(time_attr="training_iteration", max_t=chunks, grace_period=1, reduction_factor=2)
    elif spec.scheduler == "pbt":
        mutations = {s.name: s.to_tune() for s in spec.searches}
        scheduler = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=max(1, chunks // 4),
                                            hyperparam_mutations=mutations)  # fmt: skip
    # seeded samplers: the same sweep command samples the same trials (and hits the compilation cache)
    search_alg = BasicVariantGenerator(random_state=spec.seed)
    if spec.searcher == "optuna":
        try:
            from ray.tune.search.optuna import OptunaSearch
        except ImportError:
            raise UserError('--searcher optuna needs Optuna: pip install "optuna>=3,<6"') from None
        search_alg = OptunaSearch(seed=spec.seed)
    # reuse_actors: a finished trial's worker process runs the next trial (same resources), so each trial after
    # the first few skips a process start and the import of JAX + seuseuro (~9 CPU-s warm, ~20 cold, measured
    # on 2 cores); its SIGKILL still ends only the trial it runs (tests/scale/test_ray.py)
    tune_config = tune.TuneConfig(metric=spec.metric, mode=spec.mode, num_samples=spec.num_samples,
                                  scheduler=scheduler, search_alg=search_alg, reuse_actors=True,
                                  max_concurrent_trials=spec.max_concurrent or None)  # fmt: skip
    run_config = tune.RunConfig(
        name=spec.path.name,
        storage_path=str(spec.path.parent),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=checkpoints_to_keep(spec)),
        verbose=verbose,
    )
    param_space = {s.name: s.to_tune() for s in spec.searches}
    return tune.Tuner(_trainable(spec), param_space=param_space, tune_config=tune_config, run_config=run_config)


def checkpoints_to_keep(spec: SweepSpec) -> int | None:
    """Tune checkpoints kept per trial: the last one, except under PBT, which keeps them all. Why: PBT's
    exploiting trial restores the checkpoint its donor reported at the perturbation, and by the time the
    trial restarts the donor has reported again; with one kept, Tune has deleted it ("Could not recover
    from checkpoint as it does not exist on storage anymore", every restart, until the trial errors:
    measured with Ray 2.60, 4 PPO trials on CartPole; ray-project/ray#9036, #8441). The cost is disk: one
    checkpoint per chunk per trial (a replay buffer each, for an off-policy algorithm)."""
    return None if spec.scheduler == "pbt" else 1


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped the sweep; Tune saved its state (``--resume`` continues it). Raised after the
    partial table is written, so that neither a script nor ``seuseuro sweep`` (exit 130) mistakes an
    interrupted sweep for a finished one."""

    def __init__(self, path: Path, rows: list[dict[str, Any]], unfinished: int):
        self.path, self.rows, self.unfinished = path, rows, unfinished
        super().__init__(
            f"sweep interrupted with {unfinished} trial(s) unfinished; continue with: seuseuro sweep --resume {path}"
        )


def expected_trials(spec: SweepSpec) -> int:
    """Trials the sweep makes: num_samples times every grid(...) point."""
    return spec.num_samples * math.prod(len(s.args) for s in spec.searches if s.kind == "grid")


def restore_tuner(spec: SweepSpec):
    from ray import tune

    if not tune.Tuner.can_restore(str(spec.path)):
        raise UserError(f"{spec.path} has no Tune state to resume (it stopped before Tune saved any)")
    return tune.Tuner.restore(str(spec.path), trainable=_trainable(spec), resume_unfinished=True, resume_errored=True)


def run_sweep(spec: SweepSpec, *, resume: bool = False, verbose: int = 1) -> list[dict[str, Any]]:
    """Run (or resume) the sweep; writes SWEEP/results.csv and SWEEP/plots/; returns the table's rows.
    Raises :class:`SweepInterrupted` (a KeyboardInterrupt) after writing them if Ctrl-C cut the sweep short."""
    from seuseuro.core.checkpoint import atomic_write_text

    # num_to_keep=1 makes Tune snapshot its state at every report; with one report per chunk that is by design
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    spec.path.mkdir(parents=True, exist_ok=True)
    if not resume:
        atomic_write_text(spec.path / SWEEP_FILE, spec.to_json())
    tuner = restore_tuner(spec) if resume else make_tuner(spec, verbose)
    with _ctrl_c_noted() as interrupted:
        grid = tuner.fit()
    rows = results_table(spec, grid)
    write_results_csv(rows, spec.path / RESULTS_FILE)
    if rows:
        plot_scores(spec, rows, spec.path / "plots" / "score_vs_flags.png")
    if interrupted:
        unfinished = sum(r["status"] != "done" for r in rows) + max(0, expected_trials(spec) - len(rows))
        raise SweepInterrupted(spec.path, rows, unfinished)
    return rows


@contextlib.contextmanager
def _ctrl_c_noted():
    """Yields a list that holds True once Ctrl-C stopped ``Tuner.fit``. Tune catches the first SIGINT itself,
    saves its state and returns as if finished, with the cut trials TERMINATED like the ones ASHA stopped
    (measured, Ray 2.60): its results cannot tell. So this handler takes SIGINT instead, notes it and
    passes it on as SIGUSR1, which Tune handles the same way; a second Ctrl-C raises KeyboardInterrupt."""
    import signal
    import threading

    noted: list[bool] = []
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"):
        yield noted  # signal handlers belong to the main thread; Tune installs none elsewhere either
        return

    def on_sigint(signum, frame):
        if noted:
            raise KeyboardInterrupt
        noted.append(True)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGINT, on_sigint)
    saved = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)
        if saved is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = saved


def load_spec(sweep_dir: Path) -> SweepSpec:
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.exists():
        raise UserError(f"{sweep_dir} has no {SWEEP_FILE}: it is not a seuseuro sweep directory")
    try:
        return SweepSpec.from_json(path.read_text())
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserError(f"{path} cannot be read ({err}); it was edited or written by another version") from None


def _status(result) -> str:
    if result.error is not None:
        return "error"
    metrics = result.metrics or {}
    return "done" if metrics.get("env_steps", 0) >= metrics.get("total_env_steps", math.inf) else "stopped early"


def results_table(spec: SweepSpec, grid) -> list[dict[str, Any]]:
    """One row per trial, best first: its flags, training score, evaluation with 95% CI, status, run dir."""
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        params = {s.name: (result.config or {}).get(s.name) for s in spec.searches}
        # the trial's id from Tune's directory name, train_trial_ID_INDEX_..., not from its metrics: a trial that
        # never reported has none, and one that PBT made exploit another carries the donor's last result (and id)
        # until it reports again (measured: the donor's row twice in the table, the exploiting trial's missing)
        trial_id = "_".join(Path(result.path).name.removeprefix("train_trial_").split("_")[:2])
        rows.append({
            "trial": trial_id,
            **params,
            "env_steps": int(metrics.get("env_steps", 0)),
            spec.metric: metrics.get(spec.metric, math.nan),
            "eval_return": metrics.get("eval_return", math.nan),
            "eval_ci95_low": metrics.get("eval_ci95_low", math.nan),
            "eval_ci95_high": metrics.get("eval_ci95_high", math.nan),
            "status": _status(result),
            "run_dir": str(spec.path / RUNS_DIR / trial_id),
        })  # fmt: skip
    sign = 1.0 if spec.mode == "max" else -1.0

    def rank(row):
        score = row["eval_return"] if math.isfinite(row["eval_return"]) else row[spec.metric]
        return (row["status"] != "done", -sign * score if math.isfinite(score) else math.inf)

    return sorted(rows, key=rank)


def write_results_csv(rows: list[dict[str, Any]], path: Path) -> None:
    import csv
    import io

    from seuseuro.core.checkpoint import atomic_write_text

    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def plot_scores(spec: SweepSpec, rows: list[dict[str, Any]], path: Path) -> Path:
    """Score (evaluation mean with its CI where evaluated, else the training metric) against each searched flag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flags = [s for s in spec.searches] or [Search("trial", "choice", ())]
    fig, axes = plt.subplots(1, len(flags), figsize=(4 * len(flags), 3.2), squeeze=False)
    for ax, s in zip(axes[0], flags, strict=True):
        for row in rows:
            x = row.get(s.name, row["trial"])
            evaluated = math.isfinite(row["eval_return"])
            y = row["eval_return"] if evaluated else row[spec.metric]
            if evaluated and math.isfinite(row["eval_ci95_low"]):
                ax.errorbar(
                    [x], [y], yerr=[[y - row["eval_ci95_low"]], [row["eval_ci95_high"] - y]], fmt="o", color="C0"
                )
            else:
                ax.plot(
                    [x], [y], "x" if row["status"] != "done" else "o", color="C1" if row["status"] != "done" else "C0"
                )
        if s.kind == "loguniform":
            ax.set_xscale("log")
        ax.set_xlabel(s.name)
        ax.set_ylabel("eval return (95% CI)" if s is flags[0] else "")
    fig.suptitle(f"{spec.algo} on {spec.env}: {len(rows)} trials (x: stopped early or unevaluated)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path
