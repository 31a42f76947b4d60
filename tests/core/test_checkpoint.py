import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from seuseuro.core.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from seuseuro.core.networks import MLP
from seuseuro.errors import UserError


def test_round_trip_with_equinox_module_and_key(tmp_path):
    tree = {"mlp": MLP(jax.random.PRNGKey(0), 3, 2), "key": jax.random.PRNGKey(5), "n": jnp.asarray(7)}
    save_checkpoint(tmp_path / "c.npz", tree, {"step": 3})
    template = {"mlp": MLP(jax.random.PRNGKey(1), 3, 2), "key": jax.random.PRNGKey(0), "n": jnp.asarray(0)}
    loaded, meta = load_checkpoint(tmp_path / "c.npz", template)
    assert meta == {"step": 3} and read_checkpoint_meta(tmp_path / "c.npz") == {"step": 3}
    x = jnp.ones(3)
    np.testing.assert_array_equal(loaded["mlp"](x), tree["mlp"](x))
    np.testing.assert_array_equal(loaded["key"], tree["key"])
    assert int(loaded["n"]) == 7
    assert not (tmp_path / "c.npz.tmp").exists()


def test_shape_mismatch_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "c.npz", MLP(jax.random.PRNGKey(0), 3, 2), {})
    with pytest.raises(UserError, match="different configuration"):
        load_checkpoint(tmp_path / "c.npz", MLP(jax.random.PRNGKey(0), 4, 2))
    with pytest.raises(UserError, match="expects"):
        load_checkpoint(tmp_path / "c.npz", MLP(jax.random.PRNGKey(0), 3, 2, hidden=(8,)))


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_corrupt_or_missing_checkpoint(tmp_path, content):
    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(tmp_path / "bad.npz", {"a": jnp.zeros(1)})
    with pytest.raises(UserError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.npz", {"a": jnp.zeros(1)})


def test_truncated_file_is_corrupt(tmp_path):
    save_checkpoint(tmp_path / "c.npz", {"a": jnp.arange(1000.0)}, {})
    data = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "c.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt"):
        load_checkpoint(tmp_path / "c.npz", {"a": jnp.zeros(1000)})


def test_static_fields_come_from_the_template(tmp_path):
    mlp = MLP(jax.random.PRNGKey(0), 2, 1, activation="relu")
    save_checkpoint(tmp_path / "c.npz", mlp)
    loaded, _ = load_checkpoint(tmp_path / "c.npz", MLP(jax.random.PRNGKey(3), 2, 1, activation="relu"))
    assert eqx.tree_equal(loaded, mlp)
