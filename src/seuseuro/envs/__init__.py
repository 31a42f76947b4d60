"""Environments: the registry (``make``), the Gymnasium bridge and seuseuro's own JAX-native families."""

from __future__ import annotations

import importlib
import sys
import types

# gymnax's package __init__ imports every environment family, and some of them import plotting
# libraries at module level only to render frames (Pong: seaborn, which pulls in scipy.stats and
# pandas; Catch, FourRooms, ...: matplotlib.pyplot). That made ``import gymnax`` ~1.4 s here, a
# fifth of a whole CartPole training run (BENCHMARKS.md, "Deep RL", run 6). During the import they
# are bound to placeholders that load the real module on first use.
RENDER_ONLY_MODULES = ("seaborn", "matplotlib.pyplot")


class LoadOnFirstUse(types.ModuleType):
    """Stands in for a module until an attribute is read, then becomes it (its namespace copied in)."""

    def __getattr__(self, attr: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def import_gymnax() -> types.ModuleType:
    """``import gymnax`` without importing its render-only plotting dependencies."""
    if "gymnax" in sys.modules:  # import_module waits if another thread is still importing it
        return importlib.import_module("gymnax")
    placed = [name for name in RENDER_ONLY_MODULES if name not in sys.modules]
    for name in placed:
        sys.modules[name] = LoadOnFirstUse(name)
    try:
        import gymnax
    finally:  # whoever imports these modules later gets the real ones
        for name in placed:
            if isinstance(sys.modules.get(name), LoadOnFirstUse):
                del sys.modules[name]
    return gymnax
