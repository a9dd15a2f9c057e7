// Writing a finished accumulator tile into C, shared by every micro-kernel.
#pragma once

#include <cstdint>

namespace rnnkit::detail {

// static: this header is compiled into files with different -m flags, and an
// inline function with external linkage would let the linker keep the AVX-512
// copy for everyone.
// IN acc: mr x nr row-major tile; OUT c: its m x n top-left part, stored or added.
template <class T>
static inline void store_tile(const T* acc, int64_t nr, T* c, int64_t ldc, int64_t m, int64_t n,
                              bool accumulate) {
    for (int64_t i = 0; i < m; ++i) {
        T* row = c + i * ldc;
        const T* src = acc + i * nr;
        if (accumulate) {
            for (int64_t j = 0; j < n; ++j) row[j] = row[j] + src[j];
        } else {
            for (int64_t j = 0; j < n; ++j) row[j] = src[j];
        }
    }
}

}  // namespace rnnkit::detail
