// Software prefetch of memory a kernel will read or write soon.
#pragma once

#include <cstdint>

namespace rnnkit {

// Asks for the cache lines of [p, p + n) ahead of their use. For short rows of
// large matrices read a stride apart, a pattern the hardware prefetchers lose
// at each page: the rows of the step-major buffers in the time loops, the
// slices of d_gates and h that GEMM packing takes from each row.
template <class T>
inline void prefetch(const T* p, int64_t n) {
    constexpr uintptr_t line = 64;
    const uintptr_t end = reinterpret_cast<uintptr_t>(p + n);
    for (uintptr_t at = reinterpret_cast<uintptr_t>(p) & ~(line - 1); at < end; at += line)
        __builtin_prefetch(reinterpret_cast<const void*>(at));
}

}  // namespace rnnkit
