// Threading helpers. Every parallel region in rnnkit splits output elements
// between threads and never a sum, so the thread count changes nothing in the
// results, bit for bit.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

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

// Threads worth putting to work (run_workers' `workers`) on `n_tasks` independent tasks
// that do `work` in total between two synchronizations; at most `n_threads`.
inline int threads_for(int n_threads, int64_t n_tasks, int64_t work) {
    const int64_t by_work = std::max<int64_t>(1, work / kMinWorkPerThread);
    return static_cast<int>(std::max<int64_t>(1, std::min({int64_t(n_threads), n_tasks, by_work})));
}

// A worker's run [begin, end) of a region's items.
struct Share {
    int64_t begin, end;
};

// A spin-wait's pause between two looks at a shared flag: it lets the core's other
// hardware thread run and saves power.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

// The barrier of a region's workers (below), who may be fewer than its team: OpenMP's
// `omp barrier` would hold the idle threads too, at every step of a time loop. A waiter
// spins a while (a step's barrier waits microseconds), then sleeps until the last one
// arrives, as OpenMP's barrier does: a worker that lost its core to another process (more
// threads than cores, or a busy machine) then gets a core back instead of waiting
// behind waiters that spin.
class WorkerBarrier {
  public:
    // Returns when all `count` workers have called it (the same count for all).
    void wait(int count) {
        // Read before arriving: the last arrival moves the generation on.
        const uint32_t generation = generation_.load(std::memory_order_relaxed);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count) {
            arrived_.store(0, std::memory_order_relaxed);
            {
                // Under the lock: a waiter going to sleep either sees the new generation
                // or is counted in sleepers_ before it is read below.
                std::lock_guard<std::mutex> lock(mutex_);
                generation_.store(generation + 1, std::memory_order_release);
            }
            if (sleepers_.load(std::memory_order_relaxed) > 0) woken_.notify_all();
            return;
        }
        const auto passed = [&] {
            return generation_.load(std::memory_order_acquire) != generation;
        };
        for (int looks = 0; looks < kSpins; ++looks) {
            if (passed()) return;
            cpu_relax();
        }
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1, std::memory_order_relaxed);
        woken_.wait(lock, passed);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }

  private:
    static constexpr int kSpins = 1 << 10;
    alignas(64) std::atomic<int> arrived_{0};
    alignas(64) std::atomic<uint32_t> generation_{0};
    std::atomic<int> sleepers_{0};
    std::mutex mutex_;
    std::condition_variable woken_;
};

// One of the threads that do a region's work: its index among them, their count,
// and their barrier.
struct Worker {
    int index, count;
    WorkerBarrier* barrier;

    // This worker's run of `items` split evenly between the workers.
    Share share(int64_t items) const {
        return {items * index / count, items * (index + 1) / count};
    }
    // Waits for every worker of the region.
    void sync() const { barrier->wait(count); }
};

// Runs body(worker) on `workers` threads: a team of n_threads of which the first
// `workers` work, or the calling thread alone when workers is 1.
//
// Every region asks OpenMP for the same team, the caller's n_threads, whatever its work:
// libgomp ends the threads of its pool that a region leaves out and starts new ones when
// a later region asks for more, so regions of different sizes in turn (a GEMM on all of
// 16 threads, then a time loop on 4) created threads all the time (on 16 threads, 58
// per training step of the stock LSTM and 74 of mnist's). The threads left out go
// straight to the end of the region. OpenMP may give fewer threads than asked
// (OMP_THREAD_LIMIT, a region inside another): then fewer work, and every item is
// still done.
template <class Body>
void run_workers(int n_threads, int workers, Body&& body) {
    WorkerBarrier barrier;
    if (workers <= 1) {
        body(Worker{0, 1, &barrier});
        return;
    }
#pragma omp parallel num_threads(n_threads)
    {
        const int count = std::min(workers, team_size()), index = thread_index();
        if (index < count) body(Worker{index, count, &barrier});
    }
}

// Calls body(i) for every i in [0, count) on `workers` threads (run_workers), each a
// contiguous run.
template <class Body>
void parallel_for(int n_threads, int workers, int64_t count, Body&& body) {
    run_workers(n_threads, workers, [&](const Worker& worker) {
        const Share run = worker.share(count);
        for (int64_t i = run.begin; i < run.end; ++i) body(i);
    });
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
