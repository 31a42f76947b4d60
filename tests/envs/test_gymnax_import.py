"""seuseuro imports gymnax without its render-only plotting dependencies (seaborn, pyplot)."""

import subprocess
import sys

SCRIPT = """
import sys
from seuseuro.envs.registry import make
make("CartPole-v1")
assert "seaborn" not in sys.modules and "matplotlib.pyplot" not in sys.modules, "plotting libraries were imported"
import gymnax.environments.misc.pong as pong
# the placeholders bound inside gymnax become the real modules on first use
palette = pong.sns.color_palette("cubehelix", 3)
assert len(palette) == 3 and "seaborn" in sys.modules
import seaborn, matplotlib.pyplot as plt  # later imports get the real modules
assert type(seaborn).__name__ == "module" and callable(plt.subplots)
print("ok")
"""


def test_make_does_not_import_plotting_libraries_and_they_still_work_when_used():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
