"""Verifiable reasoning tasks: generators from a seed, answer extractors, checkers scoring 0..1."""

from seuseuro.envs.text.arithmetic import Addition, Multiplication
from seuseuro.envs.text.countdown import Countdown
from seuseuro.envs.text.knights import KnightsAndKnaves
from seuseuro.envs.text.registry import TASKS, make_task
from seuseuro.envs.text.task import Problem, TextTask, extract_answer, format_completion, split_of

__all__ = [
    "TASKS",
    "Addition",
    "Countdown",
    "KnightsAndKnaves",
    "Multiplication",
    "Problem",
    "TextTask",
    "extract_answer",
    "format_completion",
    "make_task",
    "split_of",
]
