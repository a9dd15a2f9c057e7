"""rnnkit.text: the vocabulary, training windows and generation with a carried state."""

from fractions import Fraction

import numpy as np
import pytest

from rnnkit import RNNClassifier, _network
from rnnkit.text import Vocabulary, generate

TEXT = "hello world " * 30


@pytest.fixture(scope="module")
def model():
    X, y = Vocabulary(TEXT).windows(TEXT, 12)
    return RNNClassifier(
        hidden_sizes=(32,), return_sequences=True, max_epochs=30, learning_rate=0.02,
        random_state=0,
    ).fit(X, y)  # fmt: skip


def test_vocabulary_round_trip():
    v = Vocabulary("banana!")
    assert v.chars == ("!", "a", "b", "n") and len(v) == v.size == 4
    codes = v.encode("nab!")
    np.testing.assert_array_equal(codes, [3, 1, 2, 0])
    assert v.decode(codes) == "nab!"
    one_hot = v.one_hot("nab")
    assert one_hot.shape == (3, 4) and one_hot.dtype == np.float32
    np.testing.assert_array_equal(one_hot.argmax(axis=1), [3, 1, 2])
    assert one_hot.sum() == 3
    assert v == Vocabulary("ab!n") and v != Vocabulary("abc")


def test_windows_are_the_text_shifted_by_one():
    text = "abcdefgh"
    v = Vocabulary(text)
    X, y = v.windows(text, 3, step=2)
    assert X.shape == (3, 3, 8) and y.shape == (3, 3)
    for i in range(3):
        start = 2 * i
        assert v.decode(X[i].argmax(axis=1)) == text[start : start + 3]
        assert "".join(y[i]) == text[start + 1 : start + 4]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda v: Vocabulary(""), ValueError, "text: expected at least one character"),
        (lambda v: Vocabulary(["a"]), TypeError, "text: expected a str"),
        (lambda v: v.encode("abz"), ValueError, r"characters \['z'\] are not in"),
        (lambda v: v.decode([0, 9]), ValueError, r"indices: \[9\] outside \[0, 3\)"),
        (lambda v: v.decode([0.5]), TypeError, "indices: expected a 1-D array of integers"),
        (lambda v: v.windows("abc", 3), ValueError, "text: has 3 characters, but windows"),
        (lambda v: v.windows("abcabc", 0), ValueError, "length: expected an integer >= 1"),
        (lambda v: v.windows("abcabc", 2, step=1.5), TypeError, "step: expected an integer"),
        (lambda v: v.one_hot("ab", dtype=str), TypeError, r"\(integer or float\), got <U"),
        (lambda v: v.one_hot("ab", dtype="foo"), TypeError, "dtype: expected a numeric .*foo"),
        (lambda v: v.windows("abcabc", 2, dtype=str), TypeError, "dtype: expected a numeric"),
    ],
)
def test_vocabulary_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(Vocabulary("abc"))


def test_generate_learns_the_next_letter(model):
    # "Hel" -> "l": the tutorial's example, greedy.
    assert generate(model, "hel", 8, temperature=0) == "hello world"


def test_generation_carries_the_state_instead_of_rerunning_the_prefix(model):
    # Re-running the whole prefix through predict_proba must choose the same letters.
    vocabulary = Vocabulary(TEXT)
    text = "wor"
    for _ in range(15):
        proba = model.predict_proba(vocabulary.one_hot(text)[None])[0, -1]
        text += model.classes_[proba.argmax()]
    assert generate(model, "wor", 15, temperature=0) == text


def test_network_step_equals_forward_for_a_stack_with_a_dense_head():
    rng = np.random.default_rng(0)
    spec = _network.NetworkSpec("lstm", (7, 5), False, "tanh", (3,), 0.0, True, 4, 2)
    params = _network.init_params(spec, np.random.RandomState(0), np.float64)
    x = rng.standard_normal((3, 6, 4))
    full, _ = _network.forward(spec, params, x)
    state = None
    for t in range(6):
        out, state = _network.step(spec, params, x[:, t], state)
        np.testing.assert_array_equal(out, full[:, t])


