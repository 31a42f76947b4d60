"""``make_task("addition", digits=3)``: text tasks by name, with a clear error for unknown names."""

from __future__ import annotations

import dataclasses
import difflib

from seuseuro.envs.text.arithmetic import Addition, Multiplication
from seuseuro.envs.text.countdown import Countdown
from seuseuro.envs.text.knights import KnightsAndKnaves
from seuseuro.envs.text.task import TextTask
from seuseuro.errors import UserError

TASKS: dict[str, type[TextTask]] = {
    "addition": Addition,
    "multiplication": Multiplication,
    "countdown": Countdown,
    "knights": KnightsAndKnaves,
}


def make_task(name: str, **options) -> TextTask:
    """A task by name; ``options`` are the task's fields (``digits``, ``partial_credit``, ...).
    ``rg:NAME`` is the reasoning-gym dataset NAME (optional extra)."""
    if name.startswith("rg:"):
        from seuseuro.envs.text.reasoning_gym import ReasoningGymTask

        return ReasoningGymTask(dataset=name[3:], **options)
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=2)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown task {name!r}{hint}; choose one of: {', '.join(TASKS)}")
    cls = TASKS[name]
    allowed = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UserError(f"task {name} has no option {', '.join(unknown)}; it takes: {', '.join(sorted(allowed))}")
    return cls(**options)
