from seuseuro.cli import main


def test_render_writes_three_pngs(tmp_path, capsys):
    code = main(
        [
            "render",
            "--env",
            "ObjectNav-Small-v0",
            "--seed",
            "2",
            "--out",
            str(tmp_path),
            "--width",
            "24",
            "--height",
            "16",
        ]
    )
    assert code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"ObjectNav-Small-v0-seed2-{k}.png" for k in ("depth", "point_cloud", "top_down")]
    for p in tmp_path.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_render_rejects_an_env_without_a_scene(tmp_path, capsys):
    assert main(["render", "--env", "CartPole-v1", "--out", str(tmp_path)]) == 2
    assert "not a 3D-scene environment" in capsys.readouterr().err
    assert main(["render", "--env", "ObjectNav-v0", "--width", "0", "--out", str(tmp_path)]) == 2
    assert "zero rays" in capsys.readouterr().err


def test_episode_gif_has_one_frame_per_step(tmp_path):
    import jax
    from PIL import Image

    from seuseuro.envs.registry import make
    from seuseuro.envs.scene3d.render import write_episode_gif

    env = make("ObjectNav-Small-v0")
    params = env.params.replace(max_steps_in_episode=3)
    always_left = lambda obs, key: jax.numpy.ones((obs.shape[0],), jax.numpy.int32)  # noqa: E731
    result = write_episode_gif(tmp_path / "episode.gif", always_left, env.env, params, jax.random.key(0))
    assert result == {"success": 0.0, "spl": 0.0}
    assert Image.open(tmp_path / "episode.gif").n_frames == 4  # the start and three turns
