"""scikit-learn's callback API (``sklearn.callback``, 1.9+) for the training loop.

A fit is one task with one subtask per epoch. Callbacks see the training data, its
``sample_weight`` as ``metadata`` (what scikit-learn's scorers take), and a fitted copy
of the estimator as it stands at the end of each epoch, whose ``history_`` has the
epoch's loss and validation metrics; a callback returning True from ``on_fit_task_end``
stops training.
With an older scikit-learn, :func:`start` returns None and nothing is called.
"""

from __future__ import annotations


class FitCallbacks:
    def __init__(self, estimator, context, X, y, sample_weight):
        self.estimator = estimator
        self.context = context
        self.data = {"X": X, "y": y, "metadata": {"sample_weight": sample_weight}}

    def begin_epoch(self):
        context = self.context.subcontext(task_name="epoch")
        context.call_on_fit_task_begin(estimator=self.estimator, **self.data)
        return context

    def end_epoch(self, context):
        """Returns True when a callback asks to stop."""
        return context.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes=self._snapshot,
            **self.data,
        )

    def end(self):
        self.context.call_on_fit_task_end(estimator=self.estimator, **self.data)

    def _snapshot(self):
        """What makes a copy of the estimator a model of the epoch just finished."""
        estimator = self.estimator
        history = {name: list(values) for name, values in estimator.history_.items()}
        return {
            "params_": {name: array.copy() for name, array in estimator.params_.items()},
            "history_": history,
            "loss_curve_": history["loss"],
            "n_iter_": estimator.n_iter_,
        }


def start(estimator, max_epochs, X, y, sample_weight):
    """The callbacks of one fit, or None when scikit-learn has no callback API."""
    if not hasattr(estimator, "_init_callback_context"):
        return None
    context = estimator._init_callback_context(max_subtasks=max_epochs)
    callbacks = FitCallbacks(estimator, context, X, y, sample_weight)
    context.call_on_fit_task_begin(estimator=estimator, **callbacks.data)
    return callbacks
