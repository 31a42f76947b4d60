"""What every verifiable reasoning task shares: the problem record, the answer format, the scoring
rule and the train/test split.

Format (the R1-Zero / TinyZero convention): a completion is ``<think>...</think><answer>...</answer>``.
The checker reads only what is inside ``<answer>``. Scores (TinyZero's countdown reward, extended to
every task): 1 for a correct answer, ``partial_credit`` (default 0; TinyZero uses 0.1) for a
well-formed but wrong answer, 0 when there is no parsable answer.

Splits: a problem belongs to the test split iff a stable hash of ``task name + prompt`` falls under
``test_fraction``. The split is a property of the problem itself, so train and test can never share a
problem whatever the seeds, sizes or order of generation.

Problems are generated on the host with a NumPy generator seeded from an integer: text is a host
object, and the same seed always gives the same problems.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from typing import Literal

import numpy as np

from seuseuro.errors import UserError

Split = Literal["train", "test"]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
SPECIAL_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One generated problem."""

    prompt: str
    """What the model sees, e.g. ``"347+589"``."""
    answer: str
    """The canonical correct answer, e.g. ``"936"``."""
    solution: str
    """A worked solution in the full format, used as the supervised (SFT) target."""
    data: tuple = ()
    """What the checker needs beyond the answer (countdown: the numbers and the target)."""


def format_completion(think: str, answer: str) -> str:
    """The completion format every task uses."""
    return f"{THINK_OPEN}{think}{THINK_CLOSE}{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def extract_answer(completion: str) -> str | None:
    """The text of the first ``<answer>...</answer>`` that follows a closed ``<think>`` block, or None.

    Requiring the think block keeps the reward tied to the format the model was taught (R1-Zero's
    format reward folded into the answer reward)."""
    close = completion.find(THINK_CLOSE)
    if not completion.lstrip().startswith(THINK_OPEN) or close < 0:
        return None
    match = _ANSWER_RE.search(completion, close)
    return None if match is None else match.group(1).strip()


def split_of(task_name: str, prompt: str, test_fraction: float) -> Split:
    """Which split a problem belongs to: a stable hash of its text, independent of any seed."""
    digest = hashlib.sha256(f"{task_name}\x00{prompt}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "test" if u < test_fraction else "train"


@dataclasses.dataclass(frozen=True)
class TextTask:
    """A family of problems: a generator, a parser for answers and a correctness rule.

    Subclasses implement :meth:`generate`, :meth:`parse` and :meth:`is_correct`."""

    partial_credit: float = 0.0
    """Score of a well-formed but wrong answer (TinyZero: 0.1). 0 gives the plain 0/1 reward."""
    test_fraction: float = 0.1
    """Fraction of the problem space reserved for the test split (by hash of the prompt)."""

    name: str = dataclasses.field(default="task", init=False)

    def __post_init__(self):
        if not 0.0 <= self.partial_credit < 1.0:
            raise UserError(f"partial_credit={self.partial_credit} must be in [0, 1); 0.1 is TinyZero's value")
        if not 0.0 < self.test_fraction < 1.0:
            raise UserError(f"test_fraction={self.test_fraction} must be in (0, 1); 0.1 is usual")

    # --- to implement ---------------------------------------------------------------------------
    def generate(self, rng: np.random.Generator) -> Problem:
        """One random problem from the whole space (either split)."""
        raise NotImplementedError

    def parse(self, answer: str):
        """The answer text as a value, or None if it is not well formed for this task."""
        raise NotImplementedError

    def is_correct(self, problem: Problem, value) -> bool:
        """Whether a parsed answer solves the problem."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------------
    def score(self, problem: Problem, completion: str) -> float:
        """1 if correct, ``partial_credit`` if well formed but wrong, 0 if no parsable answer."""
        text = extract_answer(completion)
        value = None if text is None else self.parse(text)
        if value is None:
            return 0.0
        return 1.0 if self.is_correct(problem, value) else self.partial_credit

    def sample(self, n: int, seed: int, split: Split) -> list[Problem]:
        """``n`` problems of one split, reproducible from ``seed`` (rejection on the split hash)."""
        if split not in ("train", "test"):
            raise UserError(f"split {split!r} is not one of 'train', 'test'")
        rng = np.random.default_rng([seed, 0 if split == "train" else 1])
        out: list[Problem] = []
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 1000 * n + 10_000:
                raise UserError(f"task {self.name} cannot produce {n} {split} problems; enlarge the problem size")
            p = self.generate(rng)
            if split_of(self.name, p.prompt, self.test_fraction) == split:
                out.append(p)
        return out

    def scorer(self) -> Callable[[Problem, str], float]:
        return self.score
