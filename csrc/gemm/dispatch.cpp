// Run-time choice of micro-kernel from CPU features, so that one build runs on
// any x86-64 (and builds elsewhere with the generic kernel only).
#include <stdexcept>

#include "gemm/microkernel.hpp"

namespace rnnkit {

bool isa_supported(Isa isa) {
    switch (isa) {
        case Isa::best:
        case Isa::generic:
            return true;
#ifdef RNNKIT_X86
        case Isa::avx512:
            return __builtin_cpu_supports("avx512f");
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

// Each ISA's kernel, or its single-row counterpart when `row`.
template <class T>
struct KernelTable;

template <>
struct KernelTable<float> {
    static MicroKernel<float> generic(bool row) {
        return row ? microkernel_generic_row_f32() : microkernel_generic_f32();
    }
#ifdef RNNKIT_X86
    static MicroKernel<float> avx2(bool row) {
        return row ? microkernel_avx2_row_f32() : microkernel_avx2_f32();
    }
    static MicroKernel<float> avx512(bool row) {
        return row ? microkernel_avx512_row_f32() : microkernel_avx512_f32();
    }
#endif
};

template <>
struct KernelTable<double> {
    static MicroKernel<double> generic(bool row) {
        return row ? microkernel_generic_row_f64() : microkernel_generic_f64();
    }
#ifdef RNNKIT_X86
    static MicroKernel<double> avx2(bool row) {
        return row ? microkernel_avx2_row_f64() : microkernel_avx2_f64();
    }
    static MicroKernel<double> avx512(bool row) {
        return row ? microkernel_avx512_row_f64() : microkernel_avx512_f64();
    }
#endif
};

template <class T>
MicroKernel<T> select(Isa isa, bool row) {
    switch (resolve_isa(isa)) {
#ifdef RNNKIT_X86
        case Isa::avx512:
            return KernelTable<T>::avx512(row);
        case Isa::avx2:
            return KernelTable<T>::avx2(row);
#endif
        default:
            return KernelTable<T>::generic(row);
    }
}

}  // namespace

template <class T>
MicroKernel<T> select_microkernel(Isa isa) {
    return select<T>(isa, false);
}

template <class T>
MicroKernel<T> select_row_microkernel(Isa isa) {
    return select<T>(isa, true);
}

template MicroKernel<float> select_microkernel<float>(Isa);
template MicroKernel<double> select_microkernel<double>(Isa);
template MicroKernel<float> select_row_microkernel<float>(Isa);
template MicroKernel<double> select_row_microkernel<double>(Isa);

}  // namespace rnnkit
