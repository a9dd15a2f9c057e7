// rnnkit._core: the forward and backward of a recurrent layer.
#include "sequence/sequence.hpp"

#include "bindings/checks.hpp"

namespace rnnkit::bindings {
namespace {

rnnkit::SequenceShape make_shape(const std::string& cell, const std::string& activation,
                                 bool reverse, double leak_rate, const py::array& x,
                                 const py::array& weight_hh) {
    if (x.ndim() != 3) throw py::value_error("x: expected a 3-D array (batch, steps, input)");
    if (weight_hh.ndim() != 2) throw py::value_error("weight_hh: expected a 2-D array");
    rnnkit::SequenceShape s{x.shape(0),       x.shape(1),
                            x.shape(2),       weight_hh.shape(1),
                            parse_cell(cell), parse_activation(activation),
                            reverse,          leak_rate};
    if (s.batch < 1 || s.steps < 1 || s.input < 1 || s.hidden < 1)
        throw py::value_error("x and weight_hh: every dimension must be at least 1");
    // 0 would freeze the state and anything above 1 extrapolate it; the other cells
    // have no leak and would ignore one.
    if (!(leak_rate > 0.0 && leak_rate <= 1.0))  // NaN too
        throw py::value_error("leak_rate: expected a number in (0, 1]");
    if (leak_rate != 1.0 && s.cell != Cell::rnn)
        throw py::value_error("leak_rate: only the rnn cell has a leak rate (1 for the others)");
    return s;
}

// A cache array of `shape`: fresh, or `reuse` (the same array of a consumed cache,
// which the caller hands back so that large caches are not faulted in anew at every
// training step; it must not overlap any other argument).
template <class T>
py::array_t<T> cache_array(const py::object& reuse, const char* name, const Shape& shape) {
    if (reuse.is_none()) return py::array_t<T>(shape);
    const py::array array = as_array(reuse, name);
    checked_writeable<T>(array, name, shape);
    return py::reinterpret_borrow<py::array_t<T>>(array);
}

// forward's arguments as Python passed them (None for an absent optional one).
struct ForwardCall {
    const py::array &x, &weight_ih, &weight_hh, &bias_ih, &bias_hh;
    const py::object &h0, &c0, &lengths;
    bool training, return_sequences;
    const py::object& reuse;
};

template <class T>
py::tuple forward(const rnnkit::SequenceShape& s, const ForwardCall& call,
                  const rnnkit::Execution& run) {
    const int64_t B = s.batch, steps = s.steps, H = s.hidden, GH = s.gates() * H;
    const bool lstm = s.cell == Cell::lstm, training = call.training;
    const bool return_sequences = call.return_sequences;
    rnnkit::ForwardArgs<T> args{};
    args.x = checked<T>(call.x, "x", {B, steps, s.input});
    args.weight_ih = checked<T>(call.weight_ih, "weight_ih", {GH, s.input});
    args.weight_hh = checked<T>(call.weight_hh, "weight_hh", {GH, H});
    args.bias_ih = checked<T>(call.bias_ih, "bias_ih", {GH});
    args.bias_hh = checked<T>(call.bias_hh, "bias_hh", {GH});
    args.h0 = optional<T>(call.h0, "h0", {B, H});
    if (!lstm && !call.c0.is_none())
        throw py::value_error("c0: only the lstm cell has a cell state");
    args.c0 = optional<T>(call.c0, "c0", {B, H});
    args.lengths = checked_lengths(call.lengths, B, steps);

    py::array_t<T> output(return_sequences ? Shape{B, steps, H} : Shape{0}), h_n({B, H});
    py::object c_n = py::none(), cache = py::none(), sequences = py::none();
    if (return_sequences) sequences = output;
    py::array_t<T> c_state = lstm ? py::array_t<T>({B, H}) : py::array_t<T>(0);
    args.output = return_sequences ? mutable_data(output) : nullptr;
    args.h_n = mutable_data(h_n);
    args.c_n = lstm ? mutable_data(c_state) : nullptr;
    const py::tuple old = call.reuse.is_none()
                              ? py::make_tuple(py::none(), py::none(), py::none(), py::none())
                              : call.reuse.cast<py::tuple>();
    if (old.size() != 4) throw py::value_error("reuse: expected None or 4 cache arrays");
    py::array_t<T> gates, aux, h_prev, c_prev;
    // Step-major (T, B, .): the kernels' internal layout (see SequenceCache).
    // Inference with a gates-shaped array takes it as the input projection's scratch
    // (which only batches smaller than a micro-kernel tile use: see ForwardArgs).
    const bool scratch = !training && !old[0].is_none();
    if (training || scratch) gates = cache_array<T>(old[0], "reuse[0]", {steps, B, GH});
    if (scratch) args.projection = mutable_data(gates);
    if (training) {
        aux =
            cache_array<T>(old[1], "reuse[1]", s.cell == Cell::rnn ? Shape{0} : Shape{steps, B, H});
        h_prev = cache_array<T>(old[2], "reuse[2]", {steps, B, H});
        c_prev = cache_array<T>(old[3], "reuse[3]", lstm ? Shape{steps, B, H} : Shape{0});
        args.cache = {mutable_data(gates), s.cell == Cell::rnn ? nullptr : mutable_data(aux),
                      mutable_data(h_prev), lstm ? mutable_data(c_prev) : nullptr};
    }
    {
        py::gil_scoped_release release;
        rnnkit::sequence_forward<T>(s, args, run);
    }
    if (lstm) c_n = c_state;
    if (training) cache = py::make_tuple(gates, aux, h_prev, c_prev);
    return py::make_tuple(sequences, h_n, c_n, cache);
}

// backward's arguments as Python passed them: the forward's inputs, its cache, the
// gradients arriving at the layer's results (None for none) and the options.
struct BackwardCall {
    const py::array &x, &weight_ih, &weight_hh;
    const py::object& lengths;
    const py::array &gates, &aux, &h_prev, &c_prev;
    const py::object &d_output, &d_h_n, &d_c_n;
    int64_t bptt_steps;
    bool input_grad;
};

template <class T>
py::tuple backward(const rnnkit::SequenceShape& s, const BackwardCall& call,
                   const rnnkit::Execution& run) {
    const int64_t B = s.batch, steps = s.steps, I = s.input, H = s.hidden, GH = s.gates() * H;
    const bool lstm = s.cell == Cell::lstm, input_grad = call.input_grad;
    rnnkit::BackwardArgs<T> args{};
    args.x = checked<T>(call.x, "x", {B, steps, I});
    args.weight_ih = checked<T>(call.weight_ih, "weight_ih", {GH, I});
    args.weight_hh = checked<T>(call.weight_hh, "weight_hh", {GH, H});
    args.lengths = checked_lengths(call.lengths, B, steps);
    // The gate gradients overwrite the cache's gates: a cache serves one backward,
    // and a fresh buffer as large (tens of MB for long sequences) costs its page faults.
    args.d_gates = checked_writeable<T>(call.gates, "cache.gates", {steps, B, GH});
    args.cache.gates = args.d_gates;
    // gru's recurrent n-gate gradients likewise overwrite the consumed aux.
    if (s.cell == Cell::gru) {
        args.d_hn = checked_writeable<T>(call.aux, "cache.aux", {steps, B, H});
        args.cache.aux = args.d_hn;
    } else {
        args.cache.aux =
            s.cell == Cell::rnn ? nullptr : checked<T>(call.aux, "cache.aux", {steps, B, H});
    }
    args.cache.h_prev = checked<T>(call.h_prev, "cache.h_prev", {steps, B, H});
    args.cache.c_prev = lstm ? checked<T>(call.c_prev, "cache.c_prev", {steps, B, H}) : nullptr;
    args.d_output = optional<T>(call.d_output, "d_output", {B, steps, H});
    args.d_h_n = optional<T>(call.d_h_n, "d_h_n", {B, H});
    if (!lstm && !call.d_c_n.is_none())
        throw py::value_error("d_c_n: only the lstm cell has a cell state");
    args.d_c_n = optional<T>(call.d_c_n, "d_c_n", {B, H});
    if (call.bptt_steps < 0) throw py::value_error("bptt_steps: expected a positive integer or 0");
    args.bptt_steps = call.bptt_steps;

    py::array_t<T> d_x(input_grad ? Shape{B, steps, I} : Shape{0});
    py::array_t<T> d_h0({B, H}), d_weight_ih({GH, I}), d_weight_hh({GH, H});
    py::array_t<T> d_bias_ih(GH), d_bias_hh(GH);
    py::array_t<T> d_c0 = lstm ? py::array_t<T>({B, H}) : py::array_t<T>(0);
    args.d_x = input_grad ? mutable_data(d_x) : nullptr;
    args.d_h0 = mutable_data(d_h0);
    args.d_c0 = lstm ? mutable_data(d_c0) : nullptr;
    args.d_weight_ih = mutable_data(d_weight_ih);
    args.d_weight_hh = mutable_data(d_weight_hh);
    args.d_bias_ih = mutable_data(d_bias_ih);
    args.d_bias_hh = mutable_data(d_bias_hh);
    {
        py::gil_scoped_release release;
        rnnkit::sequence_backward<T>(s, args, run);
    }
    py::object d_c0_out = lstm ? py::object(d_c0) : py::none();
    py::object d_x_out = input_grad ? py::object(d_x) : py::none();
    return py::make_tuple(d_x_out, d_h0, d_c0_out, d_weight_ih, d_weight_hh, d_bias_ih, d_bias_hh);
}

}  // namespace

void bind_sequence(py::module_& m) {
    m.def(
        "forward",
        [](const std::string& cell, const std::string& activation, bool reverse, const py::array& x,
           const py::array& weight_ih, const py::array& weight_hh, const py::array& bias_ih,
           const py::array& bias_hh, const py::object& h0, const py::object& c0,
           const py::object& lengths, bool training, int n_threads, const std::string& isa,
           double leak_rate, bool return_sequences, const py::object& reuse) {
            const auto s = make_shape(cell, activation, reverse, leak_rate, x, weight_hh);
            const ForwardCall call{x,  weight_ih, weight_hh, bias_ih,          bias_hh, h0,
                                   c0, lengths,   training,  return_sequences, reuse};
            const bool float64 = is_float64(x);
            const auto run = checked_execution(n_threads, parse_isa(isa));
            return float64 ? forward<double>(s, call, run) : forward<float>(s, call, run);
        },
        py::arg("cell"), py::arg("activation"), py::arg("reverse"), py::arg("x"),
        py::arg("weight_ih"), py::arg("weight_hh"), py::arg("bias_ih"), py::arg("bias_hh"),
        py::arg("h0"), py::arg("c0"), py::arg("lengths"), py::arg("training"), py::arg("n_threads"),
        py::arg("isa") = "best", py::arg("leak_rate") = 1.0, py::arg("return_sequences") = true,
        py::arg("reuse") = py::none());

    m.def(
        "backward",
        [](const std::string& cell, const std::string& activation, bool reverse, const py::array& x,
           const py::array& weight_ih, const py::array& weight_hh, const py::object& lengths,
           const py::array& gates, const py::array& aux, const py::array& h_prev,
           const py::array& c_prev, const py::object& d_output, const py::object& d_h_n,
           const py::object& d_c_n, int64_t bptt_steps, int n_threads, const std::string& isa,
           double leak_rate, bool input_grad) {
            const auto s = make_shape(cell, activation, reverse, leak_rate, x, weight_hh);
            const BackwardCall call{x,     weight_ih,  weight_hh, lengths,  gates,
                                    aux,   h_prev,     c_prev,    d_output, d_h_n,
                                    d_c_n, bptt_steps, input_grad};
            const bool float64 = is_float64(x);
            const auto run = checked_execution(n_threads, parse_isa(isa));
            return float64 ? backward<double>(s, call, run) : backward<float>(s, call, run);
        },
        py::arg("cell"), py::arg("activation"), py::arg("reverse"), py::arg("x"),
        py::arg("weight_ih"), py::arg("weight_hh"), py::arg("lengths"), py::arg("gates"),
        py::arg("aux"), py::arg("h_prev"), py::arg("c_prev"), py::arg("d_output"), py::arg("d_h_n"),
        py::arg("d_c_n"), py::arg("bptt_steps"), py::arg("n_threads"), py::arg("isa") = "best",
        py::arg("leak_rate") = 1.0, py::arg("input_grad") = true);
}

}  // namespace rnnkit::bindings
