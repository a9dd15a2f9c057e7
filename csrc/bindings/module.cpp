// pybind11 module rnnkit._core: array conversion, shape and dtype checks, GIL
// release and float/double dispatch, one file per kernel family (checks.hpp holds
// what they share). No logic beyond that, but for the use of a consumed cache's
// arrays as the next call's buffers (sequence.cpp).
#include <string>

#include "bindings/checks.hpp"
#include "common/openmp.hpp"
#include "gemm/microkernel.hpp"

namespace bindings = rnnkit::bindings;
namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
    m.doc() = "rnnkit's compiled kernels. Use rnnkit.ops, not this module.";

    m.def("max_threads", &rnnkit::default_threads,
          "Threads OpenMP would use by default (respects OMP_NUM_THREADS); 1 without OpenMP.");
    m.attr("openmp") = rnnkit::kOpenMP;
    m.def(
        "isa_supported",
        [](const std::string& isa) { return rnnkit::isa_supported(bindings::parse_isa(isa)); },
        py::arg("isa"));
    m.def("best_isa", [] { return std::string(rnnkit::select_microkernel<float>().name); });

    bindings::bind_sequence(m);
    bindings::bind_gemm(m);
    bindings::bind_optimizer(m);
    bindings::bind_dropout(m);
}
