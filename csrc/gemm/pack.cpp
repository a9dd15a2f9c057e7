#include "gemm/pack.hpp"

namespace rnnkit {

template <class T>
void pack_panel(MatrixView<T> src, int64_t kc, int64_t n_valid, int64_t width, T* dst) {
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
