"""Learn a text one character at a time with an LSTM, then write more of it.

The char-RNN tutorial: one-hot characters in, the next character out at every step
(``return_sequences=True``), then sampling one character at a time with the recurrent
state carried along. The text is the Gettysburg Address (Lincoln, 1863; public domain),
embedded below so that nothing is downloaded.

About 1,500 characters is far too little to learn English: the network learns this
text, and its samples recite it. At a low temperature they follow the most probable
path (a memorised passage); at 1.0 they wander into made-up words. The held-out end
of the speech shows how little of that carries over to text the network never read.

    python examples/char_text.py            # LSTM(128), 60 epochs
    python examples/char_text.py --small    # LSTM(32), a few epochs
"""

from __future__ import annotations

import textwrap
from collections import Counter

import numpy as np
from _shared import example_parser, fit_and_report, parse, save_plots

from rnnkit import RNNClassifier
from rnnkit.plotting import plot_history
from rnnkit.text import Vocabulary, generate

GETTYSBURG = """\
Four score and seven years ago our fathers brought forth on this continent, a new \
nation, conceived in Liberty, and dedicated to the proposition that all men are created \
equal.
Now we are engaged in a great civil war, testing whether that nation, or any nation so \
conceived and so dedicated, can long endure. We are met on a great battle-field of that \
war. We have come to dedicate a portion of that field, as a final resting place for those \
who here gave their lives that that nation might live. It is altogether fitting and \
proper that we should do this.
But, in a larger sense, we can not dedicate -- we can not consecrate -- we can not \
hallow -- this ground. The brave men, living and dead, who struggled here, have \
consecrated it, far above our poor power to add or detract. The world will little note, \
nor long remember what we say here, but it can never forget what they did here. It is \
for us the living, rather, to be dedicated here to the unfinished work which they who \
fought here have thus far so nobly advanced. It is rather for us to be here dedicated to \
the great task remaining before us -- that from these honored dead we take increased \
devotion to that cause for which they gave the last full measure of devotion -- that we \
here highly resolve that these dead shall not have died in vain -- that this nation, \
under God, shall have a new birth of freedom -- and that government of the people, by \
the people, for the people, shall not perish from the earth.
"""


def parse_args(argv=None):
    parser = example_parser(__doc__)
    return parse(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    if args.small:
        hidden, length, epochs, rate, n_chars = 32, 20, 5, 1e-2, 60
    else:
        hidden, length, epochs, rate, n_chars = 128, 40, 60, 3e-3, 200

    text = GETTYSBURG
    # The vocabulary covers the held-out part too, so that it can be encoded.
    vocabulary = Vocabulary(text)
    cut = int(0.85 * len(text))
    train_text, test_text = text[:cut], text[cut:]
    X, y = vocabulary.windows(train_text, length, step=3)
    # The held-out text as one sequence, its state carried through as generate carries
    # it: every held-out character after the first is scored once (windows of `length`
    # with step `length` left the tail out).
    X_test, y_test = vocabulary.windows(test_text, len(test_text) - 1)

    model = RNNClassifier(
        cell="lstm",
        hidden_sizes=(hidden,),
        return_sequences=True,
        learning_rate=rate,
        max_epochs=epochs,
        random_state=args.seed,
        n_jobs=args.n_jobs,
    )
    print(
        f"training LSTM({hidden}) on {len(train_text)} characters ({vocabulary.size} distinct): "
        f"{len(X)} windows of {length}, the next character at every step"
    )
    fit_and_report(model, X, y)

    # Not model.score: the held-out text may have characters that never were a training
    # target (so not in classes_); they count as wrong here.
    test_accuracy = np.mean(model.predict(X_test) == y_test)
    common, _ = Counter(train_text[1:]).most_common(1)[0]
    print(
        f"score: next-character accuracy {test_accuracy:.3f} on the held-out last "
        f"{y_test.size} characters (train {model.score(X, y):.3f}; always {common!r}: "
        f"{np.mean(y_test == common):.3f})"
    )

    prompt = "We "
    for temperature in (0.2, 0.5, 1.0):
        sample = generate(
            model,
            prompt,
            n_chars,
            temperature=temperature,
            random_state=args.seed,
            vocabulary=vocabulary,
        )
        # Indented so that the sample's own lines stand apart from the report's.
        print(f"temperature {temperature}:")
        print(textwrap.indent(sample, "    | ", lambda line: True))

    save_plots(
        args.out,
        {"char_history.png": lambda: plot_history(model, title="Character LSTM training")},
    )


if __name__ == "__main__":
    main()
