// Threading helpers. Every parallel region in rnnkit splits output elements
// between threads and never a sum, so the thread count changes nothing in the
// results, bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define RNNKIT_HAS_MXCSR 1
#endif

namespace rnnkit {

// Number of threads worth starting for `n_tasks` independent tasks.
inline int threads_for(int n_threads, int64_t n_tasks) {
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n_threads, n_tasks)));
}

// Flushes denormals to zero for the lifetime of the guard, on the calling
// thread only (MXCSR is per thread): put one at the top of each parallel
// region. Denormals are far below anything a network resolves and can slow a
// step by 100x when a saturated gate produces them.
class DenormalGuard {
  public:
#ifdef RNNKIT_HAS_MXCSR
    DenormalGuard() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | 0x8040u); }  // FTZ | DAZ
    ~DenormalGuard() { _mm_setcsr(saved_); }

  private:
    unsigned int saved_;
#else
    DenormalGuard() = default;
#endif
  public:
    DenormalGuard(const DenormalGuard&) = delete;
    DenormalGuard& operator=(const DenormalGuard&) = delete;
};

}  // namespace rnnkit
