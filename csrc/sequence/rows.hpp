// Row helpers that the layer's forward and backward time loops share.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "common/parallel.hpp"

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

// OUT dst (n1, n0, width) = IN src (n0, n1, width) with its two leading axes
// swapped: batch-first (B, T, .) to step-major (T, B, .) and back. Every buffer
// inside the kernels is step-major: a step reads and writes B contiguous rows
// instead of B rows a whole sequence apart (a cache and TLB miss each).
template <class T>
void swap_leading_axes(const T* src, int64_t n0, int64_t n1, int64_t width, T* dst, int n_threads) {
#pragma omp parallel for num_threads(threads_for(n_threads, n1, n0 * n1 * width)) schedule(static)
    for (int64_t i1 = 0; i1 < n1; ++i1)
        for (int64_t i0 = 0; i0 < n0; ++i0)
            copy_n(src + (i0 * n1 + i1) * width, width, dst + (i1 * n0 + i0) * width);
}

}  // namespace
}  // namespace rnnkit
