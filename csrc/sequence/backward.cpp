// sequence_backward: backpropagation through a layer's time loop, then its weight
// gradients as products over all steps at once.

#include <algorithm>
#include <type_traits>

#include "cells/cell.hpp"
#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "common/prefetch.hpp"
#include "gemm/gemm.hpp"
#include "sequence/rows.hpp"
#include "sequence/sequence.hpp"
#include "sequence/tiling.hpp"

namespace rnnkit {
namespace {

// B operand of d_gates W_hh, once per call: panel `block` holds the block's
// columns of W_hh; depth G*H.
template <class T>
AlignedBuffer<T> pack_weight_hh_backward(const T* weight_hh, int64_t gates,
                                         const RecurrentTiling& tiling, int n_threads) {
    const int64_t H = tiling.hidden, nr = tiling.nr;
    return pack_panels_parallel<T>(tiling.hidden_blocks, gates * H, nr, n_threads, [&](int64_t jb) {
        return std::pair{MatrixView<T>{weight_hh + jb * nr, 1, H}, std::min(nr, H - jb * nr)};
    });
}

// Layers with at most this many inputs take W_ih's gradient from column_sums.
constexpr int64_t kThinInputs = 4;

template <class T>
struct ColumnSums {
    const T* matrix;  // IN (rows x cols)
    int64_t rows, cols;
    const T* x;      // IN (rows x inputs), or nullptr with inputs 0
    int64_t inputs;  // at most kThinInputs
    T* sums;         // OUT (cols): sums[c] = the sum of column c
    T* weighted;     // OUT (cols x inputs): [c * inputs + i] = sum over r of matrix[r][c] x[r][i]
};

// Computes ColumnSums' outputs. Rows are added in order and threads split the
// columns: the same bits for any thread count. A chunk's sums stay in registers
// while all rows stream past. This gives the bias gradients and, for a layer of a
// few inputs, dW_ih = d_gates^T x in one pass over d_gates: as a GEMM, an output
// that thin re-read all of d_gates for little arithmetic (the cosine RNN's 40 MB per
// batch, 2 ms on one thread or two alike). float32 column sums run in double: a bias
// gradient adds up every row of the batch's steps, and a float running total was
// 1.4e-5 off over 64,000 rows and 1% over 10^6, where torch's reduction stays at
// 3e-7. The weighted sums stay in T, like the GEMM's dot products.
template <class T>
void column_sums(const ColumnSums<T>& a, int n_threads) {
    // Plain locals: the OpenMP region below captures them (see gemm_block).
    const T* const matrix = a.matrix;
    const int64_t rows = a.rows, cols = a.cols, inputs = a.inputs;
    const T* const x = a.x;
    T* const sums = a.sums;
    T* const weighted = a.weighted;
    using Sum = std::conditional_t<std::is_same_v<T, float>, double, T>;
    constexpr int64_t chunk = 64;
    const int64_t chunks = ceil_div(cols, chunk);
    run_workers(n_threads, threads_for(n_threads, chunks, rows * cols), [&](const Worker& worker) {
        // As in the GEMM that computes the same gradient for wider inputs: a denormal
        // in x gave d_weight_ih 1e-38 here and 0 there.
        DenormalGuard denormals;
        const Share own = worker.share(chunks);
        for (int64_t c = own.begin; c < own.end; ++c) {
            const int64_t j0 = c * chunk, width = std::min(chunk, cols - j0);
            Sum acc[chunk] = {};
            T acc_x[kThinInputs][chunk] = {};
            for (int64_t r = 0; r < rows; ++r) {
                const T* __restrict row = matrix + r * cols + j0;
#pragma omp simd
                for (int64_t j = 0; j < width; ++j) acc[j] += Sum(row[j]);
                for (int64_t i = 0; i < inputs; ++i) {
                    const T weight = x[r * inputs + i];
#pragma omp simd
                    for (int64_t j = 0; j < width; ++j) acc_x[i][j] += row[j] * weight;
                }
            }
            for (int64_t j = 0; j < width; ++j) sums[j0 + j] = T(acc[j]);
            for (int64_t i = 0; i < inputs; ++i)
                for (int64_t j = 0; j < width; ++j) weighted[(j0 + j) * inputs + i] = acc_x[i][j];
        }
    });
}

}  // namespace

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

