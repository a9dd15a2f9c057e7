// The GEMM micro-kernel interface and its run-time selection by CPU features.
//
// A micro-kernel computes one mr x nr tile of C from mr rows of A (kc deep, any
// strides: a packed panel, or a matrix read where it lies) and a packed B panel
// (kc x nr, k-major).
// Every kernel, whatever its ISA or tile size, computes each element of C the
// same way: one fused multiply-add chain over k = 0..kc-1 starting from 0, then
// stored or added to C. So results are identical across ISAs, tile positions
// and thread counts.
#pragma once

#include <cstdint>

#include "common/shapes.hpp"

namespace rnnkit {

enum class Isa { best, avx512, avx2, neon, generic };

// How to run a call: OpenMP threads, and the instruction set of the GEMM and the
// cell math (Isa::best: the widest this CPU has). Neither changes any result.
struct Execution {
    int n_threads;
    Isa isa = Isa::best;
};

// One tile's product, as a micro-kernel reads and writes it.
template <class T>
struct TileArgs {
    int64_t kc;       // IN: the depth
    MatrixView<T> a;  // IN: A's rows, element (i, k) at a.at(i, k) (a packed panel is
                      // {panel, 1, mr}); only its first m rows are read
    const T* b;       // IN: the packed B panel (kc x nr, k-major)
    T* c;             // OUT: the tile, rows ldc apart, of which only m x n is written
    int64_t ldc;
    int64_t m, n;     // rows and columns of the tile (<= mr, nr)
    bool accumulate;  // IN: add to c instead of overwriting it
};

template <class T>
struct MicroKernel {
    using Fn = void (*)(const TileArgs<T>& args);
    int64_t mr;
    int64_t nr;
    Fn fn;
    const char* name;
    // fn for tiles of at most mr / 2 rows, with half the arithmetic (a batch's last,
    // partly filled row panel), or nullptr.
    Fn half = nullptr;
    // fn and half for tiles of at most nr / 2 columns, from the same nr-wide packed B
    // panels, or nullptr: the last block of 200 hidden units has 8 of its 32 columns.
    Fn narrow = nullptr;
    Fn narrow_half = nullptr;

    // A tile of m <= mr rows and n <= nr columns: by the variant with the least
    // arithmetic that covers it.
    void tile(const TileArgs<T>& args) const {
        const bool few_rows = half && 2 * args.m <= mr, few_columns = narrow && 2 * args.n <= nr;
        const Fn f = few_columns ? (few_rows ? narrow_half : narrow) : (few_rows ? half : fn);
        f(args);
    }

    // The columns to ask of tile() for `columns` valid ones in a scratch tile with room
    // for nr: the narrow kernels' whole width where they serve, else nr. Whole widths
    // are stored straight from the registers, where fewer go through the edge path.
    int64_t scratch_columns(int64_t columns) const {
        return narrow && 2 * columns <= nr ? nr / 2 : nr;
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

// Per-ISA kernels, one namespace each, defined in its own file compiled for that ISA
// (as the cells are: cells/cell.hpp): full<T>() is the mr x nr kernel, row<T>(columns)
// its single-row counterpart sized for `columns`.
#define RNNKIT_DECLARE_MICROKERNELS(isa_namespace) \
    namespace isa_namespace {                      \
    template <class T>                             \
    MicroKernel<T> full();                         \
    template <class T>                             \
    MicroKernel<T> row(int64_t columns);           \
    }

RNNKIT_DECLARE_MICROKERNELS(microkernels_generic)
#ifdef RNNKIT_X86
RNNKIT_DECLARE_MICROKERNELS(microkernels_avx2)
RNNKIT_DECLARE_MICROKERNELS(microkernels_avx512)
#endif
#ifdef RNNKIT_NEON
RNNKIT_DECLARE_MICROKERNELS(microkernels_neon)
#endif
#undef RNNKIT_DECLARE_MICROKERNELS

}  // namespace rnnkit
