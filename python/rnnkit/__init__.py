"""rnnkit: fast CPU recurrent neural networks (RNN, LSTM, GRU) for scikit-learn users."""

from . import ops

__version__ = "0.1.0"

__all__ = ["ops", "__version__"]
