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
