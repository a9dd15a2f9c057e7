// rnnkit._core: the GEMM (ops.matmul).
#include "gemm/gemm.hpp"

#include "bindings/checks.hpp"

namespace rnnkit::bindings {
namespace {

// Element strides of a 2-D array, for views (transposes) without copies.
template <class T>
rnnkit::MatrixView<T> matrix_view(const py::array& array, const char* name) {
    if (array.ndim() != 2) throw py::value_error(std::string(name) + ": expected a 2-D array");
    if (array.strides(0) % py::ssize_t(sizeof(T)) || array.strides(1) % py::ssize_t(sizeof(T)))
        throw py::value_error(std::string(name) + ": strides must be multiples of the item size");
    check_aligned(array, name);
    return {static_cast<const T*>(array.data()), array.strides(0) / py::ssize_t(sizeof(T)),
            array.strides(1) / py::ssize_t(sizeof(T))};
}

template <class T>
py::array_t<T> gemm(const py::array& a, const py::array& b, Isa isa, int n_threads) {
    if (a.dtype().not_equal(py::dtype::of<T>()) || b.dtype().not_equal(py::dtype::of<T>()))
        throw py::type_error("a and b: expected the same dtype, float32 or float64");
    const auto view_a = matrix_view<T>(a, "a"), view_b = matrix_view<T>(b, "b");
    if (a.shape(1) != b.shape(0)) throw py::value_error("a and b: inner dimensions differ");
    const rnnkit::Execution run = checked_execution(n_threads, isa);  // GIL held: it may throw
    const int64_t m = a.shape(0), n = b.shape(1), k = a.shape(1);
    py::array_t<T> c({m, n});
    T* out = c.mutable_data();
    {
        py::gil_scoped_release release;
        rnnkit::gemm<T>({m, n, k}, {view_a, view_b, out, n}, run);
    }
    return c;
}

}  // namespace

void bind_gemm(py::module_& m) {
    m.def(
        "gemm",
        [](const py::array& a, const py::array& b, const std::string& isa, int n_threads) {
            const Isa which = parse_isa(isa);
            return is_float64(a, "a") ? py::object(gemm<double>(a, b, which, n_threads))
                                      : py::object(gemm<float>(a, b, which, n_threads));
        },
        py::arg("a"), py::arg("b"), py::arg("isa") = "best", py::arg("n_threads") = 1,
        "a @ b with rnnkit's GEMM (tests and benchmarks).");
}

}  // namespace rnnkit::bindings
