#include "gemm/pack.hpp"

#include <algorithm>

#include "common/prefetch.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace rnnkit {
namespace {

// dst[k * width + j] = src[j * row_stride + k] for j < rows, k < depth: the
// element by element transpose, for what the 4 x 4 blocks below leave over.
template <class T>
void transpose_scalar(const T* src, int64_t row_stride, int64_t rows, int64_t depth, T* dst,
                      int64_t width) {
    for (int64_t k = 0; k < depth; ++k)
        for (int64_t j = 0; j < rows; ++j) dst[k * width + j] = src[j * row_stride + k];
}

// The same for `rows` a multiple of 4 (float): 4 x 4 blocks transposed in SSE
// registers (x86-64's baseline), where the scalar loop took one load and one
// store per element and was most of a batch-1 layer call (mnist: 60 us of
// packing W_hh at every call).
template <class T>
int64_t transpose_blocks(const T*, int64_t, int64_t, int64_t, T*, int64_t) {
    return 0;
}

#if defined(__SSE2__)
template <>
int64_t transpose_blocks<float>(const float* src, int64_t row_stride, int64_t rows, int64_t depth,
                                float* dst, int64_t width) {
    const int64_t depth4 = depth / 4 * 4;
    for (int64_t k = 0; k < depth4; k += 4) {
        for (int64_t j = 0; j + 4 <= rows; j += 4) {
            const float* in = src + j * row_stride + k;
            __m128 r0 = _mm_loadu_ps(in), r1 = _mm_loadu_ps(in + row_stride);
            __m128 r2 = _mm_loadu_ps(in + 2 * row_stride), r3 = _mm_loadu_ps(in + 3 * row_stride);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float* out = dst + k * width + j;
            _mm_storeu_ps(out, r0);
            _mm_storeu_ps(out + width, r1);
            _mm_storeu_ps(out + 2 * width, r2);
            _mm_storeu_ps(out + 3 * width, r3);
        }
    }
    return depth4;
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
        const T* in = src.data + j0 * src.row_stride;
        T* out = dst + j0;
        const int64_t rows4 = count / 4 * 4;
        // Whole 4 x 4 blocks where there are any, then the leftover depth and rows.
        const int64_t done =
            rows4 ? transpose_blocks(in, src.row_stride, rows4, kc, out, width) : 0;
        transpose_scalar(in + done, src.row_stride, rows4, kc - done, out + done * width, width);
        transpose_scalar(in + rows4 * src.row_stride, src.row_stride, count - rows4, kc,
                         out + rows4, width);
    }
    if (n_valid < width)
        for (int64_t k = 0; k < kc; ++k)
            std::fill(dst + k * width + n_valid, dst + (k + 1) * width, T(0));
}

}  // namespace

template <class T>
void pack_panels(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst) {
    const int64_t panels = (n_valid + width - 1) / width;
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
        for (int64_t q = 0; q < panels; ++q) {
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

template void pack_panels<float>(MatrixView<float>, int64_t, int64_t, int64_t, float*);
template void pack_panels<double>(MatrixView<double>, int64_t, int64_t, int64_t, double*);

}  // namespace rnnkit
