"""A tokenizer trained locally with Hugging Face ``tokenizers`` and saved with the run (tokenizer.json).

Byte-pair encoding over the task's own text, with every digit its own token (numbers split into
digits make arithmetic learnable for small models; the same choice as Llama's and Qwen's
tokenizers) and the format tags as special tokens. The same wrapper loads a Hugging Face
``tokenizer.json`` (lm/hf.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from seuseuro.envs.text.task import SPECIAL_TAGS
from seuseuro.errors import UserError

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIAL_TOKENS = (PAD, BOS, EOS, *SPECIAL_TAGS)


@dataclasses.dataclass(frozen=True)
class TextTokenizer:
    """A ``tokenizers.Tokenizer`` plus the ids the sampler and the losses need."""

    tokenizer: Tokenizer
    pad_id: int
    eos_id: int
    bos_id: int | None

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids`` up to (not including) the first EOS or pad; format tags are kept."""
        out = []
        for i in ids:
            i = int(i)
            if i in (self.eos_id, self.pad_id):
                break
            out.append(i)
        return self.tokenizer.decode(out, skip_special_tokens=False)

    def encode_prompt(self, prompt: str) -> list[int]:
        """What the model is conditioned on: BOS (if any) then the prompt."""
        return ([self.bos_id] if self.bos_id is not None else []) + self.encode(prompt)

    def token_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)

    def save(self, path: str | Path) -> None:
        from seuseuro.core.checkpoint import atomic_write_text

        atomic_write_text(path, self.tokenizer.to_str())

    @classmethod
    def load(cls, path: str | Path, eos_token: str = EOS, pad_token: str | None = PAD) -> TextTokenizer:
        path = Path(path)
        if not path.exists():
            raise UserError(f"no tokenizer at {path}; a run directory must hold the tokenizer.json it trained with")
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises plain Exception on malformed JSON
            raise UserError(f"{path} is not a valid tokenizer.json ({err})") from None
        eos = tok.token_to_id(eos_token)
        if eos is None:
            raise UserError(f"tokenizer {path} has no end-of-sequence token {eos_token!r}")
        pad = tok.token_to_id(pad_token) if pad_token else None
        bos = tok.token_to_id(BOS)
        return cls(tok, pad_id=eos if pad is None else pad, eos_id=eos, bos_id=bos)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 96) -> TextTokenizer:
    """Train a BPE tokenizer on ``texts`` (prompts and worked solutions of a task)."""
    if vocab_size < len(SPECIAL_TOKENS) + 10:
        raise UserError(f"vocab_size={vocab_size} is too small; use at least {len(SPECIAL_TOKENS) + 10}")
    tok = Tokenizer(models.BPE())
    # Digits one by one, punctuation alone; merges may only join letters and spaces (words).
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Punctuation("isolated")]
    )
    tok.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return TextTokenizer(tok, pad_id=tok.token_to_id(PAD), eos_id=tok.token_to_id(EOS), bos_id=tok.token_to_id(BOS))


def pad_left(seqs: Sequence[Sequence[int]], pad_id: int, length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Left-padded ``(B, P)`` token array and its validity mask; prompts end at the same column so
    generation starts at one position for the whole batch."""
    length = max(len(s) for s in seqs) if length is None else length
    tokens = np.full((len(seqs), length), pad_id, dtype=np.int32)
    valid = np.zeros((len(seqs), length), dtype=bool)
    for i, s in enumerate(seqs):
        if len(s) > length:
            raise UserError(f"a prompt of {len(s)} tokens is longer than the {length} allowed; shorten it")
        if len(s):
            tokens[i, length - len(s) :] = s
            valid[i, length - len(s) :] = True
    return tokens, valid