    schedule.run(tiling, steps + 1, n_threads, [&](int64_t back, int64_t task, int thread) {
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
            kernel.tile({GH, later, weight.data() + tiling.block(task) * GH * nr, tile, nr, rows,
                         kernel.scratch_columns(cols), false});
        }

        // The same rows of what the next step (one earlier in time) reads and writes.
        if (back + 1 < steps) {
            const int64_t t_next = s.time_at(steps - 2 - back);
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t b = b0 + r, tb = t_next * B + b;
                if (a.d_output) prefetch(a.d_output + (b * steps + t_next) * H + j0, cols);
                prefetch_cache_row(s, a.cache, tb, j0, cols);  // and d_gates, gru's d_hn there
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
        // step's A panel, where column j of the tile's row r goes to j * mr + r.
        // transpose() moves float rows four at a time in 4 x 4 blocks, where a strided
        // store per element was a tenth of the backward loop's time.
        const int64_t tb0 = t * B + b0;
        for (int64_t g = 0; g < G; ++g) {
            const bool n_gate = g == 2;
            const T* seen_by_w_hh =
                n_gate ? d_hn + tb0 * H + j0 : d_gates_ih + tb0 * GH + g * H + j0;
            transpose<T>({seen_by_w_hh, n_gate ? H : GH}, rows, cols,
                         {panels + panel + (g * H + j0) * mr, mr});
        }
    });
    if (lstm) copy_n(carry_c.data(), B * H, a.d_c0);

    // The weight gradients pair each step-major row of d_gates with the same
    // row of the layer's input and of h_{t-1}.
    AlignedBuffer<T> x_steps(rows_all * I), d_x_steps(a.d_x ? rows_all * I : 0);
    swap_leading_axes(a.x, {B, steps, I}, x_steps.data(), n_threads);
    // Padded steps have d_gates = 0, but 0 * x must not turn a NaN or inf the
    // caller left in the padding into a NaN weight gradient.
    for (int64_t t = 0; a.lengths && t < steps; ++t)
        for (int64_t b = 0; b < B; ++b)
            if (!is_valid(a.lengths, b, t)) std::fill_n(x_steps.data() + (t * B + b) * I, I, T(0));
    const MatrixView<T> d_ih_t{d_gates_ih, 1, GH}, h_prev{a.cache.h_prev, H, 1};
    const bool thin = I <= kThinInputs;
    column_sums<T>(
        {d_gates_ih, rows_all, GH, x_steps.data(), thin ? I : 0, a.d_bias_ih, a.d_weight_ih},
        n_threads);
    if (!thin)
        gemm<T>({GH, I, rows_all}, {d_ih_t, MatrixView<T>{x_steps.data(), I, 1}, a.d_weight_ih, I},
                run);
    // W_hh's rows see W_ih's gate gradients, except gru's n rows (d_hn).
    const int64_t shared_rows = gru ? kGruNewGate * H : GH;
    gemm<T>({shared_rows, H, rows_all}, {d_ih_t, h_prev, a.d_weight_hh, H}, run);
    if (gru)
        gemm<T>({H, H, rows_all},
                {MatrixView<T>{d_hn, 1, H}, h_prev, a.d_weight_hh + shared_rows * H, H}, run);
    if (a.d_x) {
        gemm<T>({rows_all, I, GH},
                {d_ih_t.transposed(), MatrixView<T>{a.weight_ih, I, 1}, d_x_steps.data(), I}, run);
        swap_leading_axes(d_x_steps.data(), {steps, B, I}, a.d_x, n_threads);
    }
    // Both biases add to the same pre-activations (all of rnn's and lstm's, gru's r and
    // z): one sum serves both.
    copy_n(a.d_bias_ih, shared_rows, a.d_bias_hh);
    if (gru)
        column_sums<T>({d_hn, rows_all, H, nullptr, 0, a.d_bias_hh + shared_rows, nullptr},
                       n_threads);
}

template void sequence_backward<float>(const SequenceShape&, const BackwardArgs<float>&, Execution);
template void sequence_backward<double>(const SequenceShape&, const BackwardArgs<double>&,
                                        Execution);

}  // namespace rnnkit
