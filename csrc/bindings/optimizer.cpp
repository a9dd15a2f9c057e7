// rnnkit._core: the optimizers' update.
#include "bindings/checks.hpp"
#include "optim/update.hpp"

namespace rnnkit::bindings {
namespace {

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
    args.second = adam ? checked_writeable<T>(as_array(second, "second"), "second", {n}) : nullptr;
    if (adam && rule.t < 1) throw py::value_error("t: expected a positive integer");
    const int threads = checked_threads(n_threads);
    py::gil_scoped_release release;
    rnnkit::optimizer_update<T>(n, rule, args, threads);
}

}  // namespace

void bind_optimizer(py::module_& m) {
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
}

}  // namespace rnnkit::bindings
