"""Character-level text: characters to indices and back, training windows, generation.

The classic next-letter tutorial ("Hel" -> "l") in a few lines::

    from rnnkit import RNNClassifier
    from rnnkit.text import Vocabulary, generate

    vocabulary = Vocabulary(text)
    X, y = vocabulary.windows(text, length=40, step=3)  # one-hot X, next characters y
    model = RNNClassifier(hidden_sizes=(128,), return_sequences=True).fit(X, y)
    print(generate(model, "The ", n_chars=200, temperature=0.5, random_state=0,
                   vocabulary=vocabulary))

``y`` holds the characters themselves, so the model's ``classes_`` and ``predict`` are
characters too.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _losses
from ._estimators import RNNClassifier
from .data import _numeric_dtype, _random_source

__all__ = ["Vocabulary", "generate"]


class Vocabulary:
    """The distinct characters of a text, in sorted order; a character's index is its
    position, and its one-hot vector has a 1 there.

    Parameters
    ----------
    text : str
        Every character the model will read (usually the training text).
    """

    def __init__(self, text):
        text = _as_text(text, "text")
        if not text:
            raise ValueError("text: expected at least one character, got an empty string")
        self.chars = tuple(sorted(set(text)))
        self._index = {char: i for i, char in enumerate(self.chars)}

    @property
    def size(self):
        return len(self.chars)

    def __len__(self):
        return self.size

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and other.chars == self.chars

    def __hash__(self):
        return hash(self.chars)

    def __repr__(self):
        return f"Vocabulary({''.join(self.chars)!r})"

    def encode(self, text):
        """The index of every character of ``text``: an int64 array (len(text),)."""
        text = _as_text(text, "text")
        unknown = sorted(set(text) - set(self._index))
        if unknown:
            raise ValueError(
                f"text: characters {unknown!r} are not in the vocabulary {''.join(self.chars)!r}"
            )
        return np.fromiter((self._index[char] for char in text), np.int64, count=len(text))

    def decode(self, indices):
        """The text whose characters have these indices."""
        indices = np.asarray(indices)
        if indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu"):
            raise TypeError(f"indices: expected a 1-D array of integers, got {indices!r}")
        bad = indices[(indices < 0) | (indices >= self.size)]
        if bad.size:
            raise ValueError(
                f"indices: {bad.tolist()!r} outside [0, {self.size}) for a vocabulary of "
                f"{self.size} characters"
            )
        return "".join(self.chars[i] for i in indices.tolist())

    def one_hot(self, text, dtype="float32"):
        """``text`` as one-hot rows, (len(text), size): a model's input sequence."""
        return np.eye(self.size, dtype=_numeric_dtype(dtype, kinds="iuf"))[self.encode(text)]

    def windows(self, text, length, *, step=1, dtype="float32"):
        """Training data for next-character prediction with ``return_sequences=True``.

        Window i covers characters ``[i*step, i*step + length)`` of ``text``; ``X[i]`` is
        their one-hot rows, (length, size), and ``y[i]`` the character that follows each
        of them: the window shifted by one. Returns ``X`` (n, length, size) and ``y``
        (n, length) of one-character strings.
        """
        length = _positive_int(length, "length")
        step = _positive_int(step, "step")
        dtype = _numeric_dtype(dtype, kinds="iuf")
        indices = self.encode(text)
        if len(indices) < length + 1:
            raise ValueError(
                f"text: has {len(indices)} characters, but windows of length={length} and "
                f"the character after them need at least {length + 1}"
            )
        spans = np.lib.stride_tricks.sliding_window_view(indices, length + 1)[::step]
        X = np.eye(self.size, dtype=dtype)[spans[:, :-1]]
        y = np.array(self.chars)[spans[:, 1:]]
        return X, y


