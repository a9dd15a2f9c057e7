// Shared by the binding files: array conversion and the checks that make sure no
// kernel can read or write out of bounds whatever Python passes, with errors that name
// the argument. rnnkit.ops is the user-facing API and gives the friendly messages.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gemm/microkernel.hpp"
#include "sequence/sequence.hpp"

namespace rnnkit::bindings {

namespace py = pybind11;

using Shape = std::vector<py::ssize_t>;

inline std::string shape_text(const Shape& shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

// The kernels dereference T*: a view at an odd byte offset would be undefined.
inline void check_aligned(const py::array& array, const char* name) {
    if (!(array.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(std::string(name) + ": expected an aligned array");
}

// A C-contiguous array of exactly `shape` and dtype T, or an error naming `name`.
template <class T>
const T* checked(const py::array& array, const char* name, const Shape& shape) {
    if (!py::isinstance<py::array_t<T>>(array) || array.dtype().kind() != py::dtype::of<T>().kind())
        throw py::type_error(std::string(name) + ": expected dtype " +
                             std::string(py::str(py::dtype::of<T>())));
    if (!(array.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": expected a C-contiguous array");
    check_aligned(array, name);
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

// `object` itself as a numpy array, never a conversion: cast<py::array>() made a list
// into a temporary array, freed as soon as the pointer to its data was taken, and the
// kernels read (the optimizer's second moment: wrote) freed memory; lengths were even
// range-checked in it. Borrowed, the caller's argument keeps the data alive.
inline py::array as_array(const py::object& object, const char* name) {
    if (!py::isinstance<py::array>(object))
        throw py::type_error(std::string(name) + ": expected a numpy array, got " +
                             std::string(py::str(py::type::of(object).attr("__name__"))));
    return py::reinterpret_borrow<py::array>(object);
}

template <class T>
const T* optional(const py::object& object, const char* name, const Shape& shape) {
    return object.is_none() ? nullptr : checked<T>(as_array(object, name), name, shape);
}

template <class T>
T* mutable_data(py::array_t<T>& array) {
    return array.mutable_data();
}

inline Cell parse_cell(const std::string& name) {
    if (name == "rnn") return Cell::rnn;
    if (name == "lstm") return Cell::lstm;
    if (name == "gru") return Cell::gru;
    throw py::value_error("cell: expected 'rnn', 'lstm' or 'gru', got '" + name + "'");
}

inline Activation parse_activation(const std::string& name) {
    if (name == "tanh") return Activation::tanh;
    if (name == "relu") return Activation::relu;
    if (name == "linear") return Activation::linear;
    throw py::value_error("activation: expected 'tanh', 'relu' or 'linear', got '" + name + "'");
}

inline Isa parse_isa(const std::string& name) {
    if (name == "best") return Isa::best;
    if (name == "avx512") return Isa::avx512;
    if (name == "avx2") return Isa::avx2;
    if (name == "neon") return Isa::neon;
    if (name == "generic") return Isa::generic;
    throw py::value_error("isa: expected 'best', 'avx512', 'avx2', 'neon' or 'generic', got '" +
                          name + "'");
}

inline const int64_t* checked_lengths(const py::object& object, int64_t batch, int64_t steps) {
    const int64_t* lengths = optional<int64_t>(object, "lengths", {batch});
    for (int64_t b = 0; lengths && b < batch; ++b)
        if (lengths[b] < 1 || lengths[b] > steps)
            throw py::value_error("lengths: expected values in [1, " + std::to_string(steps) +
                                  "], got " + std::to_string(lengths[b]) + " at index " +
                                  std::to_string(b));
    return lengths;
}

// Thousands of OpenMP threads can abort the process when creation fails.
inline int checked_threads(int n_threads) {
    if (n_threads < 1 || n_threads > 4096)
        throw py::value_error("n_threads: expected an integer in [1, 4096]");
    return n_threads;
}

inline rnnkit::Execution checked_execution(int n_threads, Isa isa) {
    if (!rnnkit::isa_supported(isa)) throw py::value_error("isa: not supported by this CPU");
    return {checked_threads(n_threads), isa};
}

inline bool is_float64(const py::array& x, const char* name = "x") {
    if (x.dtype().equal(py::dtype::of<double>())) return true;
    if (x.dtype().equal(py::dtype::of<float>())) return false;
    throw py::type_error(std::string(name) + ": expected dtype float32 or float64");
}

// Each file binds one kernel family into the module.
void bind_sequence(py::module_& m);
void bind_gemm(py::module_& m);
void bind_optimizer(py::module_& m);
void bind_dropout(py::module_& m);

}  // namespace rnnkit::bindings
