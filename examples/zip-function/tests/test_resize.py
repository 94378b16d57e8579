from src.resize import fit


def test_fit_keeps_the_aspect_ratio() -> None:
    assert fit(1024, 512, 512) == (512, 256)
