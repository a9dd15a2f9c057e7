// The input's share of each forward step's gates: b + x_t W_ih^T.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "common/prefetch.hpp"
#include "gemm/gemm.hpp"
#include "sequence/gate_tiles.hpp"
#include "sequence/rows.hpp"
#include "sequence/sequence.hpp"
#include "sequence/tiling.hpp"

namespace rnnkit {
// Internal linkage: helpers of the forward's translation unit, kept out of the others.
namespace {

// b_ih[n] + b_hh[n], the bias of gate row n that each step adds to x_t W_ih^T;
// gru's b_hn stays out: it is applied inside the reset gate's product,
// r * (W_hn h + b_hn).
template <class T>
T input_bias(const SequenceShape& s, const T* bias_ih, const T* bias_hh, int64_t n) {
    const bool inside_reset = s.cell == Cell::gru && n >= kGruNewGate * s.hidden;
    return inside_reset ? bias_ih[n] : bias_ih[n] + bias_hh[n];
}

// Where each step's tiles get b + x_t W_ih^T, the input's share of the gates.
//
// Fused (at least one full panel of several rows): each task computes it with
// the micro-kernel, onto the bias, from x where it lies and W_ih packed once per
// call. No (T, B, G*H) projection is written to memory and read back, and
// training's cache receives only the activations: predict ran 1.12-1.27x faster
// on the four benchmark workloads, a training epoch up to 1.06x (gru). Packing
// x's rows into panels first was 5% of the stock LSTM's predict.
//
// Projected (fewer rows than a full panel, or batch 1 with its single-row
// kernel): one GEMM over all B*T rows before the time loop. A step's product
// would stream all of W_ih for those few rows at every step (batch-1 predict
// took 17% longer); the GEMM reads it once for every row.
//
// Both add the same sums to the bias in the same depth blocks as the GEMM
// (kGemmDepthBlock): a sequence gets the same bits alone or in a batch.
template <class T>
class StepInputs {
  public:
    // Gate g of row r of a task's tile is at data + r * row_stride + g * gate_stride.
    struct Tile {
        const T* data;
        int64_t row_stride, gate_stride;
    };

    StepInputs(const SequenceShape& s, const ForwardArgs<T>& a, const RecurrentTiling& tiling,
               const GateTiles<T>& tiles, Execution run)
        : s_(s), tiling_(tiling), tiles_(tiles), fused_(tiling.mr > 1 && s.batch >= tiling.mr) {
        if (fused_) {
            x_ = a.x;
            weights_ = tiles.pack(a.weight_ih, s.input, run.n_threads);
            bias_row_ =
                tiles.pack_row([&](int64_t n) { return input_bias(s, a.bias_ih, a.bias_hh, n); });
            return;
        }
        // Training projects into the cache's gates, which each step's cell math then
        // overwrites row by row with the activations.
        const bool training = a.cache.gates != nullptr;
        projection_scratch_ =
            AlignedBuffer<T>(training || a.projection ? 0 : s.batch * s.steps * gh());
        projection_ = training       ? a.cache.gates
                      : a.projection ? a.projection
                                     : projection_scratch_.data();
        project(a, run);
    }

    // The tile that a thread's fused tasks compute into.
    int64_t scratch_size() const { return fused_ ? tiles_.size() : 0; }
    // What the time loop's steps read besides W_hh: the fused product's packed weights.
    int64_t step_weight_bytes() const { return int64_t(weights_.size() * sizeof(T)); }
    // The input product's depth in each step (0: projected before the loop).
    int64_t step_depth() const { return fused_ ? s_.input : 0; }

    // The input product of `task`'s tile at time t: computed into `scratch`, or
    // where the projection holds it. `t_next`: the time the same task handles
    // next (-1 for none), whose projection rows are prefetched.
    Tile at(int64_t t, int64_t t_next, int64_t task, T* scratch) const {
        const int64_t mr = tiling_.mr, b0 = tiling_.row0(task), I = s_.input;
        if (fused_) {
            // The tile's rows of x_t, read where the caller's (B, T, I) array has them.
            const T* x = x_ + (b0 * s_.steps + t) * I;
            // Rows a sequence apart: the next row panel's are asked for ahead.
            for (int64_t b = b0 + mr; b < std::min(b0 + 2 * mr, s_.batch); ++b)
                prefetch(x_ + (b * s_.steps + t) * I, I);
            const int64_t rows = tiling_.rows(task);
            tiles_.fill(bias_row_.data(), task, scratch, rows);
            for (int64_t k0 = 0; k0 < I; k0 += kGemmDepthBlock)
                tiles_.multiply({task, MatrixView<T>{x + k0, s_.steps * I, 1}, rows,
                                 weights_.data(), I, k0, std::min(kGemmDepthBlock, I - k0), scratch,
                                 /*accumulate=*/true});
            return {scratch, tiles_.row_stride(), tiles_.gate_stride()};
        }
        // The same rows of the next step's projection, while this one's cell math runs:
        // without it the cosine RNN's cell math waited on memory as long as its GEMM ran.
        const int64_t j0 = tiling_.col0(task), cols = tiling_.cols(task), GH = gh(), H = s_.hidden;
        if (t_next >= 0) {
            const T* next = projection_ + t_next * s_.batch * GH + j0;
            for (int64_t r = 0; r < tiling_.rows(task); ++r)
                for (int64_t g = 0; g < s_.gates(); ++g)
                    prefetch(next + (b0 + r) * GH + g * H, cols);
        }
        return {projection_ + (t * s_.batch + b0) * GH + j0, GH, H};
    }

  private:
    int64_t gh() const { return s_.gates() * s_.hidden; }

    // x W_ih^T + b for every step at once, step-major rows, into the projection.
    void project(const ForwardArgs<T>& a, Execution run) {
        const int n_threads = run.n_threads;
        const int64_t B = s_.batch, steps = s_.steps, I = s_.input, rows = B * steps, GH = gh();
        AlignedBuffer<T> x_steps(rows * I);
        swap_leading_axes(a.x, {B, steps, I}, x_steps.data(), n_threads);
        std::vector<T> bias(GH);
        for (int64_t n = 0; n < GH; ++n) bias[n] = input_bias(s_, a.bias_ih, a.bias_hh, n);
        parallel_for(n_threads, threads_for(n_threads, rows, rows * GH), rows,
                     [&](int64_t i) { copy_n(bias.data(), GH, projection_ + i * GH); });
        gemm<T>({rows, GH, I},
                {MatrixView<T>{x_steps.data(), I, 1}, MatrixView<T>{a.weight_ih, 1, I}, projection_,
                 GH, /*accumulate=*/true},
                run);
    }

    const SequenceShape& s_;
    const RecurrentTiling& tiling_;
    const GateTiles<T>& tiles_;
    bool fused_;
    const T* x_ = nullptr;
    AlignedBuffer<T> weights_, bias_row_, projection_scratch_;
    T* projection_ = nullptr;
};

}  // namespace
}  // namespace rnnkit
