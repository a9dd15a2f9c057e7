// Writing a finished accumulator tile into C, shared by every micro-kernel.
#pragma once

#include <cstdint>

#include "gemm/microkernel.hpp"

namespace rnnkit::detail {

// static: this header is compiled into files with different -m flags, and an
// inline function with external linkage would let the linker keep the AVX-512
// copy for everyone.
// IN acc: a row-major tile, rows nr apart; OUT into.c: its into.m x into.n top-left
// part, stored or added (into.accumulate).
template <class T>
static inline void store_tile(const T* acc, int64_t nr, const TileArgs<T>& into) {
    for (int64_t i = 0; i < into.m; ++i) {
        T* row = into.c + i * into.ldc;
        const T* src = acc + i * nr;
        if (into.accumulate) {
            for (int64_t j = 0; j < into.n; ++j) row[j] = row[j] + src[j];
        } else {
            for (int64_t j = 0; j < into.n; ++j) row[j] = src[j];
        }
    }
}

}  // namespace rnnkit::detail
