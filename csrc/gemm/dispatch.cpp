// Run-time choice of micro-kernel from CPU features, so that one build runs on
// any x86-64 (and builds elsewhere with the generic kernel only).
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
        default:
            return false;
    }
}

Isa resolve_isa(Isa isa) {
    if (isa == Isa::best) {
        if (isa_supported(Isa::avx512)) return Isa::avx512;
        if (isa_supported(Isa::avx2)) return Isa::avx2;
        return Isa::generic;
    }
    if (!isa_supported(isa)) throw std::invalid_argument("isa is not supported by this CPU");
    return isa;
}

namespace {

// Each ISA's kernel, or its single-row counterpart for `row_columns` when > 0.
template <class T>
struct KernelTable;

template <>
struct KernelTable<float> {
    static MicroKernel<float> generic(int64_t row_columns) {
        return row_columns > 0 ? microkernel_generic_row_f32(row_columns)
                               : microkernel_generic_f32();
    }
#ifdef RNNKIT_X86
    static MicroKernel<float> avx2(int64_t row_columns) {
        return row_columns > 0 ? microkernel_avx2_row_f32(row_columns) : microkernel_avx2_f32();
    }
    static MicroKernel<float> avx512(int64_t row_columns) {
        return row_columns > 0 ? microkernel_avx512_row_f32(row_columns) : microkernel_avx512_f32();
    }
#endif
};

template <>
struct KernelTable<double> {
    static MicroKernel<double> generic(int64_t row_columns) {
        return row_columns > 0 ? microkernel_generic_row_f64(row_columns)
                               : microkernel_generic_f64();
    }
#ifdef RNNKIT_X86
    static MicroKernel<double> avx2(int64_t row_columns) {
        return row_columns > 0 ? microkernel_avx2_row_f64(row_columns) : microkernel_avx2_f64();
    }
    static MicroKernel<double> avx512(int64_t row_columns) {
        return row_columns > 0 ? microkernel_avx512_row_f64(row_columns) : microkernel_avx512_f64();
    }
#endif
};

template <class T>
MicroKernel<T> select(Isa isa, int64_t row_columns) {
    switch (resolve_isa(isa)) {
#ifdef RNNKIT_X86
        case Isa::avx512:
            return KernelTable<T>::avx512(row_columns);
        case Isa::avx2:
            return KernelTable<T>::avx2(row_columns);
#endif
        default:
            return KernelTable<T>::generic(row_columns);
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
