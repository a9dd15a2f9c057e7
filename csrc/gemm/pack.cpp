#include "gemm/pack.hpp"

#include <algorithm>

namespace rnnkit {

template <class T>
void pack_panel(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst) {
    if (src.col_stride == 1 && src.row_stride != 1) {
        // Depth is contiguous (rows of h or of d_gates): read each row once,
        // front to back, and scatter it into the panel's column.
        for (int64_t j = 0; j < n_valid; ++j) {
            const T* in = src.data + j * src.row_stride;
            for (int64_t k = 0; k < kc; ++k) dst[k * width + j] = in[k];
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
