"""compare.py's peers: the same models in PyTorch (optional) and Keras (optional),
built from rnnkit's parameters where the model allows it, as zero-argument callables."""

from __future__ import annotations

import os

import numpy as np
from estimators import PREDICT_BATCH
from workloads import SEED

# A memory child that does not measure torch gets this variable (see memory_usage), so
# that its RSS holds the library it measures and not torch as well.
HIDE_TORCH = "COMPARE_HIDE_TORCH"
if os.environ.get(HIDE_TORCH):
    torch = None
else:
    try:
        import torch
    except ImportError:
        torch = None


def torch_recurrent(wl, **kwargs):
    """torch's batch-first RNN/LSTM/GRU stack of ``wl``; torch has no linear RNN, so that
    one runs as tanh."""
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[wl.cell]
    if wl.cell == "rnn":
        kwargs["nonlinearity"] = wl.activation if wl.torch_supported else "tanh"
    return cls(wl.inputs, wl.hidden, num_layers=wl.layers, batch_first=True, **kwargs)


def build_torch_model(wl, weights):
    """A torch module with num_layers=L holding exactly the rnnkit weights."""
    model = torch_recurrent(wl)
    with torch.no_grad():
        for layer, params in enumerate(weights):
            for name, value in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), params):
                getattr(model, f"{name}_l{layer}").copy_(torch.from_numpy(value))
    return model


def torch_runners(wl, weights, x, d_out):
    """Zero-argument callables running one torch iteration per mode."""
    model = build_torch_model(wl, weights)
    x_t = torch.from_numpy(x)
    # rnnkit always returns d_x of the first layer, so ask torch for it too.
    x_train = x_t.clone().requires_grad_(True)
    d_out_t = torch.from_numpy(d_out)

    def train():
        # Dropping old grads makes torch allocate fresh ones each step, like rnnkit does,
        # instead of accumulating into existing buffers.
        model.zero_grad(set_to_none=True)
        x_train.grad = None
        out, _ = model(x_train)
        out.backward(d_out_t)

    def infer():
        with torch.no_grad():
            model(x_t)

    return {"train": train, "infer": infer}