def generate(model, prompt, n_chars, temperature=1.0, random_state=None, *, vocabulary=None):
    """Continue ``prompt`` by ``n_chars`` characters sampled from a character model.

    The model is an :class:`~rnnkit.RNNClassifier` trained on one-hot characters (see
    :meth:`Vocabulary.windows`), usually with ``return_sequences=True``. The recurrent
    state is carried from one character to the next: each new character costs one step
    of the network, not a run over the whole text so far.

    Parameters
    ----------
    model : fitted RNNClassifier, not bidirectional
    prompt : str, at least one character
    n_chars : int >= 0
    temperature : finite float >= 0, default=1.0
        Sharpens (< 1) or flattens (> 1) the model's distribution before sampling;
        0 always takes the most probable character.
    random_state : int, RandomState instance, Generator or None
    vocabulary : Vocabulary or None
        How the model's inputs were encoded. None: the model's classes must be exactly
        the characters of its one-hot inputs (true when every character of the
        training text also occurs as a target).

    Returns
    -------
    str : ``prompt`` followed by the generated characters.
    """
    if not isinstance(model, RNNClassifier):
        raise TypeError(f"model: expected a fitted RNNClassifier, got {type(model).__name__}")
    check_is_fitted(model, "params_")
    vocabulary = _model_vocabulary(model, vocabulary)
    classes_as_chars = _classes_as_chars(model, vocabulary)
    prompt = _as_text(prompt, "prompt")
    if not prompt:
        raise ValueError("prompt: expected at least one character, got an empty string")
    try:  # before any work: unknown characters raise here
        inputs = vocabulary.one_hot(prompt)
    except ValueError as e:
        raise ValueError("prompt: " + str(e).removeprefix("text: ")) from None
    n_chars = _positive_int(n_chars, "n_chars", minimum=0)
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature: expected a real number, got {temperature!r}")
    if not 0 <= temperature < math.inf:
        raise ValueError(f"temperature: expected a finite number >= 0, got {temperature!r}")
    try:  # a Fraction would make object arrays of the probabilities
        temperature = float(temperature)
    except OverflowError:
        raise ValueError(
            "temperature: expected a finite number >= 0, got one beyond a float's range"
        ) from None
    if model._spec_.bidirectional:
        raise ValueError(
            "model: a bidirectional model reads each sequence from both ends and cannot "
            "generate one character at a time"
        )
    if isinstance(random_state, (bool, np.bool_)):
        raise TypeError(
            f"random_state: expected an int, a RandomState, a Generator or None, got {random_state}"
        )
    try:
        rng = _random_source(random_state)
    except ValueError as e:  # scikit-learn's and numpy's messages do not name the argument
        if isinstance(random_state, numbers.Integral):  # a seed numpy cannot take
            raise ValueError(f"random_state: {e}") from None
        raise TypeError(
            f"random_state: expected an int, a RandomState, a Generator or None, got "
            f"{random_state!r}"
        ) from None

    state = None
    for row in inputs:
        output, state = model._step(row[None, :], state)
    generated = []
    for _ in range(n_chars):
        proba = _losses.probabilities(output)[0]
        char = classes_as_chars[_sample(proba, temperature, rng)]
        generated.append(char)
        output, state = model._step(vocabulary.one_hot(char), state)
    return prompt + "".join(generated)


def _sample(proba, temperature, rng):
    if temperature == 0:
        return int(np.argmax(proba))
    # The most likely character's log-probability subtracted before dividing: a tiny
    # temperature then sends the others to -inf (greedy) instead of all to NaN.
    with np.errstate(divide="ignore", over="ignore"):
        log_proba = np.log(proba)
        logits = (log_proba - log_proba.max()) / temperature
    weights = np.exp(logits)  # the largest logit is 0
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _model_vocabulary(model, vocabulary):
    if vocabulary is None:
        classes = model.classes_
        if (
            not all(isinstance(c, str) and len(c) == 1 for c in classes.tolist())
            or len(classes) != model.n_features_in_
        ):
            raise ValueError(
                "vocabulary: the model's classes_ are not the characters of its one-hot "
                "inputs; pass the Vocabulary its training data was made with"
            )
        vocabulary = Vocabulary("".join(classes.tolist()))
    if not isinstance(vocabulary, Vocabulary):
        raise TypeError(f"vocabulary: expected a Vocabulary, got {type(vocabulary).__name__}")
    if vocabulary.size != model.n_features_in_:
        raise ValueError(
            f"vocabulary: has {vocabulary.size} characters, but the model reads "
            f"{model.n_features_in_} features per step"
        )
    return vocabulary


def _classes_as_chars(model, vocabulary):
    """Each class of the model as a character: classes are characters, or indices."""
    classes = model.classes_.tolist()
    if all(isinstance(c, str) for c in classes):
        unknown = sorted(set(classes) - set(vocabulary.chars))
        if unknown:
            raise ValueError(f"model: classes {unknown!r} are not in the vocabulary")
        return classes
    if all(isinstance(c, numbers.Integral) for c in classes):
        return list(vocabulary.decode(np.asarray(classes)))
    raise ValueError("model: classes_ must be characters or character indices")


def _as_text(value, name):
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__}")
    return value


def _positive_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)
