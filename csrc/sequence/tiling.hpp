// How a layer's time loop cuts each step's product into tasks (RecurrentTiling) and
// shares them between threads (StepSchedule).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/openmp.hpp"
#include "common/parallel.hpp"
#include "common/shapes.hpp"
#include "gemm/microkernel.hpp"

namespace rnnkit {
// Internal linkage: included by the forward's and the backward's translation units.
namespace {

// The kernel of a time loop's per-step product onto `columns` units (`work`
// multiply-adds a step): the full tile for a batch of rows; for batch 1 a single-row
// kernel as wide as the units each of the step's threads takes, so that a thread's
// step is as few calls as it can be while two or more threads still get a block each
// (mnist's 256 units in one 16-vector block would leave the second thread idle).
template <class T>
MicroKernel<T> step_kernel(Isa isa, int64_t batch, int64_t columns, int64_t work, int n_threads) {
    if (batch > 1) return select_microkernel<T>(isa);
    return select_row_microkernel<T>(isa, ceil_div(columns, threads_for(n_threads, columns, work)));
}

// Output tiles of the per-step GEMM: batch row panels x blocks of hidden
// units. A block owns every gate of its units, so the cell math on a tile
// needs nothing from other tiles and runs while the tile is in cache.
// Tasks are numbered block-major: a static schedule then hands each thread
// the same hidden blocks at every step, so its slice of the packed W_hh stays
// in its own L2 instead of every thread streaming all of W_hh each step.
class RecurrentTiling {
  public:
    int64_t batch, hidden, mr, nr, hidden_blocks, row_panels = 0;

    RecurrentTiling(int64_t batch_, int64_t hidden_, int64_t mr_, int64_t nr_)
        : batch(batch_), hidden(hidden_), mr(mr_), nr(nr_), hidden_blocks(ceil_div(hidden_, nr_)) {
        split_rows(1);
    }

    // Cuts the batch into `groups` runs of rows as even as possible, each into
    // panels of mr rows from its start (the last one of a run may have fewer):
    // the time loop's threads each own a run when they own rows. Whole panels
    // shared out gave one thread a full panel more whenever their count was odd:
    // 104 rows (13 panels) went 7 / 6 to two threads, and now 52 / 52, six panels
    // and one of 4 rows (the half-row kernel) each: an LSTM's predict 1.06x, an
    // RNN's 1.05x. A row's products and cell math do not depend on its panel:
    // the same bits.
    void split_rows(int64_t groups) {
        group_panel_.assign(1, 0);
        panel_row0_.clear();
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t begin = batch * g / groups, end = batch * (g + 1) / groups;
            for (int64_t b = begin; b < end; b += mr) panel_row0_.push_back(b);
            group_panel_.push_back(static_cast<int64_t>(panel_row0_.size()));
        }
        row_panels = group_panel_.back();
        panel_row0_.push_back(batch);
    }

    int64_t groups() const { return static_cast<int64_t>(group_panel_.size()) - 1; }
    // The row panels [first, last) of group `g`.
    int64_t first_panel(int64_t g) const { return group_panel_[g]; }
    int64_t tasks() const { return row_panels * hidden_blocks; }
    int64_t panel(int64_t task) const { return task % row_panels; }
    int64_t block(int64_t task) const { return task / row_panels; }
    int64_t row0(int64_t task) const { return panel_row0_[panel(task)]; }
    int64_t col0(int64_t task) const { return block(task) * nr; }
    int64_t rows(int64_t task) const {
        return std::min(mr, panel_row0_[panel(task) + 1] - row0(task));
    }
    int64_t cols(int64_t task) const { return std::min(nr, hidden - col0(task)); }

  private:
    std::vector<int64_t> panel_row0_;   // each panel's first row, then the batch size
    std::vector<int64_t> group_panel_;  // each group's first panel, then the panel count
};

// Packed recurrent weights up to kSharedWeightBytes are read by every thread at
// every step; above it each thread keeps to its own hidden blocks so that its
// share stays in its L2 (1 MiB on current x86 server cores, less on many laptops)
// and the threads meet at every step. Few threads may still all read weights
// from L3 while their sum stays within kAllThreadsWeightBytes: mnist's layers (1
// and 2 MiB) on 2 threads then skip the per-step barrier, where one thread losing
// its core stalled the other (predict 1.06x, fit 1.03-1.05x). From 8 threads on
// the first limit is the larger.
constexpr int64_t kSharedWeightBytes = int64_t(512) << 10;
constexpr int64_t kAllThreadsWeightBytes = int64_t(4) << 20;

// How the threads share a time loop of `tiling`'s tasks.
//
// When the row panels split evenly between the threads, each thread owns whole
// panels at every step: a row's step reads only the same row's previous step,
// done by the same thread, so the loop needs no barrier at all. That also keeps
// a thread that loses its core to another process from stalling the others at
// every step. Otherwise (few rows: small batches, batch-1 latency; or weights
// too large for every thread to read) each step's tiles are shared out, hidden
// blocks included, and a barrier ends each step.
struct StepSchedule {
    int threads;
    bool by_rows;

    StepSchedule(const RecurrentTiling& tiling, int n_threads, int64_t work_per_step, int64_t steps,
                 int64_t weight_bytes) {
        const int64_t panels = tiling.row_panels;
        const int by_tiles = threads_for(n_threads, tiling.tasks(), work_per_step);
        const int rows_threads = threads_for(n_threads, panels, work_per_step * steps);
        // At most 1/8 more panels on the busiest thread than on the average one.
        const int64_t busiest = ceil_div(panels, rows_threads);
        by_rows = rows_threads >= by_tiles && 8 * busiest * rows_threads <= 9 * panels &&
                  (weight_bytes <= kSharedWeightBytes ||
                   weight_bytes * rows_threads <= kAllThreadsWeightBytes);
        threads = by_rows ? rows_threads : by_tiles;
    }

    // The row groups `tiling` is to be split into (RecurrentTiling::split_rows)
    // before run(): one per thread when threads own rows.
    int64_t row_groups() const { return by_rows ? threads : 1; }

    // Calls body(step, task, thread) for every step in order and every task of
    // `tiling` at each step, from `threads` workers of a team of n_threads (run_workers),
    // denormals flushed.
    template <class Body>
    void run(const RecurrentTiling& tiling, int64_t steps, int n_threads, Body&& body) const {
        run_workers(n_threads, threads, [&](const Worker& worker) {
            DenormalGuard denormals;
            if (by_rows) {
                const Share groups = worker.share(tiling.groups());
                const int64_t p0 = tiling.first_panel(groups.begin);
                const int64_t p1 = tiling.first_panel(groups.end);
                // Panels innermost: a block of weights serves all of them in turn.
                for (int64_t step = 0; step < steps; ++step)
                    for (int64_t jb = 0; jb < tiling.hidden_blocks; ++jb)
                        for (int64_t p = p0; p < p1; ++p)
                            body(step, jb * tiling.row_panels + p, worker.index);
            } else {
                // The same tasks at every step (see RecurrentTiling).
                const Share tasks = worker.share(tiling.tasks());
                for (int64_t step = 0; step < steps; ++step) {
                    for (int64_t task = tasks.begin; task < tasks.end; ++task)
                        body(step, task, worker.index);
                    worker.sync();
                }
            }
        });
    }
};

}  // namespace
}  // namespace rnnkit
