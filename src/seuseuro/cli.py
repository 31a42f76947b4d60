"""The ``seuseuro`` command line: ``seuseuro train ALGO | eval | plot | envs | ...``.

Each command is a typed dataclass turned into flags by tyro plus a ``run(args) -> int`` function in
``seuseuro.commands``. This file only dispatches: it maps the first word (and, for ``train``, the second)
to ``"module:ArgsClass:run_function"`` and imports lazily, so ``seuseuro --help`` stays fast.

Every :class:`~seuseuro.errors.UserError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys

from seuseuro.errors import UserError


def train_commands() -> dict[str, tuple[str, str, str, str]]:
    """name -> ("module", "ArgsClass", "run_function", "one-line description"), from the algorithm
    registry (``experiment.ALGORITHMS``, which imports nothing heavy)."""
    from seuseuro.experiment import ALGORITHMS, args_class_name

    table = {}
    for name, entry in ALGORITHMS.items():
        if entry.command is not None:
            module, args_cls, run = entry.command.split(":")
        else:  # the generic RL command builds the flags from the algorithm's Config
            module, args_cls, run = "seuseuro.commands.train", args_class_name(name), "run_train"
        table[name] = (module, args_cls, run, entry.summary)
    return table


COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "eval": (
        "seuseuro.commands.evaluate",
        "EvalArgs",
        "run_eval",
        "evaluate a run: per-seed and mean return, 95% CI",
    ),
    "plot": ("seuseuro.commands.plot", "PlotArgs", "run_plot", "learning curves of one or more runs to PNG"),
    "envs": ("seuseuro.commands.envs", "EnvsArgs", "run_envs", "list environments with their spaces"),
    "runs": ("seuseuro.commands.listing", "ListRunsArgs", "run_list_runs", "list run directories and their results"),
    "render": (
        "seuseuro.commands.render",
        "RenderArgs",
        "run_render",
        "PNGs of a 3D scene: top-down map, depth image, point cloud",
    ),
    "sweep": ("seuseuro.commands.sweep", "SweepArgs", "run_sweep_command", "hyperparameter sweep on Ray Tune"),
    "sample": ("seuseuro.commands.lm", "SampleArgs", "run_sample", "answer a prompt with a trained LM run"),
    "audit": (
        "seuseuro.commands.audit",
        "AuditArgs",
        "run_audit",
        "fairness audit of a lender or a run: JSON, plots, HTML",
    ),
}

# `seuseuro eval RUN_DIR ...` picks its flags by the family of the run's algorithm (config.json "algo").
EVAL_LM = ("seuseuro.commands.lm", "EvalLMArgs", "run_eval_lm", "held-out accuracy of an LM run, 95% CI")


def _eval_spec(rest: list[str]) -> tuple[str, str, str, str]:
    """The eval command for the run named by the first positional argument (RL's by default)."""
    positional = next((a for a in rest if not a.startswith("-")), None)
    if positional is None:
        return COMMANDS["eval"]
    from seuseuro.experiment import ALGORITHMS
    from seuseuro.runs import RunDir

    entry = ALGORITHMS.get(RunDir.open(positional).algo)
    return EVAL_LM if entry is not None and entry.family == "lm" else COMMANDS["eval"]


def _usage() -> str:
    lines = [
        "usage: seuseuro COMMAND [ARGS...]   (seuseuro COMMAND --help for its flags)",
        "",
        "seuseuro (스스로): agents that think and judge by themselves — deep RL, 3D scenes, reasoning LMs, fairness.",
        "",
        "commands:",
    ]
    for name, (*_, doc) in train_commands().items():
        lines.append(f"  train {name:<16} {doc}")
    for name, (*_, doc) in COMMANDS.items():
        lines.append(f"  {name:<22} {doc}")
    return "\n".join(lines)


def _dispatch(spec: tuple[str, str, str, str], argv: list[str], prog: str) -> int:
    import tyro

    module_name, args_name, run_name, doc = spec
    module = importlib.import_module(module_name)
    args_cls = getattr(module, args_name)
    # A command may compute its defaults from the command line (PPO's tuned set per --env).
    default = module.default_args(args_cls, argv) if hasattr(module, "default_args") else None
    description = args_cls.__doc__ or doc
    if hasattr(module, "defaults_note") and (note := module.defaults_note(args_cls, argv)):
        description = f"{description}\n\n{note}"
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            args = tyro.cli(args_cls, args=argv, prog=prog, description=description, default=default)
    except SystemExit as exit_:
        if exit_.code in (0, None):  # --help
            raise
        raise UserError(f"{_parse_error_line(captured.getvalue())}; see `{prog} --help` for the flags") from None
    sys.stderr.write(captured.getvalue())
    return int(getattr(module, run_name)(args) or 0)


def _parse_error_line(boxed: str) -> str:
    """tyro's parse error (a box of several lines: the problem, then the flag's help text) as one line:
    the box's first section, which names the problem; the flags are one `--help` away."""
    lines = []
    for line in boxed.splitlines():
        text = line.strip().strip("│╭╮╰╯─").strip()
        if line.strip().startswith("│ ─") or line.strip().startswith("│ ━"):  # tyro's section rule
            if lines:
                break
            continue
        if text and not line.strip().startswith(("╭", "╰")):
            lines.append(text)
    message = " ".join(" ".join(lines).split()).rstrip(".")
    return message or "invalid command line"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # a broken pipe elsewhere (a socket, a child process) is a real error, not `| head`
        # `seuseuro train sac --help | head` closed our stdout early: stop quietly, as `ls | head` does.
        # Point stdout at /dev/null so the interpreter's flush at exit does not raise again (Python's
        # documented recipe, docs.python.org/3/library/signal.html#note-on-sigpipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe


def _stdout_reader_gone() -> bool:
    """Whether writing to stdout fails because its reader has gone (EPIPE). On a healthy stdout this
    writes one newline, on the way to a traceback."""
    try:
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):  # closed or otherwise unusable: not the case handled here
        return False
    return False


def _main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 1
    if argv[0] in ("-V", "--version"):
        from seuseuro import __version__

        print(f"seuseuro {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    from seuseuro.core.compile_cache import enable_persistent_cache

    enable_persistent_cache()
    try:
        if command == "train":
            if not rest or rest[0] in ("-h", "--help"):
                print("usage: seuseuro train ALGO [FLAGS]   algorithms: " + ", ".join(train_commands()))
                return 0 if rest else 1
            algo, table = rest[0], train_commands()
            if algo not in table:
                raise UserError(f"unknown algorithm {algo!r}; choose one of: {', '.join(table)}")
            return _dispatch(table[algo], rest[1:], prog=f"seuseuro train {algo}")
        if command not in COMMANDS:
            import difflib

            close = difflib.get_close_matches(command, [*COMMANDS, "train"], n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"unknown command {command!r}{hint}; run `seuseuro --help` for the list")
        spec = _eval_spec(rest) if command == "eval" else COMMANDS[command]
        return _dispatch(spec, rest, prog=f"seuseuro {command}")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