def test_sampling_is_reproducible_and_temperature_matters(model):
    a = generate(model, "h", 40, temperature=1.5, random_state=3)
    b = generate(model, "h", 40, temperature=1.5, random_state=3)
    assert a == b and len(a) == 41 and a.startswith("h")
    assert set(a) <= set(TEXT)
    # Very hot sampling is near uniform and leaves the learned text; cold does not.
    hot = [generate(model, "h", 40, temperature=50, random_state=s) for s in range(3)]
    assert all(not "hello world hello".startswith(h[:12]) for h in hot)
    assert generate(model, "h", 16, temperature=0.05, random_state=1) == "hello world hello"
    # A Generator (as rnnkit.data's random_state takes), and any real temperature.
    assert generate(model, "h", 40, 1.5, np.random.default_rng(3)) == generate(
        model, "h", 40, 1.5, np.random.default_rng(3)
    )
    assert generate(model, "h", 40, Fraction(3, 2), random_state=3) == a


def test_integer_classes_with_a_vocabulary():
    vocabulary = Vocabulary(TEXT)
    X, y = vocabulary.windows(TEXT, 12)
    codes = np.vectorize(lambda ch: vocabulary.encode(ch)[0])(y)
    model = RNNClassifier(
        hidden_sizes=(32,), return_sequences=True, max_epochs=30, learning_rate=0.02,
        random_state=0,
    ).fit(X, codes)  # fmt: skip
    with pytest.raises(ValueError, match="pass the Vocabulary"):
        generate(model, "hel", 3)
    assert generate(model, "hel", 8, temperature=0, vocabulary=vocabulary) == "hello world"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(prompt=""), ValueError, "prompt: expected at least one character"),
        (dict(prompt="hex"), ValueError, r"^prompt: characters \['x'\] are not in"),
        (dict(random_state=True), TypeError, "random_state: expected an int, a RandomState"),
        (dict(random_state="seed"), TypeError, "^random_state: expected an int, a RandomState"),
        (dict(random_state=-1), ValueError, "^random_state: Seed must be between 0 and"),
        (dict(temperature=10**400), ValueError, "^temperature: .* beyond a float's range"),
        (dict(n_chars=-1), ValueError, "n_chars: expected an integer >= 0"),
        (dict(n_chars=2.0), TypeError, "n_chars: expected an integer"),
        (dict(temperature=-1), ValueError, "temperature: expected a finite number >= 0"),
        (dict(temperature=np.inf), ValueError, "temperature: expected a finite number >= 0"),
        (dict(temperature=np.nan), ValueError, "temperature: expected a finite number >= 0"),
        (dict(temperature="hot"), TypeError, "temperature: expected a real number"),
        (dict(vocabulary=Vocabulary("helo")), ValueError, "vocabulary: has 4 characters"),
        (dict(vocabulary="helo wrd"), TypeError, "vocabulary: expected a Vocabulary"),
    ],
)
def test_generate_errors(model, kwargs, error, match):
    args = dict(prompt="hel", n_chars=3, temperature=1.0, random_state=None, vocabulary=None)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        generate(model, args["prompt"], args["n_chars"], args["temperature"],
                 args["random_state"], vocabulary=args["vocabulary"])  # fmt: skip


def test_a_tiny_temperature_is_greedy(model):
    # log-probabilities / 1e-320 overflowed every logit to -inf, then NaN weights.
    greedy = generate(model, "hel", 8, temperature=0)
    assert generate(model, "hel", 8, temperature=1e-320, random_state=0) == greedy


def test_generate_needs_a_fitted_unidirectional_classifier():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(TypeError, match="model: expected a fitted RNNClassifier"):
        generate(object(), "a", 1)
    with pytest.raises(NotFittedError):
        generate(RNNClassifier(), "a", 1)
    X, y = Vocabulary(TEXT).windows(TEXT[:40], 6)
    both_ways = RNNClassifier(
        hidden_sizes=(4,), bidirectional=True, return_sequences=True, max_epochs=1
    ).fit(X, y)
    with pytest.raises(ValueError, match="bidirectional"):
        generate(both_ways, "hel", 2)
