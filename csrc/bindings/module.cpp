// pybind11 module rnnkit._core: array conversion, shape and dtype checks, GIL
// release and float/double dispatch. No logic beyond that: rnnkit.ops is the
// user-facing API and gives the friendly messages; the checks here only make
// sure no kernel can read or write out of bounds whatever Python passes.
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "dropout/dropout.hpp"
#include "gemm/gemm.hpp"
#include "optim/update.hpp"
#include "sequence/sequence.hpp"

namespace py = pybind11;
using rnnkit::Activation;
using rnnkit::Cell;
using rnnkit::Isa;

namespace {

using Shape = std::vector<py::ssize_t>;

std::string shape_text(const Shape& shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

// A C-contiguous array of exactly `shape` and dtype T, or an error naming `name`.
template <class T>
const T* checked(const py::array& array, const char* name, const Shape& shape) {
    if (!py::isinstance<py::array_t<T>>(array) || array.dtype().kind() != py::dtype::of<T>().kind())
        throw py::type_error(std::string(name) + ": expected dtype " +
                             std::string(py::str(py::dtype::of<T>())));
    if (!(array.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": expected a C-contiguous array");
    // The kernels dereference T*: a view at an odd byte offset would be undefined.
    if (!(array.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(std::string(name) + ": expected an aligned array");
    Shape actual(array.shape(), array.shape() + array.ndim());
    if (actual != shape)
        throw py::value_error(std::string(name) + ": expected shape " + shape_text(shape) +
                              ", got " + shape_text(actual));
    return static_cast<const T*>(array.data());
}

// As checked, for an array the kernel may overwrite (a consumed cache).
template <class T>
T* checked_writeable(const py::array& array, const char* name, const Shape& shape) {
    const T* data = checked<T>(array, name, shape);
    if (!array.writeable())
        throw py::value_error(std::string(name) + ": expected a writeable array");
    return const_cast<T*>(data);
}

template <class T>
const T* optional(const py::object& object, const char* name, const Shape& shape) {
    return object.is_none() ? nullptr : checked<T>(object.cast<py::array>(), name, shape);
}

template <class T>
T* mutable_data(py::array_t<T>& array) {
    return array.mutable_data();
}

Cell parse_cell(const std::string& name) {
    if (name == "rnn") return Cell::rnn;
    if (name == "lstm") return Cell::lstm;
    if (name == "gru") return Cell::gru;
    throw py::value_error("cell: expected 'rnn', 'lstm' or 'gru', got '" + name + "'");
}

Activation parse_activation(const std::string& name) {
    if (name == "tanh") return Activation::tanh;
    if (name == "relu") return Activation::relu;
    if (name == "linear") return Activation::linear;
    throw py::value_error("activation: expected 'tanh', 'relu' or 'linear', got '" + name + "'");
}

Isa parse_isa(const std::string& name) {
    if (name == "best") return Isa::best;
    if (name == "avx512") return Isa::avx512;
    if (name == "avx2") return Isa::avx2;
    if (name == "generic") return Isa::generic;
    throw py::value_error("isa: expected 'best', 'avx512', 'avx2' or 'generic', got '" + name +
                          "'");
}

const int64_t* checked_lengths(const py::object& object, int64_t batch, int64_t steps) {
    const int64_t* lengths = optional<int64_t>(object, "lengths", {batch});
    for (int64_t b = 0; lengths && b < batch; ++b)
        if (lengths[b] < 1 || lengths[b] > steps)
            throw py::value_error("lengths: expected values in [1, " + std::to_string(steps) +
                                  "], got " + std::to_string(lengths[b]) + " at index " +
                                  std::to_string(b));
    return lengths;
}

// Thousands of OpenMP threads can abort the process when creation fails.
int checked_threads(int n_threads) {
    if (n_threads < 1 || n_threads > 4096)
        throw py::value_error("n_threads: expected an integer in [1, 4096]");
    return n_threads;
}

rnnkit::Execution checked_execution(int n_threads, Isa isa) {
    if (!rnnkit::isa_supported(isa)) throw py::value_error("isa: not supported by this CPU");
    return {checked_threads(n_threads), isa};
}

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
    return s;
}

// A cache array of `shape`: fresh, or `reuse` (the same array of a consumed cache,
// which the caller hands back so that large caches are not faulted in anew at every
// training step; it must not overlap any other argument).
template <class T>
py::array_t<T> cache_array(const py::object& reuse, const char* name, const Shape& shape) {
    if (reuse.is_none()) return py::array_t<T>(shape);
    const auto array = reuse.cast<py::array>();
    checked_writeable<T>(array, name, shape);
    return py::reinterpret_borrow<py::array_t<T>>(array);
}

template <class T>
py::tuple forward(const rnnkit::SequenceShape& s, const py::array& x, const py::array& weight_ih,
                  const py::array& weight_hh, const py::array& bias_ih, const py::array& bias_hh,
                  const py::object& h0, const py::object& c0, const py::object& lengths,
                  bool training, bool return_sequences, const py::object& reuse, int n_threads,
                  Isa isa) {
    const rnnkit::Execution run = checked_execution(n_threads, isa);
    const int64_t B = s.batch, steps = s.steps, H = s.hidden, GH = s.gates() * H;
    const bool lstm = s.cell == Cell::lstm;
    rnnkit::ForwardArgs<T> args{};
    args.x = checked<T>(x, "x", {B, steps, s.input});
    args.weight_ih = checked<T>(weight_ih, "weight_ih", {GH, s.input});
    args.weight_hh = checked<T>(weight_hh, "weight_hh", {GH, H});
    args.bias_ih = checked<T>(bias_ih, "bias_ih", {GH});
    args.bias_hh = checked<T>(bias_hh, "bias_hh", {GH});
    args.h0 = optional<T>(h0, "h0", {B, H});
    if (!lstm && !c0.is_none()) throw py::value_error("c0: only the lstm cell has a cell state");
    args.c0 = optional<T>(c0, "c0", {B, H});
    args.lengths = checked_lengths(lengths, B, steps);

    py::array_t<T> output(return_sequences ? Shape{B, steps, H} : Shape{0}), h_n({B, H});
    py::object c_n = py::none(), cache = py::none(), sequences = py::none();
    if (return_sequences) sequences = output;
    py::array_t<T> c_state = lstm ? py::array_t<T>({B, H}) : py::array_t<T>(0);
    args.output = return_sequences ? mutable_data(output) : nullptr;
    args.h_n = mutable_data(h_n);
    args.c_n = lstm ? mutable_data(c_state) : nullptr;
    const py::tuple old = reuse.is_none()
                              ? py::make_tuple(py::none(), py::none(), py::none(), py::none())
                              : reuse.cast<py::tuple>();
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

template <class T>
py::tuple backward(const rnnkit::SequenceShape& s, const py::array& x, const py::array& weight_ih,
                   const py::array& weight_hh, const py::object& lengths, const py::array& gates,
                   const py::array& aux, const py::array& h_prev, const py::array& c_prev,
                   const py::object& d_output, const py::object& d_h_n, const py::object& d_c_n,
                   int64_t bptt_steps, bool input_grad, int n_threads, Isa isa) {
    const rnnkit::Execution run = checked_execution(n_threads, isa);
    const int64_t B = s.batch, steps = s.steps, I = s.input, H = s.hidden, GH = s.gates() * H;
    const bool lstm = s.cell == Cell::lstm;
    rnnkit::BackwardArgs<T> args{};
    args.x = checked<T>(x, "x", {B, steps, I});
    args.weight_ih = checked<T>(weight_ih, "weight_ih", {GH, I});
    args.weight_hh = checked<T>(weight_hh, "weight_hh", {GH, H});
    args.lengths = checked_lengths(lengths, B, steps);
    // The gate gradients overwrite the cache's gates: a cache serves one backward,
    // and a fresh buffer as large (tens of MB for long sequences) costs its page faults.
    args.d_gates = checked_writeable<T>(gates, "cache.gates", {steps, B, GH});
    args.cache.gates = args.d_gates;
    // gru's recurrent n-gate gradients likewise overwrite the consumed aux.
    if (s.cell == Cell::gru) {
        args.d_hn = checked_writeable<T>(aux, "cache.aux", {steps, B, H});
        args.cache.aux = args.d_hn;
    } else {
        args.cache.aux =
            s.cell == Cell::rnn ? nullptr : checked<T>(aux, "cache.aux", {steps, B, H});
    }
    args.cache.h_prev = checked<T>(h_prev, "cache.h_prev", {steps, B, H});
    args.cache.c_prev = lstm ? checked<T>(c_prev, "cache.c_prev", {steps, B, H}) : nullptr;
    args.d_output = optional<T>(d_output, "d_output", {B, steps, H});
    args.d_h_n = optional<T>(d_h_n, "d_h_n", {B, H});
    if (!lstm && !d_c_n.is_none())
        throw py::value_error("d_c_n: only the lstm cell has a cell state");
    args.d_c_n = optional<T>(d_c_n, "d_c_n", {B, H});
    if (bptt_steps < 0) throw py::value_error("bptt_steps: expected a positive integer or 0");
    args.bptt_steps = bptt_steps;

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

// Element strides of a 2-D array, for views (transposes) without copies.
template <class T>
rnnkit::MatrixView<T> matrix_view(const py::array& array, const char* name) {
    if (array.ndim() != 2) throw py::value_error(std::string(name) + ": expected a 2-D array");
    if (array.strides(0) % py::ssize_t(sizeof(T)) || array.strides(1) % py::ssize_t(sizeof(T)))
        throw py::value_error(std::string(name) + ": strides must be multiples of the item size");
    if (!(array.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(std::string(name) + ": expected an aligned array");
    return {static_cast<const T*>(array.data()), array.strides(0) / py::ssize_t(sizeof(T)),
            array.strides(1) / py::ssize_t(sizeof(T))};
}

template <class T>
py::array_t<T> gemm(const py::array& a, const py::array& b, Isa isa, int n_threads) {
    if (a.dtype().not_equal(py::dtype::of<T>()) || b.dtype().not_equal(py::dtype::of<T>()))
        throw py::type_error("a and b: expected the same dtype, float32 or float64");
    const auto view_a = matrix_view<T>(a, "a"), view_b = matrix_view<T>(b, "b");
    if (a.shape(1) != b.shape(0)) throw py::value_error("a and b: inner dimensions differ");
    if (!rnnkit::isa_supported(isa)) throw py::value_error("isa: not supported by this CPU");
    const int threads = checked_threads(n_threads);  // with the GIL held: it may throw
    const int64_t m = a.shape(0), n = b.shape(1), k = a.shape(1);
    py::array_t<T> c({m, n});
    T* out = c.mutable_data();
    {
        py::gil_scoped_release release;
        rnnkit::gemm<T>({m, n, k}, {view_a, view_b, out, n}, {threads, isa});
    }
    return c;
}

rnnkit::Optimizer parse_optimizer(const std::string& name) {
    if (name == "adam") return rnnkit::Optimizer::adam;
    if (name == "sgd") return rnnkit::Optimizer::sgd;
    if (name == "rmsprop") return rnnkit::Optimizer::rmsprop;
    throw py::value_error("kind: expected 'adam', 'sgd' or 'rmsprop', got '" + name + "'");
}

template <class T>
void optimizer_update(const rnnkit::UpdateRule& rule, const py::array& params,
                      const py::array& grad, const py::array& first, const py::object& second,
                      int n_threads) {
    if (params.ndim() != 1) throw py::value_error("params: expected a 1-D array");
    const int64_t n = params.shape(0);
    rnnkit::UpdateArgs<T> args{};
    args.params = checked_writeable<T>(params, "params", {n});
    args.grad = checked<T>(grad, "grad", {n});
    args.first = checked_writeable<T>(first, "first", {n});
    const bool adam = rule.kind == rnnkit::Optimizer::adam;
    if (adam == second.is_none())
        throw py::value_error("second: expected an array for adam and None otherwise");
    args.second = adam ? checked_writeable<T>(second.cast<py::array>(), "second", {n}) : nullptr;
    if (adam && rule.t < 1) throw py::value_error("t: expected a positive integer");
    const int threads = checked_threads(n_threads);
    py::gil_scoped_release release;
    rnnkit::optimizer_update<T>(n, rule, args, threads);
}

template <class T>
py::tuple dropout(const py::array& input, double rate, uint64_t seed, int n_threads) {
    const Shape shape(input.shape(), input.shape() + input.ndim());
    rnnkit::DropoutArgs<T> args{};
    args.input = checked<T>(input, "input", shape);
    if (!(rate >= 0.0 && rate < 1.0)) throw py::value_error("rate: expected a number in [0, 1)");
    const int threads = checked_threads(n_threads);
    py::array_t<T> output(shape), mask(shape);
    args.output = mutable_data(output);
    args.mask = mutable_data(mask);
    {
        py::gil_scoped_release release;
        rnnkit::dropout<T>({input.size(), rate, seed}, args, threads);
    }
    return py::make_tuple(output, mask);
}

bool is_float64(const py::array& x, const char* name = "x") {
    if (x.dtype().equal(py::dtype::of<double>())) return true;
    if (x.dtype().equal(py::dtype::of<float>())) return false;
    throw py::type_error(std::string(name) + ": expected dtype float32 or float64");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "rnnkit's compiled kernels. Use rnnkit.ops, not this module.";

    m.def(
        "forward",
        [](const std::string& cell, const std::string& activation, bool reverse, const py::array& x,
           const py::array& weight_ih, const py::array& weight_hh, const py::array& bias_ih,
           const py::array& bias_hh, const py::object& h0, const py::object& c0,
           const py::object& lengths, bool training, int n_threads, const std::string& isa,
           double leak_rate, bool return_sequences, const py::object& reuse) {
            const auto s = make_shape(cell, activation, reverse, leak_rate, x, weight_hh);
            auto run = is_float64(x) ? &forward<double> : &forward<float>;
            return run(s, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, lengths, training,
                       return_sequences, reuse, n_threads, parse_isa(isa));
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
            auto run = is_float64(x) ? &backward<double> : &backward<float>;
            return run(s, x, weight_ih, weight_hh, lengths, gates, aux, h_prev, c_prev, d_output,
                       d_h_n, d_c_n, bptt_steps, input_grad, n_threads, parse_isa(isa));
        },
        py::arg("cell"), py::arg("activation"), py::arg("reverse"), py::arg("x"),
        py::arg("weight_ih"), py::arg("weight_hh"), py::arg("lengths"), py::arg("gates"),
        py::arg("aux"), py::arg("h_prev"), py::arg("c_prev"), py::arg("d_output"), py::arg("d_h_n"),
        py::arg("d_c_n"), py::arg("bptt_steps"), py::arg("n_threads"), py::arg("isa") = "best",
        py::arg("leak_rate") = 1.0, py::arg("input_grad") = true);

    m.def(
        "gemm",
        [](const py::array& a, const py::array& b, const std::string& isa, int n_threads) {
            const Isa which = parse_isa(isa);
            return is_float64(a, "a") ? py::object(gemm<double>(a, b, which, n_threads))
                                      : py::object(gemm<float>(a, b, which, n_threads));
        },
        py::arg("a"), py::arg("b"), py::arg("isa") = "best", py::arg("n_threads") = 1,
        "a @ b with rnnkit's GEMM (tests and benchmarks).");

    m.def(
        "optimizer_update",
        [](const std::string& kind, const py::array& params, const py::array& grad,
           const py::array& first, const py::object& second, double learning_rate, double decay1,
           double decay2, double epsilon, int64_t t, int n_threads) {
            const rnnkit::UpdateRule rule{
                parse_optimizer(kind), learning_rate, decay1, decay2, epsilon, t};
            auto run =
                is_float64(params, "params") ? &optimizer_update<double> : &optimizer_update<float>;
            run(rule, params, grad, first, second, n_threads);
        },
        py::arg("kind"), py::arg("params"), py::arg("grad"), py::arg("first"), py::arg("second"),
        py::arg("learning_rate"), py::arg("decay1"), py::arg("decay2"), py::arg("epsilon"),
        py::arg("t"), py::arg("n_threads"),
        "One optimizer update of params and its moments in place (rnnkit._optimizers).");

    m.def(
        "dropout",
        [](const py::array& input, double rate, uint64_t seed, int n_threads) {
            return is_float64(input, "input") ? dropout<double>(input, rate, seed, n_threads)
                                              : dropout<float>(input, rate, seed, n_threads);
        },
        py::arg("input"), py::arg("rate"), py::arg("seed"), py::arg("n_threads"),
        "(input * mask, mask) of inverted dropout (rnnkit._network).");

    m.def("max_threads", &omp_get_max_threads,
          "Threads OpenMP would use by default (respects OMP_NUM_THREADS).");
    m.def(
        "isa_supported",
        [](const std::string& isa) { return rnnkit::isa_supported(parse_isa(isa)); },
        py::arg("isa"));
    m.def("best_isa", [] { return std::string(rnnkit::select_microkernel<float>().name); });
}
