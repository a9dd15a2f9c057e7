// rnnkit._core: inverted dropout.
#include "dropout/dropout.hpp"

#include "bindings/checks.hpp"

namespace rnnkit::bindings {
namespace {

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

}  // namespace

void bind_dropout(py::module_& m) {
    m.def(
        "dropout",
        [](const py::array& input, double rate, uint64_t seed, int n_threads) {
            return is_float64(input, "input") ? dropout<double>(input, rate, seed, n_threads)
                                              : dropout<float>(input, rate, seed, n_threads);
        },
        py::arg("input"), py::arg("rate"), py::arg("seed"), py::arg("n_threads"),
        "(input * mask, mask) of inverted dropout (rnnkit._network).");
}

}  // namespace rnnkit::bindings
