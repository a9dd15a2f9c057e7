// Threading helpers. Every parallel region in rnnkit splits output elements
// between threads and never a sum, so the thread count changes nothing in the
// results, bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/openmp.hpp"

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
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

// The calling thread's floating-point control register, and its bits that flush
// denormal inputs and results to zero: x86-64's MXCSR (DAZ | FTZ) and AArch64's FPCR
// (FZ, which flushes both). The same flushing on both gives the same bits: the
// portable kernels' results on ARM are identical to x86's generic ones. Other
// targets have no flush (kFlush 0) and keep denormals.
namespace fp_control {
#if defined(__x86_64__) || defined(_M_X64)
using Word = unsigned int;
constexpr Word kFlush = 0x8040u;
inline Word read() { return _mm_getcsr(); }
inline void write(Word word) { _mm_setcsr(word); }
#elif defined(__aarch64__)
using Word = uint64_t;
constexpr Word kFlush = Word(1) << 24;
inline Word read() {
    Word word;
    __asm__ volatile("mrs %0, fpcr" : "=r"(word));
    return word;
}
inline void write(Word word) { __asm__ volatile("msr fpcr, %0" : : "r"(word)); }
#else
using Word = unsigned int;
constexpr Word kFlush = 0;
inline Word read() { return 0; }
inline void write(Word) {}
#endif
}  // namespace fp_control

// Flushes denormals to zero for the lifetime of the guard, on the calling
// thread only (the control register is per thread): one at the top of each parallel
// region that computes the layers' products and cell math (the time loop, the GEMM,
// the thin weight gradients). Denormals are far below anything a network resolves
// and can slow a step by 100x when a saturated gate produces them. The optimizer and
// dropout keep them, as torch's do: a float32 Adam moment of 1e-40 is a real one.
class DenormalGuard {
  public:
    DenormalGuard() : saved_(fp_control::read()) {
        if (fp_control::kFlush) fp_control::write(saved_ | fp_control::kFlush);
    }
    ~DenormalGuard() {
        if (fp_control::kFlush) fp_control::write(saved_);
    }
    DenormalGuard(const DenormalGuard&) = delete;
    DenormalGuard& operator=(const DenormalGuard&) = delete;

  private:
    fp_control::Word saved_;
};

}  // namespace rnnkit
