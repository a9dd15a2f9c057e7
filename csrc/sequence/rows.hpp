// Row helpers that the layer's forward and backward time loops share.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "common/prefetch.hpp"
#include "gemm/pack.hpp"
#include "sequence/sequence.hpp"

namespace rnnkit {
// Internal linkage: included by the forward's and the backward's translation units.
namespace {

// Keeps each thread's slice of a scratch buffer on its own cache lines.
int64_t pad_to_line(int64_t count) { return (count + 15) / 16 * 16; }

bool is_valid(const int64_t* lengths, int64_t b, int64_t t) {
    return lengths == nullptr || t < lengths[b];
}

template <class T>
void copy_n(const T* src, int64_t n, T* dst) {
    std::copy(src, src + n, dst);
}

// The extents of a C-contiguous (n0, n1, width) array.
struct Extents3 {
    int64_t n0, n1, width;
};

// OUT dst (n1, n0, width) = IN src (n0, n1, width) with its two leading axes
// swapped: batch-first (B, T, .) to step-major (T, B, .) and back. Every buffer
// inside the kernels is step-major: a step reads and writes B contiguous rows
// instead of B rows a whole sequence apart (a cache and TLB miss each).
template <class T>
void swap_leading_axes(const T* src, const Extents3& e, T* dst, int n_threads) {
    parallel_for(
        n_threads, threads_for(n_threads, e.n1, e.n0 * e.n1 * e.width), e.n1, [&](int64_t i1) {
            for (int64_t i0 = 0; i0 < e.n0; ++i0)
                copy_n(src + (i0 * e.n1 + i1) * e.width, e.width, dst + (i1 * e.n0 + i0) * e.width);
        });
}

// `count` panels of depth x width, packed side by side once per call by the threads
// in turn: panel q packs the (view, valid columns) pair `source(q)` gives (a block of
// W_hh or W_ih for the forward's products, of W_hh transposed for the backward's).
template <class T, class Source>
AlignedBuffer<T> pack_panels_parallel(int64_t count, int64_t depth, int64_t width, int n_threads,
                                      Source&& source) {
    const int64_t size = depth * width;
    AlignedBuffer<T> packed(count * size);
    parallel_for(n_threads, threads_for(n_threads, count, count * size), count, [&](int64_t q) {
        const std::pair<MatrixView<T>, int64_t> panel = source(q);
        pack_panels(panel.first, depth, panel.second, width, packed.data() + q * size);
    });
    return packed;
}

// Asks for a later step's cache rows of units [j0, j0 + cols) of row `tb` (t * B + b):
// its gates and aux, which the time loop writes (forward) or reads and overwrites
// (backward) there.
template <class T>
void prefetch_cache_row(const SequenceShape& s, const SequenceCache<T>& cache, int64_t tb,
                        int64_t j0, int64_t cols) {
    const int64_t H = s.hidden, GH = s.gates() * H;
    for (int64_t g = 0; g < s.gates(); ++g) prefetch(cache.gates + tb * GH + g * H + j0, cols);
    if (cache.aux) prefetch(cache.aux + tb * H + j0, cols);
}

}  // namespace
}  // namespace rnnkit
