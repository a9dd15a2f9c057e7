// The GEMM micro-kernel interface and its run-time selection by CPU features.
//
// A micro-kernel computes one mr x nr tile of C from an A panel (kc x mr,
// k-major: packed, or read in place) and a packed B panel (kc x nr, k-major).
// Every kernel, whatever its ISA or tile size, computes each element of C the
// same way: one fused multiply-add chain over k = 0..kc-1 starting from 0, then
// stored or added to C. So results are identical across ISAs, tile positions
// and thread counts.
#pragma once

#include <cstdint>

namespace rnnkit {

enum class Isa { best, avx512, avx2, generic };

template <class T>
struct MicroKernel {
    // IN kc: depth; IN a, lda: A panel, its element (i, k) at a[k * lda + i] (lda = mr
    // packed; in place, the row stride of a row-major matrix whose transpose is A);
    // IN b: packed B panel; OUT c: tile with leading dimension ldc, of which only
    // m x n (<= mr x nr) is written; IN accumulate: add to c instead of overwriting it.
    using Fn = void (*)(int64_t kc, const T* a, int64_t lda, const T* b, T* c, int64_t ldc,
                        int64_t m, int64_t n, bool accumulate);
    int64_t mr;
    int64_t nr;
    Fn fn;
    const char* name;
    // fn for tiles of at most mr / 2 rows, with half the arithmetic, reading the same
    // mr-wide A panels (a batch's last, partly filled row panel), or nullptr.
    Fn half = nullptr;

    // The rows a tile of `rows` rows is computed as: mr, or mr / 2 where `half` can
    // take it.
    int64_t rows_for(int64_t rows) const { return half && 2 * rows <= mr ? mr / 2 : mr; }
    // A scratch tile of a packed panel with `rows` rows filled: all rows_for(rows) of
    // its rows written (padding included) by the kernel of that many rows.
    void tile(int64_t rows, int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t n,
              bool accumulate) const {
        const int64_t m = rows_for(rows);
        (m == mr ? fn : half)(kc, a, mr, b, c, ldc, m, n, accumulate);
    }
};

// The kernel for `isa`; Isa::best picks the widest one this CPU supports.
// Throws std::invalid_argument if `isa` is not supported by this CPU or build.
template <class T>
MicroKernel<T> select_microkernel(Isa isa = Isa::best);

// A kernel for a single row (mr = 1), with nr fitted to `columns` (it may be
// wider than the full kernel's): a product with one row of A (batch-1
// recurrences) then costs one row, not mr.
template <class T>
MicroKernel<T> select_row_microkernel(Isa isa, int64_t columns);

// The kernel for a product with `rows` rows of A and `columns` of C: a single
// row takes the single-row kernel fitted to the columns, anything else the full
// kernel.
template <class T>
MicroKernel<T> select_microkernel_for(Isa isa, int64_t rows, int64_t columns);

bool isa_supported(Isa isa);

// `isa` itself, or for Isa::best the widest ISA this CPU supports. Throws
// std::invalid_argument if `isa` is not supported by this CPU or build.
Isa resolve_isa(Isa isa);

// Per-ISA kernels (each defined in its own file, compiled for that ISA).
// The *_row variants are their single-row counterparts, sized for `columns`.
MicroKernel<float> microkernel_generic_f32();
MicroKernel<double> microkernel_generic_f64();
MicroKernel<float> microkernel_generic_row_f32(int64_t columns);
MicroKernel<double> microkernel_generic_row_f64(int64_t columns);
#ifdef RNNKIT_X86
MicroKernel<float> microkernel_avx2_f32();
MicroKernel<double> microkernel_avx2_f64();
MicroKernel<float> microkernel_avx2_row_f32(int64_t columns);
MicroKernel<double> microkernel_avx2_row_f64(int64_t columns);
MicroKernel<float> microkernel_avx512_f32();
MicroKernel<double> microkernel_avx512_f64();
MicroKernel<float> microkernel_avx512_row_f32(int64_t columns);
MicroKernel<double> microkernel_avx512_row_f64(int64_t columns);
#endif

}  // namespace rnnkit
