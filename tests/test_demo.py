"""The README's demo command runs end to end (small sizes in CI) and saves its plots."""

import contextlib
import importlib.util
import io

import pytest

from rnnkit import plotting
from rnnkit.__main__ import main
from rnnkit._demo import demo

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PLOTS = {
    "cosine_forecast.png",
    "cosine_loss.png",
    "digits_probabilities.png",
    "digits_loss.png",
    "text_loss.png",
}


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """One small run for every test: (scores, printed text, plot folder)."""
    folder = tmp_path_factory.mktemp("demo") / "plots"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        scores = demo(folder, small=True, verbose=0, n_jobs=1)
    return scores, printed.getvalue(), folder


def test_demo_runs_the_three_workflows(small_demo):
    scores, out, _ = small_demo
    assert set(scores) == {"cosine", "digits", "text"}
    # Tiny models and two epochs still beat chance on each task.
    assert scores["digits"] > 0.2 and scores["text"] > 0.1
    for line in ("one-step R²", "test accuracy", "next-letter accuracy", "ms/epoch", "temperature"):
        assert line in out
    assert "n_jobs=1" in out.splitlines()[0]


def test_demo_saves_its_plots_as_png(small_demo):
    _, out, folder = small_demo
    if not HAS_MATPLOTLIB:
        assert "matplotlib is not installed" in out
        return
    assert {p.name for p in folder.iterdir()} == PLOTS
    for name in PLOTS:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_command_line(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("rnnkit.__main__.demo", lambda *a, **k: calls.append((a, k)))
    main(["demo", "--small", "--out", str(tmp_path), "--seed", "3"])
    assert calls == [((str(tmp_path),), {"small": True, "seed": 3, "n_jobs": None})]
    main(["demo", "--out", str(tmp_path), "--n-jobs", "1"])
    assert calls.pop() == ((str(tmp_path),), {"small": False, "seed": 0, "n_jobs": 1})
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            main(["demo", "--n-jobs", bad])
        assert f"--n-jobs: expected a positive number of threads, got {bad!r}" in (
            capsys.readouterr().err
        )
    with pytest.raises(SystemExit):
        main(["train"])
    assert "invalid choice" in capsys.readouterr().err
    # A file where the folder should go: a usage error before any model is trained.
    monkeypatch.setattr("rnnkit._demo._plotting", lambda: plotting)  # as with matplotlib
    taken = tmp_path / "plots.png"
    taken.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--out", str(taken)])
    assert exit_info.value.code == 2 and len(calls) == 1
    assert "--out: cannot make the folder" in capsys.readouterr().err
    # Without matplotlib there are no plots, and no empty folder for them.
    monkeypatch.setattr("rnnkit._demo._plotting", lambda: None)
    main(["demo", "--out", str(tmp_path / "plots")])
    assert len(calls) == 2 and not (tmp_path / "plots").exists()
