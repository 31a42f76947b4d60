import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
# One compilation cache for the whole suite: tests that build the same program compile it once.
os.environ.setdefault("SEUSEURO_JAX_CACHE", str(Path(__file__).resolve().parent.parent / ".jax_cache"))

from seuseuro.core.compile_cache import enable_persistent_cache  # noqa: E402

enable_persistent_cache(min_compile_seconds=0.0)
