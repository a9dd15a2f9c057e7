// The forward's per-step tiles: where each gate's products lie, and the packed
// weights that make them.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "gemm/microkernel.hpp"
#include "gemm/pack.hpp"
#include "sequence/rows.hpp"
#include "sequence/tiling.hpp"

namespace rnnkit {
// Internal linkage: helpers of the forward's translation unit, kept out of the others.
namespace {

// B operand of the step's products h W_hh^T and x_t W_ih^T, once per call:
// panel (block * G + g) holds gate g's rows of `weight` (G*H, depth) for the
// block's hidden units. Threads take blocks in order, as the time loop's static
// schedule hands them out, so with few rows (batch-1 latency, where packing is a
// large part of a call) each thread packs much of what it will read.
template <class T>
AlignedBuffer<T> pack_gate_panels(const T* weight, int64_t depth, int64_t gates,
                                  const RecurrentTiling& tiling, int n_threads) {
    const int64_t H = tiling.hidden, nr = tiling.nr;
    return pack_panels_parallel<T>(
        tiling.hidden_blocks * gates, depth, nr, n_threads, [&](int64_t panel) {
            const int64_t jb = panel / gates, g = panel % gates;
            return std::pair{MatrixView<T>{weight + (g * H + jb * nr) * depth, depth, 1},
                             std::min(nr, H - jb * nr)};
        });
}

// How a task's products of one step lie in its tile scratch, and the packed weights
// that make them. Per gate: G tiles of mr x nr, one per gate, each the nr units of the
// task's hidden block (the panels of pack_gate_panels). Side by side: one tile of mr
// rows holding all gates of all H units, gate g's unit j in column g * H + j, cut into
// panels of the kernel's width; the tile pads G*H columns once instead of each gate's
// H. Stock's 50 units per gate fill 64 columns each, 256 for a row, where side by side
// they fill 224: an eighth less arithmetic (an LSTM layer of 50 units predicts 1.18x
// faster, trains 1.07x; the stock estimator's predict 1.17x, fit 1.12x; the same bits).
// The tasks are then the row panels alone.
template <class T>
class GateTiles {
  public:
    GateTiles(const MicroKernel<T>& kernel, const RecurrentTiling& tiling, int64_t gates,
              bool side_by_side)
        : kernel_(kernel), tiling_(tiling), gates_(gates), side_by_side_(side_by_side) {}

    // Side by side: for batch 1 on one thread, whenever its gates fit one single-row
    // kernel (stock's 4 x 50 units in one 13-vector call, its packed W_hh in L1); for a
    // batch of rows, when that saves at least an eighth of the columns and the row
    // panels alone still give each of the step's threads (`threads_by_blocks`, as many
    // as the per-gate layout's tasks would get) a task.
    static bool side_by_side(const MicroKernel<T>& kernel, const SequenceShape& s,
                             int threads_by_blocks, Isa isa) {
        const int64_t batch = s.batch, hidden = s.hidden, gates = s.gates();
        const int64_t gh = gates * hidden, nr = kernel.nr;
        if (gates == 1) return false;
        if (kernel.mr == 1)
            return kernel.nr >= hidden && select_row_microkernel<T>(isa, gh).nr >= gh;
        const bool saves = 8 * gates * ceil_div(hidden, nr) >= 9 * ceil_div(gh, nr);
        return saves && ceil_div(batch, kernel.mr) >= threads_by_blocks;
    }

    int64_t row_stride() const { return side_by_side_ ? panels() * kernel_.nr : kernel_.nr; }
    int64_t gate_stride() const { return side_by_side_ ? tiling_.hidden : tiling_.mr * kernel_.nr; }
    int64_t size() const {
        return side_by_side_ ? tiling_.mr * row_stride() : gates_ * tiling_.mr * kernel_.nr;
    }

    // The B operand of x W^T for a gate-major `weight` (G*H x depth), once per call.
    AlignedBuffer<T> pack(const T* weight, int64_t depth, int n_threads) const {
        if (!side_by_side_) return pack_gate_panels(weight, depth, gates_, tiling_, n_threads);
        AlignedBuffer<T> packed(depth * row_stride());
        pack_panels(MatrixView<T>{weight, depth, 1}, depth, gh(), kernel_.nr, packed.data());
        return packed;
    }

    // Per-unit values value(n), n = g * H + j, laid out as the tiles' rows need them:
    // per gate, the nr values of gate g in hidden block jb at (jb * G + g) * nr; side
    // by side, in order, one row for all. Zero in the padding.
    template <class Value>
    AlignedBuffer<T> pack_row(Value value) const {
        const int64_t H = tiling_.hidden, nr = kernel_.nr;
        if (side_by_side_) {
            AlignedBuffer<T> row(row_stride());
            for (int64_t n = 0; n < row_stride(); ++n) row.data()[n] = n < gh() ? value(n) : T(0);
            return row;
        }
        AlignedBuffer<T> row(tiling_.hidden_blocks * gates_ * nr);
        for (int64_t panel = 0; panel < tiling_.hidden_blocks * gates_; ++panel) {
            const int64_t jb = panel / gates_, g = panel % gates_;
            for (int64_t j = 0; j < nr; ++j) {
                const int64_t unit = jb * nr + j;
                row.data()[panel * nr + j] = unit < H ? value(g * H + unit) : T(0);
            }
        }
        return row;
    }

    // OUT the `rows` rows of `task`'s tile = IN row (from pack_row), e.g. the bias.
    void fill(const T* row, int64_t task, T* tile, int64_t rows) const {
        const int64_t width = row_stride();
        if (side_by_side_) {
            for (int64_t r = 0; r < rows; ++r) copy_n(row, width, tile + r * width);
            return;
        }
        const int64_t cols = kernel_.scratch_columns(tiling_.cols(task));
        for (int64_t g = 0; g < gates_; ++g) {
            const T* from = row + (tiling_.block(task) * gates_ + g) * width;
            for (int64_t r = 0; r < rows; ++r)
                copy_n(from, cols, tile + g * gate_stride() + r * width);
        }
    }

    // One product of a task's rows into its tile.
    struct Product {
        int64_t task;
        MatrixView<T> a;  // IN: the task's rows of A
        int64_t rows;
        const T* packed;  // IN: pack()'s panels, `depth` deep, of which kc from k0 are used
        int64_t depth, k0, kc;
        T* tile;  // OUT: the task's tile scratch, = or += (accumulate) the product
        bool accumulate;
    };

    void multiply(const Product& product) const {
        const auto& [task, a, rows, packed, depth, k0, kc, tile, accumulate] = product;
        const int64_t nr = kernel_.nr, width = row_stride();
        if (side_by_side_) {
            for (int64_t p = 0; p < panels(); ++p)
                kernel_.tile({kc, a, packed + (p * depth + k0) * nr, tile + p * nr, width, rows,
                              kernel_.scratch_columns(std::min(nr, gh() - p * nr)), accumulate});
            return;
        }
        const int64_t cols = kernel_.scratch_columns(tiling_.cols(task));
        for (int64_t g = 0; g < gates_; ++g) {
            const int64_t panel = tiling_.block(task) * gates_ + g;
            kernel_.tile({kc, a, packed + (panel * depth + k0) * nr, tile + g * gate_stride(),
                          width, rows, cols, accumulate});
        }
    }

  private:
    int64_t gh() const { return gates_ * tiling_.hidden; }
    int64_t panels() const { return ceil_div(gh(), kernel_.nr); }

    const MicroKernel<T>& kernel_;
    const RecurrentTiling& tiling_;
    int64_t gates_;
    bool side_by_side_;
};

}  // namespace
}  // namespace rnnkit
