"""rnnkit: fast CPU recurrent neural networks (RNN, LSTM, GRU) for scikit-learn users."""

from . import data, ops, plotting, text
from ._echo_state import EchoStateClassifier, EchoStateRegressor
from ._estimators import RNNClassifier, RNNRegressor
from ._forecaster import RNNForecaster

__version__ = "0.1.0"

__all__ = [
    "EchoStateClassifier",
    "EchoStateRegressor",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "data",
    "ops",
    "plotting",
    "text",
    "__version__",
]
