"""rnnkit: fast CPU recurrent neural networks (RNN, LSTM, GRU) for scikit-learn users."""

from . import ops
from ._estimators import RNNClassifier, RNNRegressor

__version__ = "0.1.0"

__all__ = ["RNNClassifier", "RNNRegressor", "ops", "__version__"]
