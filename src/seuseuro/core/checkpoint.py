"""Atomic checkpoints of a whole pytree (TrainState: params, optimizer state, normalizer, RNG key,
counters) together with a JSON metadata dict (config, versions, step).

Format: one ``.npz`` file. Leaves are stored as ``leaf_00000 ...`` in ``jax.tree.leaves`` order and
the metadata as a JSON string under ``__meta__``. Loading needs a *template* pytree of the same
structure (built by the algorithm's ``init``), which is how Equinox and Orbax restore too: the
structure lives in code, the numbers in the file. A mismatch in leaf count, shape or dtype is a
:class:`~seuseuro.errors.UserError`, never a silent reshape.

Writes go to ``<name>.tmp`` then ``os.replace``: a crash mid-write leaves the previous checkpoint
intact (ARCHITECTURE.md, "Rules that hold everywhere").
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from seuseuro.errors import UserError

META_KEY = "__meta__"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (atomic on POSIX).

    A process killed at any moment leaves either the old file or the new one, never a mix; at worst
    a stray ``<name>.tmp`` that readers ignore and the next write replaces. The data is fsynced
    before the rename and the directory after it, so after a power cut the name points at complete
    contents (a rename alone may reach the disk before the data it names: ext4 and XFS reorder).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (network mounts) refuse fsync on a directory; the rename still happened
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _leaf_to_numpy(leaf: Any) -> np.ndarray:
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        leaf = jax.random.key_data(leaf)
    return np.asarray(leaf)


def save_checkpoint(path: str | os.PathLike, tree: Any, meta: dict[str, Any] | None = None) -> None:
    """Save every array leaf of ``tree`` and the JSON-serialisable ``meta`` atomically to ``path``."""
    # Only array leaves are data; functions and Python constants (activation functions in Equinox
    # modules, static config) belong to the structure rebuilt from code.
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_array))
    arrays = {f"leaf_{i:05d}": _leaf_to_numpy(leaf) for i, leaf in enumerate(leaves)}
    arrays[META_KEY] = np.frombuffer(json.dumps(meta or {}).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def read_checkpoint_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Only the metadata of a checkpoint."""
    return _decode_meta(_read_npz(path), path)


def load_checkpoint(path: str | os.PathLike, template: Any) -> tuple[Any, dict[str, Any]]:
    """Load a checkpoint into the structure of ``template``; returns ``(tree, meta)``."""
    data = _read_npz(path)
    meta = _decode_meta(data, path)
    names = sorted(k for k in data if k != META_KEY)
    # The template may be abstract (jax.eval_shape of an init function): shapes are enough.
    dynamic, static = eqx.partition(template, _is_array_like)
    leaves, treedef = jax.tree.flatten(dynamic)
    if len(names) != len(leaves):
        raise UserError(
            f"checkpoint {path} holds {len(names)} arrays but this configuration expects "
            f"{len(leaves)}: it was written by a different algorithm or network size; "
            "resume with the config it was made with"
        )
    restored = []
    for name, like in zip(names, leaves, strict=True):
        stored = data[name]
        if hasattr(like, "dtype") and jnp.issubdtype(like.dtype, jax.dtypes.prng_key):
            restored.append(jax.random.wrap_key_data(jnp.asarray(stored)))
            continue
        like_shape = np.shape(like)
        if stored.shape != like_shape:
            raise UserError(
                f"checkpoint {path}: array {name} has shape {stored.shape}, expected {like_shape}; "
                "the checkpoint comes from a different configuration (network size, seeds or envs)"
            )
        restored.append(jnp.asarray(stored, dtype=getattr(like, "dtype", None)))
    return eqx.combine(jax.tree.unflatten(treedef, restored), static), meta


def _decode_meta(data: dict[str, np.ndarray], path: str | os.PathLike) -> dict[str, Any]:
    try:
        meta = json.loads(bytes(data[META_KEY]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        meta = err
    if not isinstance(meta, dict):
        raise UserError(f"checkpoint {path} has unreadable metadata ({meta}); delete it or start a new run")
    return meta


def _is_array_like(x: Any) -> bool:
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def _read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz``; every way a file can be broken becomes one UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"no checkpoint at {path}; pass a run directory that has checkpoints/")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        if META_KEY not in arrays:
            raise ValueError("no metadata")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as err:
        raise UserError(
            f"checkpoint {path} is corrupt or not a seuseuro checkpoint ({err}); "
            "delete it to fall back to an earlier one, or start a new run"
        ) from None
    return arrays
