"""scikit-learn's callback API (``sklearn.callback``, 1.9+) for the training loop.

A fit is one task with one subtask per epoch. Callbacks see the training data, the
epoch's metrics as ``metadata``, and a fitted copy of the estimator as it stands at the
end of each epoch; a callback returning True from ``on_fit_task_end`` stops training.
With an older scikit-learn, :func:`start` returns None and nothing is called.
"""

from __future__ import annotations


class FitCallbacks:
    def __init__(self, estimator, context, X, y):
        self.estimator = estimator
        self.context = context
        self.X, self.y = X, y

    def begin_epoch(self):
        context = self.context.subcontext(task_name="epoch")
        context.call_on_fit_task_begin(estimator=self.estimator, X=self.X, y=self.y)
        return context

    def end_epoch(self, context, metadata):
        """Returns True when a callback asks to stop."""
        estimator = self.estimator
        return context.call_on_fit_task_end(
            estimator=estimator,
            X=self.X,
            y=self.y,
            metadata=metadata,
            reconstruction_attributes=lambda: {
                "params_": {name: a.copy() for name, a in estimator.params_.items()}
            },
        )

    def end(self):
        self.context.call_on_fit_task_end(estimator=self.estimator, X=self.X, y=self.y)


def start(estimator, max_epochs, X, y):
    """The callbacks of one fit, or None when scikit-learn has no callback API."""
    if not hasattr(estimator, "_init_callback_context"):
        return None
    context = estimator._init_callback_context(max_subtasks=max_epochs)
    context.call_on_fit_task_begin(estimator=estimator, X=X, y=y)
    return FitCallbacks(estimator, context, X, y)
