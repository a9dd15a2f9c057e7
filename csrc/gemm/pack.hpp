// Packing matrix blocks into the panels the micro-kernels read: kc x w,
// k-major, zero-padded to the panel width w (mr for A, nr for B), so the
// kernels run full tiles with unit-stride loads.
#pragma once

#include <cstdint>

#include "common/shapes.hpp"

namespace rnnkit {

// OUT dst(j, i) = IN src(i, j) for i < rows, j < cols: the transpose of a strided
// matrix, written row by row (one row is a copy).
template <class T>
void transpose(RowMajor<const T> src, int64_t rows, int64_t cols, RowMajor<T> dst);

// OUT panels q = 0, 1, ... of `width` columns each, at dst + q * width * kc:
// dst[q * width * kc + k * width + j] = src(q * width + j, k) for the n_valid
// columns, 0 in the padding of the last panel; IN src: viewed as (column j,
// depth k); kc: depth.
template <class T>
void pack_panels(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst);

}  // namespace rnnkit
