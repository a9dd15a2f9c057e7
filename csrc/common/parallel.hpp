// Threading helpers. Every parallel region in rnnkit splits output elements
// between threads and never a sum, so the thread count changes nothing in the
// results, bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/openmp.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define RNNKIT_HAS_MXCSR 1
#endif

namespace rnnkit {

// Work (multiply-adds or element copies) a thread must get between two
// synchronizations to be worth starting: a few microseconds (2^17 multiply-adds
// take about 2 us on one AVX-512 core). Below it a fork, join or barrier costs
// more than it saves (batch-1 predict of the stock LSTM ran 20% slower on two
// threads than on one with 2^15), and far more on cores shared with other
// processes, where a thread waiting at a barrier can lose a time slice.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 17;

// Threads worth starting for `n_tasks` independent tasks that do `work` in
// total between two synchronizations; at most `n_threads`.
inline int threads_for(int n_threads, int64_t n_tasks, int64_t work) {
    const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerThread);
    return static_cast<int>(std::max<int64_t>(1, std::min({int64_t(n_threads), n_tasks, by_work})));
}

// The calling thread's run [begin, end) of `count` items split evenly over its
// team. Inside a parallel region: the team is the one OpenMP gave, which may be
// smaller than asked for (OMP_THREAD_LIMIT, nesting), so no item is left out.
struct TeamShare {
    int64_t begin, end;
};

inline TeamShare team_share(int64_t count) {
    const int thread = thread_index(), team = team_size();
    return {count * thread / team, count * (thread + 1) / team};
}

// Flushes denormals to zero for the lifetime of the guard, on the calling
// thread only (MXCSR is per thread): one at the top of each parallel region that
// computes the layers' products and cell math (the time loop, the GEMM, the thin
// weight gradients). Denormals are far below anything a network resolves and can
// slow a step by 100x when a saturated gate produces them. The optimizer and
// dropout keep them, as torch's do: a float32 Adam moment of 1e-40 is a real one.
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
