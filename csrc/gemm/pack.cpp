#include "gemm/pack.hpp"

#include <algorithm>

#include "common/prefetch.hpp"
#include "common/shapes.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rnnkit {
namespace {

// transpose's element by element part, for what the 4 x 4 blocks leave over.
// Each output row is written front to back.
template <class T>
void transpose_scalar(RowMajor<const T> src, int64_t rows, int64_t cols, RowMajor<T> dst) {
    for (int64_t j = 0; j < cols; ++j)
        for (int64_t i = 0; i < rows; ++i) dst.data[j * dst.ld + i] = src.data[i * src.ld + j];
}

// transpose of the leading `rows` (a multiple of 4) x `cols / 4 * 4` in 4 x 4
// blocks in SSE registers (x86-64's baseline), where the scalar loop took one
// load and one store per element and was most of a batch-1 layer call (mnist:
// 60 us of packing W_hh at every call). Returns the columns done: 0 where there
// are no such blocks (double, other targets).
template <class T>
int64_t transpose_blocks(RowMajor<const T>, int64_t, int64_t, RowMajor<T>) {
    return 0;
}

#if defined(__SSE2__)
template <>
int64_t transpose_blocks<float>(RowMajor<const float> src_rows, int64_t rows, int64_t cols,
                                RowMajor<float> dst_rows) {
    const float* src = src_rows.data;
    float* dst = dst_rows.data;
    const int64_t ld_src = src_rows.ld, ld_dst = dst_rows.ld, cols4 = cols / 4 * 4;
    for (int64_t j = 0; j < cols4; j += 4) {
        for (int64_t i = 0; i < rows; i += 4) {
            const float* in = src + i * ld_src + j;
            __m128 r0 = _mm_loadu_ps(in), r1 = _mm_loadu_ps(in + ld_src);
            __m128 r2 = _mm_loadu_ps(in + 2 * ld_src), r3 = _mm_loadu_ps(in + 3 * ld_src);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float* out = dst + j * ld_dst + i;
            _mm_storeu_ps(out, r0);
            _mm_storeu_ps(out + ld_dst, r1);
            _mm_storeu_ps(out + 2 * ld_dst, r2);
            _mm_storeu_ps(out + 3 * ld_dst, r3);
        }
    }
    return cols4;
}
#endif

// The transpose of one panel: depth is contiguous (rows of W_hh, of h or of
// d_gates). A group of rows is read side by side, front to back, so that each
// k writes one whole cache line of the panel; one column at a time would touch
// a line per element, and a wide panel (128 floats) would not stay in L1
// between the columns.
template <class T>
void pack_transposed(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst) {
    constexpr int64_t group = 64 / sizeof(T);
    for (int64_t j0 = 0; j0 < n_valid; j0 += group) {
        const int64_t count = std::min(group, n_valid - j0);
        transpose<T>({src.data + j0 * src.row_stride, src.row_stride}, count, kc,
                     {dst + j0, width});
    }
    if (n_valid < width)
        for (int64_t k = 0; k < kc; ++k)
            std::fill(dst + k * width + n_valid, dst + (k + 1) * width, T(0));
}

// OUT one k's slice of `full` whole panels of W columns, panel q's at out.data + q *
// out.ld (dst + k * W and W * kc in pack_panels' terms) = IN the contiguous elements
// in[0, full * W). W fixed at compile time: the copy of a panel's slice is a few
// whole vector moves, where a loop to a run-time width took twice as long per
// element (the weight gradients' packing of d_gates and h).
template <class T, int64_t W>
int64_t copy_full(const T* in, int64_t full, RowMajor<T> out) {
    for (int64_t q = 0; q < full; ++q) {
        T* __restrict to = out.data + q * out.ld;
        const T* __restrict from = in + q * W;
        for (int64_t j = 0; j < W; ++j) to[j] = from[j];
    }
    return full;
}

// copy_full for the micro-kernels' panel widths; returns the panels done (0 for
// another width, left to the general loop).
template <class T>
int64_t copy_whole_panels(const T* in, int64_t full, int64_t width, RowMajor<T> out) {
    switch (width) {
        case 4:
            return copy_full<T, 4>(in, full, out);
        case 6:
            return copy_full<T, 6>(in, full, out);
        case 8:
            return copy_full<T, 8>(in, full, out);
        case 16:
            return copy_full<T, 16>(in, full, out);
        case 32:
            return copy_full<T, 32>(in, full, out);
        default:
            return 0;
    }
}

}  // namespace

template <class T>
void transpose(RowMajor<const T> src, int64_t rows, int64_t cols, RowMajor<T> dst) {
    if (rows == 1 && dst.ld == 1) {  // a row into a column of unit stride: a copy
        std::copy(src.data, src.data + cols, dst.data);
        return;
    }
    const int64_t rows4 = rows / 4 * 4;
    // Whole 4 x 4 blocks where there are any, then the leftover columns and rows.
    const int64_t done = rows4 ? transpose_blocks(src, rows4, cols, dst) : 0;
    transpose_scalar<T>({src.data + done, src.ld}, rows4, cols - done,
                        {dst.data + done * dst.ld, dst.ld});
    transpose_scalar<T>({src.data + rows4 * src.ld, src.ld}, rows - rows4, cols,
                        {dst.data + rows4, dst.ld});
}

template <class T>
void pack_panels(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst) {
    const int64_t panels = ceil_div(n_valid, width);
    if (src.col_stride == 1 && src.row_stride != 1) {
        for (int64_t q = 0; q < panels; ++q)
            pack_transposed(MatrixView<T>{src.data + q * width * src.row_stride, src.row_stride, 1},
                            kc, std::min(width, n_valid - q * width), width, dst + q * width * kc);
        return;
    }
    // Each k's slice of all the panels at once: the source is read row after
    // row, a stream the hardware prefetchers follow, where one panel at a time
    // would take a short slice of every row (of d_gates and h in the weight
    // gradients), a stride they lose at every page. The rows a few k ahead are
    // asked for as well, for slices narrower than a page.
    constexpr int64_t ahead = 8;
    const int64_t last = (n_valid - 1) * src.row_stride;
    for (int64_t k = 0; k < kc; ++k) {
        const T* in = src.data + k * src.col_stride;
        if (k + ahead < kc) {
            const T* later = in + ahead * src.col_stride;
            if (src.row_stride == 1) {
                prefetch(later, n_valid);
            } else {  // a strided slice: its first and last elements
                prefetch(later, 1);
                prefetch(later + last, 1);
            }
        }
        int64_t q = src.row_stride == 1 ? copy_whole_panels<T>(in, n_valid / width, width,
                                                               {dst + k * width, width * kc})
                                        : 0;
        for (; q < panels; ++q) {
            T* out = dst + q * width * kc + k * width;
            const T* from = in + q * width * src.row_stride;
            const int64_t n = std::min(width, n_valid - q * width);
            if (src.row_stride == 1) {
                for (int64_t j = 0; j < n; ++j) out[j] = from[j];
            } else {
                for (int64_t j = 0; j < n; ++j) out[j] = from[j * src.row_stride];
            }
            for (int64_t j = n; j < width; ++j) out[j] = T(0);
        }
    }
}

template void transpose<float>(RowMajor<const float>, int64_t, int64_t, RowMajor<float>);
template void transpose<double>(RowMajor<const double>, int64_t, int64_t, RowMajor<double>);
template void pack_panels<float>(MatrixView<float>, int64_t, int64_t, int64_t, float*);
template void pack_panels<double>(MatrixView<double>, int64_t, int64_t, int64_t, double*);

}  // namespace rnnkit
