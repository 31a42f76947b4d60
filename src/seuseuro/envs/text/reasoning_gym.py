"""Any reasoning-gym dataset as a text task (optional extra: ``pip install reasoning-gym``).

``make_task("rg:leg_counting")`` wraps ``reasoning_gym.create_dataset("leg_counting", size, seed)``:
the question is the prompt, reasoning-gym's own ``score_answer`` is the checker (its scores are
already in 0..1; ``partial_credit`` is a floor for well-formed wrong answers), and the split is
decided by the hash of the question as for every task. reasoning-gym ships no worked solutions, so
the SFT target is the bare answer in the format (``<think></think><answer>...</answer>``).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from seuseuro.envs.text.task import Problem, TextTask, extract_answer, format_completion
from seuseuro.errors import UserError


@functools.lru_cache(maxsize=8)
def _dataset(name: str, size: int, seed: int):
    try:
        import reasoning_gym
    except ImportError:
        raise UserError("reasoning-gym tasks need the optional extra: pip install reasoning-gym") from None
    try:
        return reasoning_gym.create_dataset(name, size=size, seed=seed)
    except Exception as err:  # an unknown name raises inside reasoning-gym with its own types
        raise UserError(f"reasoning-gym has no dataset {name!r} ({err})") from None


@dataclasses.dataclass(frozen=True)
class ReasoningGymTask(TextTask):
    """A reasoning-gym dataset: ``dataset`` names it, ``size`` entries are generated from ``seed``."""

    dataset: str = "leg_counting"
    """reasoning-gym dataset name."""
    size: int = 10000
    """Entries generated (both splits together)."""
    seed: int = 0
    """reasoning-gym's generation seed."""
    name: str = dataclasses.field(default="rg", init=False)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "name", f"rg:{self.dataset}")

    def generate(self, rng: np.random.Generator) -> Problem:
        data = _dataset(self.dataset, self.size, self.seed)
        entry = data[int(rng.integers(len(data)))]
        answer = str(entry["answer"])
        return Problem(str(entry["question"]), answer, format_completion("", answer), (entry,))

    def parse(self, answer: str):
        return answer if answer else None

    def is_correct(self, problem: Problem, value) -> bool:
        return self._rg_score(problem, value) >= 1.0

    def _rg_score(self, problem: Problem, value: str) -> float:
        return float(_dataset(self.dataset, self.size, self.seed).score_answer(answer=value, entry=problem.data[0]))

    def score(self, problem: Problem, completion: str) -> float:
        text = extract_answer(completion)
        if not text:
            return 0.0
        return max(self._rg_score(problem, text), self.partial_credit)
