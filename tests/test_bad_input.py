"""Bad input, fuzzed (issue 9): invalid config values, command-line flags, checkpoints and run directories
each give one line on stderr and exit status 2, never a traceback, and leave the run directory untouched.

Everything here fails before anything compiles a training step, so the file runs in seconds after the
one tiny training run its fixture makes.
"""

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import shutil
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seuseuro.algos import grpo, ppo, ppo_lagrangian
from seuseuro.cli import main
from seuseuro.errors import UserError
from seuseuro.lm.model import LMConfig
from seuseuro.lm.sft import SFTConfig

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` in-process: (exit status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, err.getvalue()


def assert_one_line_error(argv: list[str]) -> str:
    rc, err = run_cli(argv)
    assert rc == 2, (argv, rc, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    return err


# --- Config dataclasses: any value either constructs or raises one UserError line ----------------------

CONFIGS = [ppo.Config, ppo_lagrangian.Config, grpo.Config, SFTConfig, LMConfig]
SMALL_INTS = st.integers(-3, 3) | st.integers(-(10**9), 10**9)
WILD_FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -1.0, 1.0, 0.5, 2.0])


def _value_strategy(hint):
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return st.sampled_from([*typing.get_args(hint), "bogus", ""])
    if origin is tuple:
        return st.lists(SMALL_INTS, max_size=3).map(tuple)
    return {int: SMALL_INTS, float: WILD_FLOATS, bool: st.booleans(), str: st.text(max_size=5)}.get(hint)


def _kwargs_strategy(cls):
    hints = typing.get_type_hints(cls)
    fields = {f.name: _value_strategy(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.fixed_dictionaries({}, optional={k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: f"{c.__module__}.{c.__name__}")
@FAST
@given(data=st.data())
def test_config_accepts_or_names_the_problem(cls, data):
    kwargs = data.draw(_kwargs_strategy(cls))
    try:
        config = cls(**kwargs)
    except UserError as err:
        assert str(err) and "\n" not in str(err)
        return
    for name, value in kwargs.items():  # what was accepted is usable: finite, and the declared choices
        if isinstance(value, float):
            assert math.isfinite(value), name
        hint = typing.get_type_hints(cls)[name]
        if typing.get_origin(hint) is typing.Literal:
            assert value in typing.get_args(hint), name
    assert config == cls(**kwargs)


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
@FAST
@given(data=st.data(), bad=st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_floats_are_refused(cls, data, bad):
    floats = [f.name for f in dataclasses.fields(cls) if typing.get_type_hints(cls)[f.name] is float]
    name = data.draw(st.sampled_from(floats))
    with pytest.raises(UserError, match=name.replace("_", "-")):
        cls(**{name: bad})


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (LMConfig, {"n_kv_heads": 0}),  # was ZeroDivisionError
        (LMConfig, {"n_heads": 0}),
        (LMConfig, {"d_model": 2, "n_heads": 4, "n_kv_heads": 2}),  # head dimension 0
        (ppo.Config, {"adam_eps": 0.0}),
        (ppo.Config, {"ent_coef": -0.1}),
        (ppo.Config, {"torso_widths": ()}),
        (ppo.Config, {"activation": "gelu"}),
        (grpo.Config, {"top_p": 0.0}),
        (grpo.Config, {"temperature": -1.0}),
        (grpo.Config, {"loss_agg": "sum"}),
        (SFTConfig, {"max_grad_norm": 0.0}),
        (ppo_lagrangian.Config, {"cost_key": ""}),
    ],
)
def test_invalid_values_found_by_fuzzing(cls, kwargs):
    with pytest.raises(UserError):
        cls(**kwargs)


# --- every command's flags: an invalid value is one line and exit status 2 -------------------------------

NOT_A_NUMBER = st.text(min_size=0, max_size=6).filter(lambda s: not _parses_as_number(s))


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# (command prefix, numeric flags) — a non-numeric token for any of them is a parse error
NUMERIC_FLAGS = [
    (["train", "ppo"], ["--num-envs", "--gamma", "--learning-rate", "--num-seeds", "--seed", "--chunk-updates"]),
    (["train", "ppo-lagrangian"], ["--cost-limit", "--multiplier-lr", "--horizon", "--num-envs"]),
    (["train", "sft"], ["--steps", "--batch-size", "--model.n-heads", "--model.d-model", "--log-every"]),
    (["train", "grpo"], ["--group-size", "--top-p", "--temperature", "--num-problems"]),
    (["render"], ["--width", "--height", "--seed"]),
    (["audit", "--agent", "max-utility"], ["--steps", "--seeds", "--max-gap"]),
    (["eval", "no-such-run"], ["--episodes", "--seed"]),
]


@FAST
@given(spec=st.sampled_from(NUMERIC_FLAGS), data=st.data(), token=NOT_A_NUMBER)
def test_non_numeric_values_of_numeric_flags(spec, data, token):
    prefix, flags = spec
    flag = data.draw(st.sampled_from(flags))
    assert_one_line_error([*prefix, f"{flag}={token}"])


# Values of the right type that no run can use: each is refused before anything is built.
OUT_OF_RANGE = [
    ["train", "ppo", "--num-envs", "0"],
    ["train", "ppo", "--num-steps", "-5"],
    ["train", "ppo", "--gamma", "nan"],
    ["train", "ppo", "--learning-rate", "inf"],
    ["train", "ppo", "--learning-rate", "-1e-3"],
    ["train", "ppo", "--ent-coef", "-1"],
    ["train", "ppo", "--num-minibatches", "7"],
    ["train", "ppo", "--hidden-sizes", "0"],
    ["train", "ppo", "--torso-widths", "-1"],
    ["train", "ppo", "--activation", "gelu"],
    ["train", "ppo", "--num-seeds", "0"],
    ["train", "ppo", "--checkpoint-every", "0"],
    ["train", "ppo", "--chunk-updates", "-1"],
    ["train", "ppo", "--env", ""],
    ["train", "ppo", "--env", "NoSuchEnv-v9"],
    ["train", "ppo", "--unknown-flag", "1"],
    ["train", "ppo-lagrangian", "--cost-limit", "-0.1"],
    ["train", "ppo-lagrangian", "--multiplier-lr", "0"],
    ["train", "ppo-lagrangian", "--horizon", "0"],
    ["train", "ppo-lagrangian", "--num-seeds", "0"],
    ["train", "ppo-lagrangian", "--cost-key", ""],
    ["train", "sft", "--steps", "0"],
    ["train", "sft", "--learning-rate", "nan"],
    ["train", "sft", "--model.n-heads", "0"],
    ["train", "sft", "--model.n-kv-heads", "0"],
    ["train", "sft", "--model.n-kv-heads", "3"],
    ["train", "sft", "--log-every", "0"],
    ["train", "sft", "--checkpoint-every", "0"],
    ["train", "sft", "--eval-problems", "-1"],
    ["train", "sft", "--task", "no-such-task"],
    ["train", "sft", "--task-option", "digits"],
    ["train", "grpo"],  # neither --init nor --resume
    ["train", "grpo", "--group-size", "1"],
    ["train", "grpo", "--top-p", "0"],
    ["train", "grpo", "--temperature", "-1"],
    ["train", "grpo", "--eval-temperature", "nan"],
    ["train", "grpo", "--num-problems", "0"],
    ["train", "grpo", "--init", "no-such-run"],
    ["train", "nope"],
    ["render", "--width", "0"],
    ["render", "--height", "-1"],
    ["render", "--env", "CartPole-v1"],
    ["audit"],
    ["audit", "--agent", "max-utility", "--steps", "0"],
    ["audit", "--agent", "max-utility", "--max-gap", "2"],
    ["audit", "--agent", "nobody"],
    ["sample", "no-such-run", "1+1"],
    ["sample", "no-such-run", "1+1", "--top-p", "2"],
    ["sample", "no-such-run", "1+1", "--num-samples", "0"],
    ["eval"],
    ["eval", "no-such-run"],
    ["plot"],
    ["plot", "no-such-run"],
    ["envs", "--spaces", "maybe"],
    ["runs", "--bogus"],
    ["evaluate"],
]


@pytest.mark.parametrize("argv", OUT_OF_RANGE, ids=" ".join)
def test_out_of_range_values(argv):
    assert_one_line_error(argv)


def test_env_suggestions_are_listed_once():
    # CartPole-v1 is registered by gymnax and by Gymnasium; it used to be suggested twice (issue 9)
    err = assert_one_line_error(["train", "ppo", "--env", "CartPol-v1"])
    hint = err.split("did you mean ", 1)[1].split("?", 1)[0].split(", ")
    assert "CartPole-v1" in hint and len(hint) == len(set(hint))
    err = assert_one_line_error(["train", "ppo", "--env", "cartpole"])
    hint = err.split("did you mean ", 1)[1].split("?", 1)[0].split(", ")
    assert len(hint) == len(set(hint))


# --- broken run directories: a clear error, and not one byte changed --------------------------------------

TINY = ["--total-steps", "256", "--num-envs", "4", "--num-steps", "32", "--num-epochs", "1", "--hidden-sizes", "8"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("bad-input") / "r"
    rc, err = run_cli(["train", "ppo", "--env", "CartPole-v1", *TINY, "--run-dir", str(run), "--no-progress",
                       "--no-tensorboard", "--eval-episodes", "0", "--chunk-updates", "1"])  # fmt: skip
    assert rc == 0, err
    return run


def snapshot(path) -> dict[str, str]:
    """Every file's SHA-256 and every directory, relative to ``path``."""
    out = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def commands_on(run) -> list[list[str]]:
    return [["eval", str(run), "--episodes", "1"], ["train", "ppo", "--resume", str(run), "--no-progress"],
            ["plot", str(run)], ["audit", str(run), "--steps", "10", "--seeds", "1"]]  # fmt: skip


def assert_refused_untouched(run, commands) -> None:
    before = snapshot(run)
    for argv in commands:
        assert_one_line_error(argv)
        assert snapshot(run) == before, argv


def _copy(trained_run, tmp_path, name="copy"):
    target = tmp_path / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(trained_run, target)
    return target


def _edit_record(run, edit) -> None:
    record = json.loads((run / "config.json").read_text())
    edit(record)
    (run / "config.json").write_text(json.dumps(record))


def _as_lending_run(run) -> None:
    """The audit reads lending runs only; with the env id changed, it gets as far as the checkpoint."""
    _edit_record(run, lambda r: r.update(env_id="Lending-v0"))


@SLOW
@given(garbage=st.binary(max_size=300))
def test_random_bytes_as_checkpoint(trained_run, tmp_path, garbage):
    run = _copy(trained_run, tmp_path)
    (run / "checkpoints" / "latest.npz").write_bytes(garbage)
    assert_refused_untouched(run, commands_on(run)[:2])
    _as_lending_run(run)
    assert_refused_untouched(run, commands_on(run)[3:])


@SLOW
@given(fraction=st.floats(0.0, 0.999))
def test_truncated_checkpoint(trained_run, tmp_path, fraction):
    run = _copy(trained_run, tmp_path)
    ckpt = run / "checkpoints" / "latest.npz"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: int(len(data) * fraction)])
    assert_refused_untouched(run, commands_on(run)[:2])


@SLOW
@given(garbage=st.binary(min_size=1, max_size=200))
def test_garbled_config_json(trained_run, tmp_path, garbage):
    run = _copy(trained_run, tmp_path)
    (run / "config.json").write_bytes(b"{" + garbage)  # never valid JSON
    assert_refused_untouched(run, commands_on(run))


@SLOW
@given(record=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids,
                                                                                     max_size=3), max_leaves=6))  # fmt: skip
def test_config_json_that_is_not_a_run_record(trained_run, tmp_path, record):
    run = _copy(trained_run, tmp_path)
    (run / "config.json").write_text(json.dumps(record))
    assert_refused_untouched(run, commands_on(run))


WRONG_TYPES = [("num_envs", "8"), ("hidden_sizes", "64"), ("gamma", None), ("num_steps", 3.5),
               ("normalize_observations", "yes"), ("activation", "gelu"), ("hidden_sizes", [64, "x"]),
               ("learning_rate", True), ("total_steps", -1)]  # fmt: skip


@pytest.mark.parametrize("key, value", WRONG_TYPES)
def test_config_json_with_a_wrong_type(trained_run, tmp_path, key, value):
    run = _copy(trained_run, tmp_path)
    _edit_record(run, lambda r: r["config"].update({key: value}))
    assert_refused_untouched(run, commands_on(run)[:2])
    _as_lending_run(run)
    assert_refused_untouched(run, commands_on(run)[3:])


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda r: r["config"].update(new_knob=1), "unknown fields ['new_knob']"),  # a newer version
        (lambda r: r["config"].pop("gae_lambda"), "missing fields ['gae_lambda']"),  # an older version
        (lambda r: r.pop("num_seeds"), "'num_seeds'"),
        (lambda r: r.update(num_seeds="2"), "'num_seeds'"),
        (lambda r: r.update(updates_per_chunk=0), "updates_per_chunk"),
        (lambda r: r.pop("algo"), "'algo'"),
        (lambda r: r.update(config=[1, 2]), "'config'"),
    ],
)
def test_config_json_from_another_version(trained_run, tmp_path, edit, needle):
    run = _copy(trained_run, tmp_path)
    _edit_record(run, edit)
    before = snapshot(run)
    for argv in commands_on(run)[:2]:
        assert needle in assert_one_line_error(argv)
    assert snapshot(run) == before


def test_missing_files(trained_run, tmp_path):
    run = _copy(trained_run, tmp_path)
    (run / "config.json").unlink()
    assert_refused_untouched(run, commands_on(run))
    run = _copy(trained_run, tmp_path)
    (run / "metrics.csv").unlink()
    assert "no metrics.csv" in assert_one_line_error(["plot", str(run)])
    (run / "checkpoints" / "latest.npz").unlink()
    # eval refuses; `train --resume` of a run without a checkpoint starts it from its seed (a run killed
    # before its first checkpoint must be resumable: tests/test_crash_safety.py)
    assert_refused_untouched(run, commands_on(run)[:1])


@SLOW
@given(garbage=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_garbled_metrics_csv(trained_run, tmp_path, garbage):
    run = _copy(trained_run, tmp_path)
    (run / "metrics.csv").write_bytes(garbage)
    before = snapshot(run)
    rc, err = run_cli(["plot", str(run), "--out", str(tmp_path / "curve.png")])
    assert "Traceback" not in err and rc in (0, 2), err  # a file that happens to parse still plots
    if rc == 2:
        assert len(err.strip().splitlines()) == 1
    assert snapshot(run) == before


def test_runs_lists_a_run_with_a_garbled_config(trained_run, tmp_path):
    _copy(trained_run, tmp_path, "good")
    bad = _copy(trained_run, tmp_path, "bad")
    (bad / "config.json").write_bytes(b"\xff\xfe{")
    rc, err = run_cli(["runs", "--root", str(tmp_path)])
    assert rc == 0, err
