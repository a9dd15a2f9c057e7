"""The README's Python examples run as written."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_blocks():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 3, "README.md: expected the estimators, workflows and ops tours"
    return blocks


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_readme_estimators_tour_runs():
    namespace = {}
    exec(compile(readme_blocks()[0], str(README), "exec"), namespace)
    assert namespace["model"].score(namespace["X"], namespace["y"]) > 0.9
    assert namespace["classifier"].n_iter_ == 5


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_readme_workflows_tour_runs(capsys):
    namespace = {}
    exec(compile(readme_blocks()[1], str(README), "exec"), namespace)
    assert namespace["forecaster"].predict(5).shape == (5,)
    assert "hello world" in capsys.readouterr().out
    assert namespace["esn"].score(namespace["X"][1000:], namespace["y"][1000:]) > 0.99


def test_readme_ops_tour_runs():
    namespace = {}
    exec(compile(readme_blocks()[2], str(README), "exec"), namespace)
    assert namespace["grads"].d_weight_hh.shape == namespace["w_hh"].shape
