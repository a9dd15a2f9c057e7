"""The README's demo command runs and learns."""

from rnnkit.__main__ import demo, main


def test_demo_learns_the_cosine(capsys):
    mse = demo(epochs=10)
    # The series' noise has variance 0.0025; an untrained model is near 0.5.
    assert mse < 0.01
    assert "epoch  10" in capsys.readouterr().out


def test_demo_command_line(capsys):
    main(["demo", "--epochs", "1"])
    assert "rnnkit demo" in capsys.readouterr().out