def build_torch_net(wl):
    """The workload's model in torch, with the module names that rnnkit's ``params_``
    mirror (``rnn``, ``dense.k``, ``output``), so its state_dict maps one to one.

    Dropout follows every recurrent and dense layer as in rnnkit (and Keras): torch's
    ``dropout=`` covers the outputs of all recurrent layers but the last, ``self.drop``
    the last one and the dense layers. torch has no linear RNN; that one runs as tanh.
    """
    nn = torch.nn
    kwargs = {}
    if wl.layers > 1:
        kwargs["dropout"] = wl.dropout  # torch warns when given dropout with one layer
    assert wl.classes != 2, "two classes need rnnkit's single-logit output: not modelled"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch_recurrent(wl, **kwargs)
            self.drop = nn.Dropout(wl.dropout) if wl.dropout else nn.Identity()
            widths = (wl.hidden, *wl.dense)
            self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
            self.output = nn.Linear(widths[-1], wl.classes or 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            # The top layer's last step is its h_n: Keras' return_sequences=False.
            h = self.drop(out[:, -1])
            for layer in self.dense:
                h = self.drop(torch.relu(layer(h)))
            return self.output(h)

    return Net()


def torch_state(params):
    """rnnkit ``params_`` under torch's names: ``rnn.<l>.weight_ih`` -> ``rnn.weight_ih_l<l>``;
    dense and output layers are named alike already."""
    state = {}
    for name, value in params.items():
        if name.startswith("rnn."):
            _, layer, param = name.split(".")
            name = f"rnn.{param}_l{layer}"
        state[name] = torch.from_numpy(np.array(value))  # a copy: torch trains it in place
    return state


def torch_truncated_forward(wl, model):
    """``model``'s forward for ``wl.bptt_steps`` windows: what rnnkit's truncated BPTT
    computes for a many-to-one loss.

    The windows are rnnkit's, ``[0, k), [k, 2k), ...`` of absolute step index. Only the
    last one can receive a gradient (the loss is on the last step, and none crosses a
    window boundary), so the others run under no_grad, carrying their state forward
    detached, and only the last window is kept for backward: memory bounded by the
    window, as a PyTorch user would write it.
    """
    assert not wl.dense and not wl.dropout, "the truncated loop models recurrent stack + output"
    window = wl.bptt_steps
    last = (wl.steps - 1) // window * window

    def forward(x):
        state = None
        with torch.no_grad():
            for start in range(0, last, window):
                _, state = model.rnn(x[:, start : start + window], state)
        out, _ = model.rnn(x[:, last:], state)
        return model.output(out[:, -1])

    return forward


def torch_fit_runners(wl, X, y, params=None):
    """The torch model holding rnnkit's ``params`` (its only parameters: load_state_dict is
    strict, so both count the same; None keeps torch's own initialisation), and
    callables for one epoch and for predict. With ``wl.bptt_steps`` the epoch trains
    with truncated BPTT (``torch_truncated_forward``)."""
    model = build_torch_net(wl)
    if params is not None:
        model.load_state_dict(torch_state(params))
    train_forward = torch_truncated_forward(wl, model) if wl.bptt_steps else model
    X_t = torch.from_numpy(X)
    if wl.classes:
        y_t, loss_fn = torch.from_numpy(y).long(), torch.nn.CrossEntropyLoss()
    else:
        y_t, loss_fn = torch.from_numpy(y)[:, None], torch.nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(SEED)
    n = len(X)

    def fit():
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, wl.batch):
            index = order[start : start + wl.batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(train_forward(X_t[index]), y_t[index])
            loss.backward()
            optimizer.step()

    def predict():
        model.eval()
        with torch.inference_mode():
            out = torch.cat([model(X_t[i : i + PREDICT_BATCH]) for i in range(0, n, PREDICT_BATCH)])
        # Labels or values as numpy, as rnnkit's predict returns them.
        return out.argmax(1).numpy() if wl.classes else out[:, 0].numpy()

    n_torch = sum(p.numel() for p in model.parameters())
    return {"fit": fit, "predict": predict}, n_torch


def load_keras(threads):
    """(keras, description) when TensorFlow imports, else (None, why not)."""
    # TensorFlow's C++ start-up messages would clutter the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except Exception as exc:  # ImportError, or a broken installation
        return None, f"skipped: import tensorflow failed ({type(exc).__name__}: {exc})"
    try:
        # Both pools at the thread count, which is TensorFlow's own default for this
        # machine's cores: a Keras user leaves them so. One inter-op thread (the setting
        # until 2026-11-23) slowed Keras' fit 1.2-1.5x on gru and cosine in a paired test.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as exc:  # TensorFlow already initialised in this process
        return None, f"skipped: cannot set TensorFlow's thread count ({exc})"
    # Every workload's model traces its own predict and train functions; TensorFlow counts
    # those as retracing and warns about it, which is expected here.
    tf.get_logger().setLevel("ERROR")
    keras = tf.keras
    return keras, f"tensorflow {tf.__version__}, keras {getattr(keras, '__version__', '?')}"


def build_keras_model(keras, wl):
    """The workload's Keras tutorial model: Dropout after every recurrent and Dense layer."""
    cell = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    layers = [keras.Input(shape=(wl.steps, wl.inputs))]
    for layer in range(wl.layers):
        last = layer == wl.layers - 1
        layers.append(cell[wl.cell](wl.hidden, activation=wl.activation, return_sequences=not last))
        if wl.dropout:
            layers.append(keras.layers.Dropout(wl.dropout))
    for size in wl.dense:
        layers.append(keras.layers.Dense(size, activation="relu"))
        if wl.dropout:
            layers.append(keras.layers.Dropout(wl.dropout))
    if wl.classes:
        layers.append(keras.layers.Dense(wl.classes, activation="softmax"))
        loss = "sparse_categorical_crossentropy"
    else:
        layers.append(keras.layers.Dense(1))
        loss = "mse"
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss)
    return model


def keras_fit_runners(keras, wl, X, y):
    """Callables for one epoch of ``Model.fit`` and for ``Model.predict`` on ``X``, and the
    model's parameter count (LSTM and SimpleRNN layers have one bias vector, not two)."""
    model = build_keras_model(keras, wl)

    def fit():
        model.fit(X, y, batch_size=wl.batch, epochs=1, shuffle=True, verbose=0)

    def predict():
        out = model.predict(X, batch_size=PREDICT_BATCH, verbose=0)
        return out.argmax(1) if wl.classes else out[:, 0]

    return {"fit": fit, "predict": predict}, model.count_params()
