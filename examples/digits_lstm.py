"""Classify handwritten digits by reading them row by row with an LSTM.

The MNIST tutorial feeds each 28x28 image to an LSTM as 28 steps of 28 pixels. This is
the same idea on scikit-learn's bundled ``load_digits`` (1797 images of 8x8 pixels, no
download): 8 steps of 8 pixels, scaled from 0..16 to 0..1.

Besides the test accuracy, the script plots how the class probabilities of one test
digit change as its rows are read: early rows leave several digits possible, and the
decision forms once the telling strokes have been seen.

    python examples/digits_lstm.py            # LSTM(128)
    python examples/digits_lstm.py --small    # LSTM(16), a few epochs
"""

from __future__ import annotations

from _shared import example_parser, fit_and_report, parse, save_plots
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from rnnkit import RNNClassifier
from rnnkit.plotting import plot_history, plot_sequence_probabilities


def parse_args(argv=None):
    parser = example_parser(__doc__)
    return parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    if args.small:
        hidden, epochs, rate = 16, 5, 1e-2
    else:
        hidden, epochs, rate = 128, 60, 3e-3

    digits = load_digits()
    # (1797, 64) -> (1797, 8 rows, 8 pixels): each row is one time step.
    X = digits.data.reshape(-1, 8, 8) / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, stratify=digits.target, random_state=args.seed
    )

    model = RNNClassifier(
        cell="lstm",
        hidden_sizes=(hidden,),
        activation="tanh",
        learning_rate=rate,
        max_epochs=epochs,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    print(
        f"training LSTM({hidden}) + softmax(10) on {len(X_train)} digits as 8 steps of "
        f"8 pixels; {len(X_test)} test digits"
    )
    fit_and_report(model, X_train, y_train)
    print(f"score: test accuracy {model.score(X_test, y_test):.4f}")

    digit = X_test[0]
    proba = model.predict_proba(digit[None])[0]
    print(
        f"test digit 0 is a {y_test[0]}: predicted {model.classes_[proba.argmax()]} "
        f"with probability {proba.max():.2f}"
    )
    save_plots(
        args.out,
        {
            "digits_rows.png": lambda: plot_sequence_probabilities(
                model, digit, title=f"A test {y_test[0]}: class probabilities row by row"
            ),
            "digits_history.png": lambda: plot_history(model, title="LSTM training"),
        },
    )


if __name__ == "__main__":
    main()
