#include "sequence.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "cells/cell.hpp"
#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "common/prefetch.hpp"
#include "gemm/gemm.hpp"

namespace rnnkit {
namespace {

// Keeps each thread's slice of a scratch buffer on its own cache lines.
int64_t pad_to_line(int64_t count) { return (count + 15) / 16 * 16; }

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
    // `tiling` at each step, from `threads` OpenMP threads, denormals flushed.
    template <class Body>
    void run(const RecurrentTiling& tiling, int64_t steps, Body&& body) const {
#pragma omp parallel num_threads(threads)
        {
            DenormalGuard denormals;
            const int thread = omp_get_thread_num();
            if (by_rows) {
                const auto [g0, g1] = team_share(tiling.groups());
                const int64_t p0 = tiling.first_panel(g0), p1 = tiling.first_panel(g1);
                // Panels innermost: a block of weights serves all of them in turn.
                for (int64_t step = 0; step < steps; ++step)
                    for (int64_t jb = 0; jb < tiling.hidden_blocks; ++jb)
                        for (int64_t p = p0; p < p1; ++p)
                            body(step, jb * tiling.row_panels + p, thread);
            } else {
                for (int64_t step = 0; step < steps; ++step) {
#pragma omp for schedule(static)
                    for (int64_t task = 0; task < tiling.tasks(); ++task) body(step, task, thread);
                }
            }
        }
    }
};

bool is_valid(const int64_t* lengths, int64_t b, int64_t t) {
    return lengths == nullptr || t < lengths[b];
}

template <class T>
void copy_n(const T* src, int64_t n, T* dst) {
    std::copy(src, src + n, dst);
}

// OUT a tile's `rows` x `cols` values (IN src, row stride ld) into the packed A
// panel of the next step's product at dst: column j of row r goes to dst[j * mr + r].
// 4 x 4 blocks for full panels, where a strided store per element was a tenth of
// the backward loop's time; a plain copy for the single-row kernel (mr = 1).
template <class T>
void pack_tile_rows(const T* src, int64_t rows, int64_t cols, int64_t ld, int64_t mr, T* dst) {
    if (mr == 1)
        copy_n(src, cols, dst);
    else
        transpose(src, rows, cols, ld, dst, mr);
}

// B operand of the step's products h W_hh^T and x_t W_ih^T, once per call:
// panel (block * G + g) holds gate g's rows of `weight` (G*H, depth) for the
// block's hidden units. Threads take blocks in order, as the time loop's static
// schedule hands them out, so with few rows (batch-1 latency, where packing is a
// large part of a call) each thread packs much of what it will read.
template <class T>
AlignedBuffer<T> pack_gate_panels(const T* weight, int64_t depth, int64_t gates,
                                  const RecurrentTiling& tiling, int n_threads) {
    const int64_t H = tiling.hidden, nr = tiling.nr, panels = tiling.hidden_blocks * gates;
    const int64_t size = depth * nr;
    AlignedBuffer<T> packed(panels * size);
#pragma omp parallel for num_threads(threads_for(n_threads, panels, panels* size)) schedule(static)
    for (int64_t panel = 0; panel < panels; ++panel) {
        const int64_t jb = panel / gates, g = panel % gates;
        pack_panels(MatrixView<T>{weight + (g * H + jb * nr) * depth, depth, 1}, depth,
                    std::min(nr, H - jb * nr), nr, packed.data() + panel * size);
    }
    return packed;
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
    static bool side_by_side(const MicroKernel<T>& kernel, int64_t batch, int64_t hidden,
                             int64_t gates, int threads_by_blocks, Isa isa) {
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

    // OUT tile (+)= the `rows` rows of IN a times `task`'s panels of IN packed (from
    // pack, `depth` deep), over kc of that depth from k0.
    void multiply(int64_t kc, const MatrixView<T>& a, const T* packed, int64_t depth, int64_t k0,
                  int64_t task, T* tile, int64_t rows, bool accumulate) const {
        const int64_t nr = kernel_.nr, width = row_stride();
        if (side_by_side_) {
            for (int64_t p = 0; p < panels(); ++p)
                kernel_.tile(kc, a, packed + (p * depth + k0) * nr, tile + p * nr, width, rows,
                             kernel_.scratch_columns(std::min(nr, gh() - p * nr)), accumulate);
            return;
        }
        const int64_t cols = kernel_.scratch_columns(tiling_.cols(task));
        for (int64_t g = 0; g < gates_; ++g) {
            const int64_t panel = tiling_.block(task) * gates_ + g;
            kernel_.tile(kc, a, packed + (panel * depth + k0) * nr, tile + g * gate_stride(), width,
                         rows, cols, accumulate);
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

// B operand of d_gates W_hh, once per call: panel `block` holds the block's
// columns of W_hh; depth G*H.
template <class T>
AlignedBuffer<T> pack_weight_hh_backward(const T* weight_hh, int64_t gates,
                                         const RecurrentTiling& tiling, int n_threads) {
    const int64_t H = tiling.hidden, nr = tiling.nr, depth = gates * H;
    const int64_t blocks = tiling.hidden_blocks;
    AlignedBuffer<T> packed(blocks * depth * nr);
#pragma omp parallel for num_threads(threads_for(n_threads, blocks, blocks * depth * nr)) \
    schedule(static)
    for (int64_t jb = 0; jb < blocks; ++jb)
        pack_panels(MatrixView<T>{weight_hh + jb * nr, 1, H}, depth, std::min(nr, H - jb * nr), nr,
                    packed.data() + jb * depth * nr);
    return packed;
}

// Layers with at most this many inputs take W_ih's gradient from column_sums.
constexpr int64_t kThinInputs = 4;

// IN matrix (rows x cols); OUT sums[c] = the sum of column c; and, for `inputs` (at
// most kThinInputs, may be 0) columns of IN x (rows x inputs), OUT weighted[c * inputs
// + i] = the sum over rows r of matrix[r][c] * x[r][i]. Rows are added in order and
// threads split the columns: the same bits for any thread count. A chunk's sums stay
// in registers while all rows stream past. This gives the bias gradients and, for a
// layer of a few inputs, dW_ih = d_gates^T x in one pass over d_gates: as a GEMM, an
// output that thin re-read all of d_gates for little arithmetic (the cosine RNN's 40
// MB per batch, 2 ms on one thread or two alike).
template <class T>
void column_sums(const T* matrix, int64_t rows, int64_t cols, const T* x, int64_t inputs, T* sums,
                 T* weighted, int n_threads) {
    constexpr int64_t chunk = 64;
    const int64_t chunks = ceil_div(cols, chunk);
#pragma omp parallel for num_threads(threads_for(n_threads, chunks, rows* cols)) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const int64_t j0 = c * chunk, width = std::min(chunk, cols - j0);
        T acc[chunk] = {};
        T acc_x[kThinInputs][chunk] = {};
        for (int64_t r = 0; r < rows; ++r) {
            const T* __restrict row = matrix + r * cols + j0;
#pragma omp simd
            for (int64_t j = 0; j < width; ++j) acc[j] += row[j];
            for (int64_t i = 0; i < inputs; ++i) {
                const T weight = x[r * inputs + i];
#pragma omp simd
                for (int64_t j = 0; j < width; ++j) acc_x[i][j] += row[j] * weight;
            }
        }
        copy_n(acc, width, sums + j0);
        for (int64_t i = 0; i < inputs; ++i)
            for (int64_t j = 0; j < width; ++j) weighted[(j0 + j) * inputs + i] = acc_x[i][j];
    }
}

// OUT dst (n1, n0, width) = IN src (n0, n1, width) with its two leading axes
// swapped: batch-first (B, T, .) to step-major (T, B, .) and back. Every buffer
// inside the kernels is step-major: a step reads and writes B contiguous rows
// instead of B rows a whole sequence apart (a cache and TLB miss each).
template <class T>
void swap_leading_axes(const T* src, int64_t n0, int64_t n1, int64_t width, T* dst, int n_threads) {
#pragma omp parallel for num_threads(threads_for(n_threads, n1, n0 * n1 * width)) schedule(static)
    for (int64_t i1 = 0; i1 < n1; ++i1)
        for (int64_t i0 = 0; i0 < n0; ++i0)
            copy_n(src + (i0 * n1 + i1) * width, width, dst + (i1 * n0 + i0) * width);
}

// b_ih[n] + b_hh[n], the bias of gate row n that each step adds to x_t W_ih^T;
// gru's b_hn stays out: it is applied inside the reset gate's product,
// r * (W_hn h + b_hn).
template <class T>
T input_bias(const SequenceShape& s, const T* bias_ih, const T* bias_hh, int64_t n) {
    const bool inside_reset = s.cell == Cell::gru && n >= 2 * s.hidden;
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
                tiles_.multiply(std::min(kGemmDepthBlock, I - k0),
                                MatrixView<T>{x + k0, s_.steps * I, 1}, weights_.data(), I, k0,
                                task, scratch, rows, true);
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
        swap_leading_axes(a.x, B, steps, I, x_steps.data(), n_threads);
        std::vector<T> bias(GH);
        for (int64_t n = 0; n < GH; ++n) bias[n] = input_bias(s_, a.bias_ih, a.bias_hh, n);
#pragma omp parallel for num_threads(threads_for(n_threads, rows, rows* GH)) schedule(static)
        for (int64_t i = 0; i < rows; ++i) copy_n(bias.data(), GH, projection_ + i * GH);
        gemm<T>({rows, GH, I}, MatrixView<T>{x_steps.data(), I, 1},
                MatrixView<T>{a.weight_ih, 1, I}, projection_, GH, /*accumulate=*/true, n_threads,
                run.isa);
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

template <class T>
void sequence_forward(const SequenceShape& s, const ForwardArgs<T>& a, Execution run) {
    const int n_threads = run.n_threads;
    const int64_t B = s.batch, steps = s.steps, H = s.hidden, G = s.gates(), GH = G * H;
    const bool lstm = s.cell == Cell::lstm, gru = s.cell == Cell::gru;
    const bool training = a.cache.gates != nullptr;
    const T leak_rate = T(s.leak_rate);
    // The per-step product over hidden units: batch 1 skips a full tile's mr - 1 zero rows.
    MicroKernel<T> kernel = step_kernel<T>(run.isa, B, H, B * GH * H, n_threads);
    // The threads that a tile per gate and block of units would give the loop.
    const int threads_by_blocks = threads_for(
        n_threads, ceil_div(B, kernel.mr) * ceil_div(H, kernel.nr), B * GH * (H + s.input));
    const bool side_by_side =
        GateTiles<T>::side_by_side(kernel, B, H, G, threads_by_blocks, run.isa);
    // Batch 1's gates side by side: one single-row kernel as wide as all of them.
    if (side_by_side && kernel.mr == 1) kernel = select_row_microkernel<T>(run.isa, GH);
    const CellKernels<T> cell = cell_kernels<T>(s.cell, s.activation, run.isa);
    RecurrentTiling tiling(B, H, kernel.mr, side_by_side ? H : kernel.nr);
    const GateTiles<T> tiles(kernel, tiling, G, side_by_side);
    const int64_t mr = tiling.mr, nr = tiling.nr;

    const StepInputs<T> inputs(s, a, tiling, tiles, run);
    const AlignedBuffer<T> weight = tiles.pack(a.weight_hh, H, n_threads);

    // The state before each step, double-buffered in inference: a step reads one half
    // and writes the other. Training keeps it in the cache, where backward needs it: a
    // step reads h_{t-1} (and c_{t-1}) from the cache's rows of its time t and writes
    // its own state into those of the next time processed, so no row is copied there.
    // The state after the last step is in the buffer either way.
    AlignedBuffer<T> h_state(2 * B * H), c_state(lstm ? 2 * B * H : 0);
    const auto state_before = [&](int64_t step, AlignedBuffer<T>& buffer, T* cached) {
        if (training && step < steps) return cached + s.time_at(step) * B * H;
        return buffer.data() + (step % 2) * B * H;
    };
    const auto h_before = [&](int64_t step) { return state_before(step, h_state, a.cache.h_prev); };
    const auto c_before = [&](int64_t step) {
        return lstm ? state_before(step, c_state, a.cache.c_prev) : nullptr;
    };
    for (int64_t i = 0; i < B * H; ++i) h_before(0)[i] = a.h0 ? a.h0[i] : T(0);
    for (int64_t i = 0; lstm && i < B * H; ++i) c_before(0)[i] = a.c0 ? a.c0[i] : T(0);

    const StepSchedule schedule(tiling, n_threads, B * GH * (H + inputs.step_depth()), steps,
                                weight.size() * sizeof(T) + inputs.step_weight_bytes());
    tiling.split_rows(schedule.row_groups());  // `inputs` reads the tiles' rows from it
    const int64_t tile_size = pad_to_line(tiles.size()),
                  input_size = pad_to_line(inputs.scratch_size());
    const int64_t per_thread = tile_size + input_size + pad_to_line(G * nr) + pad_to_line(nr);
    AlignedBuffer<T> scratch(schedule.threads * per_thread);

    schedule.run(tiling, steps, [&](int64_t step, int64_t task, int thread) {
        T* tile = scratch.data() + thread * per_thread;
        T* input_scratch = tile + tile_size;
        T* gates_scratch = input_scratch + input_size;
        T* aux_scratch = gates_scratch + pad_to_line(G * nr);
        const int64_t t = s.time_at(step);
        const T* h_prev = h_before(step);
        T* h_next = h_before(step + 1);
        const T* c_prev = c_before(step);
        T* c_next = c_before(step + 1);
        const int64_t b0 = tiling.row0(task), j0 = tiling.col0(task);
        const int64_t rows = tiling.rows(task), cols = tiling.cols(task);
        // Kept apart from the recurrent product: gru's n gate adds them only after the reset.
        const auto input =
            inputs.at(t, step + 1 < steps ? s.time_at(step + 1) : -1, task, input_scratch);
        // Training writes each step's gates and state into cache rows that are out of
        // every cache level by then (the cosine RNN's are 40 MB each): asked for one
        // step ahead, while this step's products run. Without it a cell with little
        // arithmetic waited on its stores, and the next reader of h on loading them (then
        // the packing of h into panels): the linear cosine RNN trained 11% slower, its
        // tanh twin 2%.
        if (training && step + 1 < steps) {
            const int64_t t_next = s.time_at(step + 1);
            T* h_later = h_before(step + 2);
            T* c_later = c_before(step + 2);
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t b = b0 + r, tb = t_next * B + b;
                for (int64_t g = 0; g < G; ++g)
                    prefetch(a.cache.gates + tb * GH + g * H + j0, cols);
                if (a.cache.aux) prefetch(a.cache.aux + tb * H + j0, cols);
                prefetch(h_later + b * H + j0, cols);
                if (lstm) prefetch(c_later + b * H + j0, cols);
            }
        }
        // The tile's rows of h_{t-1} are read where the last step wrote them.
        tiles.multiply(H, MatrixView<T>{h_prev + b0 * H, H, 1}, weight.data(), H, 0, task, tile,
                       rows, false);
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t b = b0 + r, state = b * H + j0, tb = t * B + b;
            T* out = a.output ? a.output + (b * steps + t) * H + j0 : nullptr;
            if (!is_valid(a.lengths, b, t)) {  // padding: carry the state, output 0
                copy_n(h_prev + state, cols, h_next + state);
                if (lstm) copy_n(c_prev + state, cols, c_next + state);
                if (out) std::fill(out, out + cols, T(0));
            } else {
                CellForwardRow<T> row;
                row.recurrent = tile + r * tiles.row_stride();
                row.recurrent_stride = tiles.gate_stride();
                row.projection = input.data + r * input.row_stride;
                row.projection_stride = input.gate_stride;
                row.bias_hn = gru ? a.bias_hh + 2 * H + j0 : nullptr;
                row.h_prev = h_prev + state;
                row.c_prev = lstm ? c_prev + state : nullptr;
                row.leak_rate = leak_rate;
                row.h = h_next + state;
                row.c = lstm ? c_next + state : nullptr;
                row.gates = training ? a.cache.gates + tb * GH + j0 : gates_scratch;
                row.gates_stride = training ? H : nr;
                row.aux = training && a.cache.aux ? a.cache.aux + tb * H + j0 : aux_scratch;
                cell.forward(row, cols);
                if (out) copy_n(row.h, cols, out);
            }
        }
    });
    copy_n(h_before(steps), B * H, a.h_n);
    if (lstm) copy_n(c_before(steps), B * H, a.c_n);
}

template <class T>
void sequence_backward(const SequenceShape& s, const BackwardArgs<T>& a, Execution run) {
    const int n_threads = run.n_threads;
    const int64_t B = s.batch, steps = s.steps, I = s.input, H = s.hidden, G = s.gates();
    const int64_t GH = G * H, rows_all = B * steps, window = a.bptt_steps;
    const bool lstm = s.cell == Cell::lstm, gru = s.cell == Cell::gru;
    const T leak_rate = T(s.leak_rate);
    // The per-step product over hidden units: batch 1 skips a full tile's mr - 1 zero rows.
    const MicroKernel<T> kernel = step_kernel<T>(run.isa, B, H, B * GH * H, n_threads);
    const CellKernels<T> cell = cell_kernels<T>(s.cell, s.activation, run.isa);
    RecurrentTiling tiling(B, H, kernel.mr, kernel.nr);
    const int64_t mr = tiling.mr, nr = tiling.nr;

    // Gradients w.r.t. every step's gate pre-activations: only the element-wise
    // part and d_h_{t-1} run inside the loop; the weight gradients, d_x and the
    // bias sums are single large products over all B*T rows after it.
    T* const d_gates_ih = a.d_gates;
    // gru: W_hh sees the n gate's gradient as r * d_n, written over the consumed aux
    // (W_hn h + b_hn) row by row; its r and z gradients are those of W_ih.
    T* const d_hn = gru ? a.d_hn : nullptr;
    const AlignedBuffer<T> weight = pack_weight_hh_backward(a.weight_hh, G, tiling, n_threads);

    // What flows from the step just handled to the one before it: the part of
    // d_h that bypasses W_hh (and padding's pass-through), and d_c.
    AlignedBuffer<T> carry_h(B * H), carry_c(lstm ? B * H : 0);
    for (int64_t i = 0; i < B * H; ++i) carry_h.data()[i] = a.d_h_n ? a.d_h_n[i] : T(0);
    for (int64_t i = 0; lstm && i < B * H; ++i) carry_c.data()[i] = a.d_c_n ? a.d_c_n[i] : T(0);

    // Steps in reverse processing order; the extra last pass yields d_h0.
    const StepSchedule schedule(tiling, n_threads, B * GH * H, steps + 1,
                                weight.size() * sizeof(T));
    tiling.split_rows(schedule.row_groups());

    // The next step's product reads each step's d_gates (as seen by W_hh) where the
    // cell wrote them: rnn's and lstm's are the rows of d_gates_ih. gru's n gate sees
    // r * d_n (d_hn) instead, so its rows are gathered into packed A panels. A last,
    // partly filled panel's padding rows are never written: the kernels read only a
    // tile's rows.
    const int64_t panel_size = mr * GH, panels_size = gru ? tiling.row_panels * panel_size : 0;
    AlignedBuffer<T> d_gates_packed(2 * panels_size);

    const int64_t tile_size = pad_to_line(mr * nr);
    const int64_t per_thread = tile_size + 2 * pad_to_line(nr);
    AlignedBuffer<T> scratch(schedule.threads * per_thread);

    schedule.run(tiling, steps + 1, [&](int64_t back, int64_t task, int thread) {
        T* tile = scratch.data() + thread * per_thread;
        T* d_h = tile + tile_size;
        T* d_c = d_h + pad_to_line(nr);
        const bool first = back == 0, to_h0 = back == steps;
        const int64_t t = to_h0 ? -1 : s.time_at(steps - 1 - back);
        const int64_t t_later = first ? -1 : s.time_at(steps - back);
        const T* later_panels = d_gates_packed.data() + (back % 2) * panels_size;
        T* panels = d_gates_packed.data() + ((back + 1) % 2) * panels_size;
        const int64_t b0 = tiling.row0(task), j0 = tiling.col0(task);
        const int64_t rows = tiling.rows(task), cols = tiling.cols(task);
        const int64_t panel = tiling.panel(task) * panel_size;
        if (first) {
            std::fill(tile, tile + mr * nr, T(0));
        } else {  // d_gates of the later step times W_hh: this step's d_h through W_hh
            const MatrixView<T> later =
                gru ? MatrixView<T>{later_panels + panel, 1, mr}
                    : MatrixView<T>{d_gates_ih + (t_later * B + b0) * GH, GH, 1};
            kernel.tile(GH, later, weight.data() + tiling.block(task) * GH * nr, tile, nr, rows,
                        kernel.scratch_columns(cols), false);
        }

        // The same rows of what the next step (one earlier in time) reads and writes.
        if (back + 1 < steps) {
            const int64_t t_next = s.time_at(steps - 2 - back);
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t b = b0 + r, tb = t_next * B + b;
                if (a.d_output) prefetch(a.d_output + (b * steps + t_next) * H + j0, cols);
                for (int64_t g = 0; g < G; ++g)
                    prefetch(a.cache.gates + tb * GH + g * H + j0, cols);    // d_gates: the same
                if (a.cache.aux) prefetch(a.cache.aux + tb * H + j0, cols);  // gru d_hn: the same
                if (lstm) prefetch(a.cache.c_prev + tb * H + j0, cols);
                if (gru) prefetch(a.cache.h_prev + tb * H + j0, cols);
            }
        }
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t b = b0 + r, state = b * H + j0;
            const T* through_w = tile + r * nr;
            T* carried_h = carry_h.data() + state;
            if (to_h0) {
                for (int64_t j = 0; j < cols; ++j) a.d_h0[state + j] = through_w[j] + carried_h[j];
                continue;
            }
            const bool valid = is_valid(a.lengths, b, t);
            const bool later_valid = !first && is_valid(a.lengths, b, t_later);
            // Truncated BPTT: no gradient between two processed steps in
            // different windows; padding never cuts.
            const bool cut = window > 0 && valid && later_valid && t / window != t_later / window;
            const int64_t tb = t * B + b;
            const T* d_out = a.d_output ? a.d_output + (b * steps + t) * H + j0 : nullptr;
            for (int64_t j = 0; j < cols; ++j) {
                const T from_later = cut ? T(0) : through_w[j] + carried_h[j];
                d_h[j] = valid && d_out ? d_out[j] + from_later : from_later;
            }
            if (lstm)
                for (int64_t j = 0; j < cols; ++j) d_c[j] = cut ? T(0) : carry_c.data()[state + j];

            T* d_ih_row = d_gates_ih + tb * GH + j0;
            T* d_hn_row = gru ? d_hn + tb * H + j0 : nullptr;
            if (!valid) {  // padding: gradients pass through to the step before
                for (int64_t g = 0; g < G; ++g) std::fill_n(d_ih_row + g * H, cols, T(0));
                if (gru) std::fill_n(d_hn_row, cols, T(0));
                copy_n(d_h, cols, carried_h);
                if (lstm) copy_n(d_c, cols, carry_c.data() + state);
            } else {
                CellBackwardRow<T> row;
                row.d_h = d_h;
                row.d_c = lstm ? d_c : nullptr;
                row.gates = a.cache.gates + tb * GH + j0;
                row.aux = a.cache.aux ? a.cache.aux + tb * H + j0 : nullptr;
                row.h_prev = a.cache.h_prev + tb * H + j0;
                row.c_prev = lstm ? a.cache.c_prev + tb * H + j0 : nullptr;
                row.hidden = H;
                row.leak_rate = leak_rate;
                row.d_gates_ih = d_ih_row;
                row.d_hn = d_hn_row;
                row.d_h_prev = carried_h;
                row.d_c_prev = lstm ? carry_c.data() + state : nullptr;
                cell.backward(row, cols);
            }
        }
        if (!gru || to_h0) return;
        // gru: this step's d_gates as W_hh sees them (r, z and d_hn) into the next
        // step's A panel.
        const int64_t tb0 = t * B + b0;
        for (int64_t g = 0; g < G; ++g) {
            const bool n_gate = g == 2;
            const T* seen_by_w_hh =
                n_gate ? d_hn + tb0 * H + j0 : d_gates_ih + tb0 * GH + g * H + j0;
            pack_tile_rows(seen_by_w_hh, rows, cols, n_gate ? H : GH, mr,
                           panels + panel + (g * H + j0) * mr);
        }
    });
    if (lstm) copy_n(carry_c.data(), B * H, a.d_c0);

    // The weight gradients pair each step-major row of d_gates with the same
    // row of the layer's input and of h_{t-1}.
    AlignedBuffer<T> x_steps(rows_all * I), d_x_steps(a.d_x ? rows_all * I : 0);
    swap_leading_axes(a.x, B, steps, I, x_steps.data(), n_threads);
    // Padded steps have d_gates = 0, but 0 * x must not turn a NaN or inf the
    // caller left in the padding into a NaN weight gradient.
    for (int64_t t = 0; a.lengths && t < steps; ++t)
        for (int64_t b = 0; b < B; ++b)
            if (!is_valid(a.lengths, b, t)) std::fill_n(x_steps.data() + (t * B + b) * I, I, T(0));
    const MatrixView<T> d_ih_t{d_gates_ih, 1, GH}, h_prev{a.cache.h_prev, H, 1};
    const bool thin = I <= kThinInputs;
    column_sums(d_gates_ih, rows_all, GH, x_steps.data(), thin ? I : 0, a.d_bias_ih, a.d_weight_ih,
                n_threads);
    if (!thin)
        gemm<T>({GH, I, rows_all}, d_ih_t, MatrixView<T>{x_steps.data(), I, 1}, a.d_weight_ih, I,
                false, n_threads, run.isa);
    // W_hh's rows see W_ih's gate gradients, except gru's n rows (d_hn).
    const int64_t shared_rows = gru ? 2 * H : GH;
    gemm<T>({shared_rows, H, rows_all}, d_ih_t, h_prev, a.d_weight_hh, H, false, n_threads,
            run.isa);
    if (gru)
        gemm<T>({H, H, rows_all}, MatrixView<T>{d_hn, 1, H}, h_prev, a.d_weight_hh + 2 * H * H, H,
                false, n_threads, run.isa);
    if (a.d_x) {
        gemm<T>({rows_all, I, GH}, d_ih_t.transposed(), MatrixView<T>{a.weight_ih, I, 1},
                d_x_steps.data(), I, false, n_threads, run.isa);
        swap_leading_axes(d_x_steps.data(), steps, B, I, a.d_x, n_threads);
    }
    // Both biases add to the same pre-activations (all of rnn's and lstm's, gru's r and
    // z): one sum serves both.
    copy_n(a.d_bias_ih, shared_rows, a.d_bias_hh);
    if (gru) column_sums<T>(d_hn, rows_all, H, nullptr, 0, a.d_bias_hh + 2 * H, nullptr, n_threads);
}

template void sequence_forward<float>(const SequenceShape&, const ForwardArgs<float>&, Execution);
template void sequence_forward<double>(const SequenceShape&, const ForwardArgs<double>&, Execution);
template void sequence_backward<float>(const SequenceShape&, const BackwardArgs<float>&, Execution);
template void sequence_backward<double>(const SequenceShape&, const BackwardArgs<double>&,
                                        Execution);

}  // namespace rnnkit
