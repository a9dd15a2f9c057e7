// One register-blocked micro-kernel, written once against a small SIMD traits
// class and instantiated per ISA in that ISA's translation unit. Include only
// from files compiled with the matching -m flags.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "gemm/microkernel.hpp"
#include "gemm/microkernel_store.hpp"

namespace rnnkit::detail {

// V: traits with `vec`, `width`, load, store, set1, fma, add, zero.
// MR rows x NV vectors of V::width columns held in MR * NV registers, from a packed
// B panel BNV vectors wide (a narrow kernel reads the first NV of a wider panel).
template <class V, int MR, int NV, int BNV = NV>
void simd_microkernel(const TileArgs<typename V::scalar>& args) {
    using T = typename V::scalar;
    // Locals, not reads through args: the k loop keeps them in registers.
    const int64_t kc = args.kc, ldc = args.ldc, m = args.m, n = args.n;
    const MatrixView<T> a = args.a;
    const T* const b = args.b;
    T* const c = args.c;
    constexpr int NR = NV * V::width;
    typename V::vec acc[MR][NV];
    // Every loop over acc fully unrolled, or GCC keeps acc in memory: with `unroll 8` a
    // 13-vector row kernel's accumulators lived on the stack (batch-1 predict 0.76x).
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();

    // The k loop, given where row i's element k lies.
    const auto multiply = [&](auto element) __attribute__((always_inline)) {
        for (int64_t k = 0; k < kc; ++k) {
            typename V::vec bv[NV];
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) bv[v] = V::load(b + k * BNV * V::width + v * V::width);
#pragma GCC unroll 16
            for (int i = 0; i < MR; ++i) {
                const typename V::vec av = V::set1(element(i, k));
#pragma GCC unroll 16
                for (int v = 0; v < NV; ++v) acc[i][v] = V::fma(av, bv[v], acc[i][v]);
            }
        }
    };
    const int64_t lda = a.col_stride;
    if (a.row_stride == 1 && m == MR) {
        // A k's MR elements side by side (packed panels, transposed matrices): one
        // pointer. Row pointers here cost a 2048^3 product 3%.
        const T* panel = a.data;
        multiply([panel, lda](int i, int64_t k) { return panel[k * lda + i]; });
    } else {
        // Rows past m repeat row m - 1, whose results are not stored: A may end at row m.
        const T* rows[MR];
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) rows[i] = a.data + (i < m ? i : m - 1) * a.row_stride;
        multiply([&rows, lda](int i, int64_t k) { return rows[i][k * lda]; });
    }

    if (m == MR && n == NR) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) {
                T* dst = c + i * ldc + v * V::width;
                V::store(dst, args.accumulate ? V::add(V::load(dst), acc[i][v]) : acc[i][v]);
            }
        }
        return;
    }
    // Edge tile: same sums, written through a buffer so nothing outside m x n is touched.
    // Unrolled like every other use of acc: a loop indexing it kept all of acc in memory,
    // zeroed before the k loop and stored after it, on every call (4% of a stock LSTM's
    // inference, whose products are only 50 deep).
    alignas(64) T tile[MR * NR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) V::store(tile + i * NR + v * V::width, acc[i][v]);
    store_tile(tile, NR, args);
}

// The kernel of MR rows x 2 vectors, with its variants for a partly filled panel
// (MR / 2 rows, MR even) and for a panel's first half of columns (one vector, from
// the same two-vector-wide packed B).
template <class V, int MR>
MicroKernel<typename V::scalar> full_microkernel(const char* name) {
    static_assert(MR % 2 == 0, "the half-row variant needs an even MR");
    return {MR,
            2 * V::width,
            &simd_microkernel<V, MR, 2>,
            name,
            &simd_microkernel<V, MR / 2, 2>,
            &simd_microkernel<V, MR, 1, 2>,
            &simd_microkernel<V, MR / 2, 1, 2>};
}

// The single-row kernels of 1, 2, ... vectors, at index vectors - 1.
template <class V, int... NV>
constexpr std::array<typename MicroKernel<typename V::scalar>::Fn, sizeof...(NV)> row_kernels(
    std::integer_sequence<int, NV...>) {
    return {&simd_microkernel<V, 1, NV + 1>...};
}

// A single-row kernel of as many vectors as cover `columns` (at least 2, at most
// MaxNV: 16 of AVX-512's 32 registers, 8 of AVX2's 16). One row has one FMA chain per
// column, so only several vectors at once keep both FMA units busy through the FMA
// latency; more vectors than the columns would only multiply padding. A batch-1 LSTM's
// four gates of 50 units take one call of 13 vectors (see sequence_forward).
template <class V, int MaxNV>
MicroKernel<typename V::scalar> row_microkernel(int64_t columns, const char* name) {
    constexpr auto table = row_kernels<V>(std::make_integer_sequence<int, MaxNV>{});
    const int64_t vectors = std::clamp<int64_t>((columns + V::width - 1) / V::width, 2, MaxNV);
    return {1, vectors * V::width, table[vectors - 1], name};
}

}  // namespace rnnkit::detail

// Defines an ISA's full<T>() and row<T>() (declared in microkernel.hpp, in namespace
// rnnkit::isa_namespace) from its float and double traits F32 and F64: the full kernel
// of MR rows, the single-row ones of at most MAX_NV vectors, named NAME.
#define RNNKIT_DEFINE_MICROKERNELS(isa_namespace, NAME, F32, F64, MR, MAX_NV) \
    namespace rnnkit::isa_namespace {                                         \
    template <class T>                                                        \
    using Vec = std::conditional_t<std::is_same_v<T, float>, F32, F64>;       \
    template <class T>                                                        \
    MicroKernel<T> full() {                                                   \
        return detail::full_microkernel<Vec<T>, MR>(NAME);                    \
    }                                                                         \
    template <class T>                                                        \
    MicroKernel<T> row(int64_t columns) {                                     \
        return detail::row_microkernel<Vec<T>, MAX_NV>(columns, NAME);        \
    }                                                                         \
    template MicroKernel<float> full<float>();                                \
    template MicroKernel<double> full<double>();                              \
    template MicroKernel<float> row<float>(int64_t);                          \
    template MicroKernel<double> row<double>(int64_t);                        \
    }
