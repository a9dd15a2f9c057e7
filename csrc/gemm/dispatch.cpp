// Run-time choice of micro-kernel from CPU features, so that one build runs on
// any x86-64; AArch64 builds always have NEON, and other targets the generic kernel only.
#include <algorithm>
#include <stdexcept>

#include "gemm/microkernel.hpp"

namespace rnnkit {

bool isa_supported(Isa isa) {
    switch (isa) {
        case Isa::best:
        case Isa::generic:
            return true;
#ifdef RNNKIT_X86
        case Isa::avx512:  // its files are compiled with -mavx512f -mavx2 -mfma
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
                   __builtin_cpu_supports("fma");
        case Isa::avx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#ifdef RNNKIT_NEON
        case Isa::neon:  // part of AArch64's base ISA
            return true;
#endif
        default:
            return false;
    }
}

Isa resolve_isa(Isa isa) {
    if (isa == Isa::best) {
        if (isa_supported(Isa::avx512)) return Isa::avx512;
        if (isa_supported(Isa::avx2)) return Isa::avx2;
        if (isa_supported(Isa::neon)) return Isa::neon;
        return Isa::generic;
    }
    if (!isa_supported(isa)) throw std::invalid_argument("isa is not supported by this CPU");
    return isa;
}

namespace {

// The full kernel of `isa`, or its single-row counterpart for `row_columns` when > 0:
// one namespace per ISA, as cell_kernels picks the cells'.
template <class T>
MicroKernel<T> select(Isa isa, int64_t row_columns) {
    switch (resolve_isa(isa)) {
#ifdef RNNKIT_X86
        case Isa::avx512:
            return row_columns > 0 ? microkernels_avx512::row<T>(row_columns)
                                   : microkernels_avx512::full<T>();
        case Isa::avx2:
            return row_columns > 0 ? microkernels_avx2::row<T>(row_columns)
                                   : microkernels_avx2::full<T>();
#endif
#ifdef RNNKIT_NEON
        case Isa::neon:
            return row_columns > 0 ? microkernels_neon::row<T>(row_columns)
                                   : microkernels_neon::full<T>();
#endif
        default:
            return row_columns > 0 ? microkernels_generic::row<T>(row_columns)
                                   : microkernels_generic::full<T>();
    }
}

}  // namespace

template <class T>
MicroKernel<T> select_microkernel(Isa isa) {
    return select<T>(isa, 0);
}

template <class T>
MicroKernel<T> select_row_microkernel(Isa isa, int64_t columns) {
    return select<T>(isa, std::max<int64_t>(columns, 1));
}

template <class T>
MicroKernel<T> select_microkernel_for(Isa isa, int64_t rows, int64_t columns) {
    return rows == 1 ? select_row_microkernel<T>(isa, columns) : select_microkernel<T>(isa);
}

template MicroKernel<float> select_microkernel<float>(Isa);
template MicroKernel<double> select_microkernel<double>(Isa);
template MicroKernel<float> select_row_microkernel<float>(Isa, int64_t);
template MicroKernel<double> select_row_microkernel<double>(Isa, int64_t);
template MicroKernel<float> select_microkernel_for<float>(Isa, int64_t, int64_t);
template MicroKernel<double> select_microkernel_for<double>(Isa, int64_t, int64_t);

}  // namespace rnnkit
