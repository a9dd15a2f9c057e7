#include "gemm/pack.hpp"

#include <algorithm>

namespace rnnkit {

template <class T>
void pack_panel(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst) {
    if (src.col_stride == 1 && src.row_stride != 1) {
        // Depth is contiguous (rows of W_hh, of h or of d_gates): a transpose.
        // A group of rows is read side by side, front to back, so that each k
        // writes one whole cache line of the panel; one column at a time would
        // touch a line per element, and a wide panel (128 floats) would not
        // stay in L1 between the columns.
        constexpr int64_t group = 64 / sizeof(T);
        for (int64_t j0 = 0; j0 < n_valid; j0 += group) {
            const int64_t count = std::min(group, n_valid - j0);
            const T* in = src.data + j0 * src.row_stride;
            for (int64_t k = 0; k < kc; ++k) {
                T* out = dst + k * width + j0;
                for (int64_t j = 0; j < count; ++j) out[j] = in[j * src.row_stride + k];
            }
        }
        if (n_valid < width)
            for (int64_t k = 0; k < kc; ++k)
                std::fill(dst + k * width + n_valid, dst + (k + 1) * width, T(0));
        return;
    }
    for (int64_t k = 0; k < kc; ++k) {
        T* out = dst + k * width;
        const T* in = src.data + k * src.col_stride;
        if (src.row_stride == 1) {
            for (int64_t j = 0; j < n_valid; ++j) out[j] = in[j];
        } else {
            for (int64_t j = 0; j < n_valid; ++j) out[j] = in[j * src.row_stride];
        }
        for (int64_t j = n_valid; j < width; ++j) out[j] = T(0);
    }
}

template void pack_panel<float>(MatrixView<float>, int64_t, int64_t, int64_t, float*);
template void pack_panel<double>(MatrixView<double>, int64_t, int64_t, int64_t, double*);

}  // namespace rnnkit
