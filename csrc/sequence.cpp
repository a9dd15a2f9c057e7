#include "sequence.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "cells/cell.hpp"
#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "gemm/gemm.hpp"

namespace rnnkit {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Keeps each thread's slice of a scratch buffer on its own cache lines.
int64_t pad_to_line(int64_t count) { return (count + 15) / 16 * 16; }

// Output tiles of the per-step GEMM: batch row panels x blocks of hidden
// units. A block owns every gate of its units, so the cell math on a tile
// needs nothing from other tiles and runs while the tile is in cache.
struct RecurrentTiling {
    int64_t batch, hidden, mr, nr, row_panels, hidden_blocks;

    RecurrentTiling(int64_t batch_, int64_t hidden_, int64_t mr_, int64_t nr_)
        : batch(batch_),
          hidden(hidden_),
          mr(mr_),
          nr(nr_),
          row_panels(ceil_div(batch_, mr_)),
          hidden_blocks(ceil_div(hidden_, nr_)) {}

    int64_t tasks() const { return row_panels * hidden_blocks; }
    int64_t block(int64_t task) const { return task % hidden_blocks; }
    int64_t row0(int64_t task) const { return task / hidden_blocks * mr; }
    int64_t col0(int64_t task) const { return block(task) * nr; }
    int64_t rows(int64_t task) const { return std::min(mr, batch - row0(task)); }
    int64_t cols(int64_t task) const { return std::min(nr, hidden - col0(task)); }
};

bool is_valid(const int64_t* lengths, int64_t b, int64_t t) {
    return lengths == nullptr || t < lengths[b];
}

template <class T>
void copy_n(const T* src, int64_t n, T* dst) {
    std::copy(src, src + n, dst);
}

// B operand of h W_hh^T, once per call: panel (block * G + g) holds gate g's
// rows of W_hh for the block's hidden units; depth H.
template <class T>
AlignedBuffer<T> pack_weight_hh_forward(const T* weight_hh, int64_t gates,
                                        const RecurrentTiling& tiling) {
    const int64_t H = tiling.hidden, nr = tiling.nr;
    AlignedBuffer<T> packed(tiling.hidden_blocks * gates * H * nr);
    for (int64_t jb = 0; jb < tiling.hidden_blocks; ++jb)
        for (int64_t g = 0; g < gates; ++g)
            pack_panel(MatrixView<T>{weight_hh + (g * H + jb * nr) * H, H, 1}, H,
                       std::min(nr, H - jb * nr), nr, packed.data() + (jb * gates + g) * H * nr);
    return packed;
}

// B operand of d_gates W_hh, once per call: panel `block` holds the block's
// columns of W_hh; depth G*H.
template <class T>
AlignedBuffer<T> pack_weight_hh_backward(const T* weight_hh, int64_t gates,
                                         const RecurrentTiling& tiling) {
    const int64_t H = tiling.hidden, nr = tiling.nr, depth = gates * H;
    AlignedBuffer<T> packed(tiling.hidden_blocks * depth * nr);
    for (int64_t jb = 0; jb < tiling.hidden_blocks; ++jb)
        pack_panel(MatrixView<T>{weight_hh + jb * nr, 1, H}, depth, std::min(nr, H - jb * nr), nr,
                   packed.data() + jb * depth * nr);
    return packed;
}

// Sum of each column of a (rows x cols) matrix, rows added in order, threads
// over columns: the same bits for any thread count.
template <class T>
void column_sums(const T* matrix, int64_t rows, int64_t cols, T* sums, int n_threads) {
    constexpr int64_t chunk = 64;
    const int64_t chunks = ceil_div(cols, chunk);
#pragma omp parallel for num_threads(threads_for(n_threads, chunks)) schedule(static)
    for (int64_t c = 0; c < chunks; ++c) {
        const int64_t j0 = c * chunk, j1 = std::min(cols, j0 + chunk);
        for (int64_t j = j0; j < j1; ++j) sums[j] = T(0);
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = j0; j < j1; ++j) sums[j] += matrix[i * cols + j];
    }
}

// x W_ih^T + b_ih + b_hh for every step at once. gru keeps b_hn out: it is
// applied inside the reset gate's product.
template <class T>
AlignedBuffer<T> input_projection(const SequenceShape& s, const ForwardArgs<T>& a, int n_threads) {
    const int64_t rows = s.batch * s.steps, H = s.hidden, GH = s.gates() * H;
    std::vector<T> bias(GH);
    for (int64_t n = 0; n < GH; ++n) {
        const bool inside_reset = s.cell == Cell::gru && n >= 2 * H;
        bias[n] = inside_reset ? a.bias_ih[n] : a.bias_ih[n] + a.bias_hh[n];
    }
    AlignedBuffer<T> projection(rows * GH);
    T* out = projection.data();
#pragma omp parallel for num_threads(threads_for(n_threads, rows)) schedule(static)
    for (int64_t i = 0; i < rows; ++i) copy_n(bias.data(), GH, out + i * GH);
    gemm<T>({rows, GH, s.input}, MatrixView<T>{a.x, s.input, 1},
            MatrixView<T>{a.weight_ih, 1, s.input}, out, GH, /*accumulate=*/true, n_threads);
    return projection;
}

}  // namespace

template <class T>
void sequence_forward(const SequenceShape& s, const ForwardArgs<T>& a, int n_threads) {
    const int64_t B = s.batch, steps = s.steps, H = s.hidden, G = s.gates(), GH = G * H;
    const bool lstm = s.cell == Cell::lstm, gru = s.cell == Cell::gru;
    const bool training = a.cache.gates != nullptr;
    const MicroKernel<T> kernel = select_microkernel<T>();
    const CellKernels<T> cell = cell_kernels<T>(s.cell, s.activation);
    const RecurrentTiling tiling(B, H, kernel.mr, kernel.nr);
    const int64_t mr = tiling.mr, nr = tiling.nr;

    const AlignedBuffer<T> projection = input_projection(s, a, n_threads);
    const AlignedBuffer<T> weight = pack_weight_hh_forward(a.weight_hh, G, tiling);

    // The state, double-buffered: step t reads one half and writes the other.
    AlignedBuffer<T> h_state(2 * B * H), c_state(lstm ? 2 * B * H : 0);
    for (int64_t i = 0; i < B * H; ++i) h_state.data()[i] = a.h0 ? a.h0[i] : T(0);
    for (int64_t i = 0; lstm && i < B * H; ++i) c_state.data()[i] = a.c0 ? a.c0[i] : T(0);

    const int threads = threads_for(n_threads, tiling.tasks());
    const int64_t a_size = pad_to_line(mr * H), tile_size = pad_to_line(G * mr * nr);
    const int64_t per_thread = a_size + tile_size + pad_to_line(G * nr) + pad_to_line(nr);
    AlignedBuffer<T> scratch(threads * per_thread);

#pragma omp parallel num_threads(threads)
    {
        DenormalGuard denormals;
        T* a_panel = scratch.data() + omp_get_thread_num() * per_thread;
        T* tile = a_panel + a_size;
        T* gates_scratch = tile + tile_size;
        T* aux_scratch = gates_scratch + pad_to_line(G * nr);

        for (int64_t step = 0; step < steps; ++step) {
            const int64_t t = s.time_at(step);
            const T* h_prev = h_state.data() + (step % 2) * B * H;
            T* h_next = h_state.data() + ((step + 1) % 2) * B * H;
            const T* c_prev = lstm ? c_state.data() + (step % 2) * B * H : nullptr;
            T* c_next = lstm ? c_state.data() + ((step + 1) % 2) * B * H : nullptr;

#pragma omp for schedule(static)
            for (int64_t task = 0; task < tiling.tasks(); ++task) {
                const int64_t b0 = tiling.row0(task), j0 = tiling.col0(task);
                const int64_t rows = tiling.rows(task), cols = tiling.cols(task);
                pack_panel(MatrixView<T>{h_prev + b0 * H, H, 1}, H, rows, mr, a_panel);
                for (int64_t g = 0; g < G; ++g)
                    kernel.fn(H, a_panel, weight.data() + (tiling.block(task) * G + g) * H * nr,
                              tile + g * mr * nr, nr, mr, nr, false);

                for (int64_t r = 0; r < rows; ++r) {
                    const int64_t b = b0 + r, state = b * H + j0, bt = b * steps + t;
                    if (training) {
                        copy_n(h_prev + state, cols, a.cache.h_prev + bt * H + j0);
                        if (lstm) copy_n(c_prev + state, cols, a.cache.c_prev + bt * H + j0);
                    }
                    T* out = a.output + bt * H + j0;
                    if (!is_valid(a.lengths, b, t)) {  // padding: carry the state, output 0
                        copy_n(h_prev + state, cols, h_next + state);
                        if (lstm) copy_n(c_prev + state, cols, c_next + state);
                        std::fill(out, out + cols, T(0));
                        continue;
                    }
                    CellForwardRow<T> row;
                    row.recurrent = tile + r * nr;
                    row.recurrent_stride = mr * nr;
                    row.projection = projection.data() + bt * GH + j0;
                    row.bias_hn = gru ? a.bias_hh + 2 * H + j0 : nullptr;
                    row.h_prev = h_prev + state;
                    row.c_prev = lstm ? c_prev + state : nullptr;
                    row.hidden = H;
                    row.h = h_next + state;
                    row.c = lstm ? c_next + state : nullptr;
                    row.gates = training ? a.cache.gates + bt * GH + j0 : gates_scratch;
                    row.gates_stride = training ? H : nr;
                    row.aux = training && a.cache.aux ? a.cache.aux + bt * H + j0 : aux_scratch;
                    cell.forward(row, cols);
                    copy_n(row.h, cols, out);
                }
            }
        }
    }
    const int64_t final_half = (steps % 2) * B * H;
    copy_n(h_state.data() + final_half, B * H, a.h_n);
    if (lstm) copy_n(c_state.data() + final_half, B * H, a.c_n);
}

template <class T>
void sequence_backward(const SequenceShape& s, const BackwardArgs<T>& a, int n_threads) {
    const int64_t B = s.batch, steps = s.steps, I = s.input, H = s.hidden, G = s.gates();
    const int64_t GH = G * H, rows_all = B * steps, window = a.bptt_steps;
    const bool lstm = s.cell == Cell::lstm, gru = s.cell == Cell::gru;
    const MicroKernel<T> kernel = select_microkernel<T>();
    const CellKernels<T> cell = cell_kernels<T>(s.cell, s.activation);
    const RecurrentTiling tiling(B, H, kernel.mr, kernel.nr);
    const int64_t mr = tiling.mr, nr = tiling.nr;

    // Gradients w.r.t. every step's gate pre-activations: only the element-wise
    // part and d_h_{t-1} run inside the loop; the weight gradients, d_x and the
    // bias sums are single large products over all B*T rows after it.
    AlignedBuffer<T> d_gates_ih(rows_all * GH), d_gates_hh_gru(gru ? rows_all * GH : 0);
    T* d_gates_hh = gru ? d_gates_hh_gru.data() : d_gates_ih.data();
    const AlignedBuffer<T> weight = pack_weight_hh_backward(a.weight_hh, G, tiling);

    // What flows from the step just handled to the one before it: the part of
    // d_h that bypasses W_hh (and padding's pass-through), and d_c.
    AlignedBuffer<T> carry_h(B * H), carry_c(lstm ? B * H : 0);
    for (int64_t i = 0; i < B * H; ++i) carry_h.data()[i] = a.d_h_n ? a.d_h_n[i] : T(0);
    for (int64_t i = 0; lstm && i < B * H; ++i) carry_c.data()[i] = a.d_c_n ? a.d_c_n[i] : T(0);

    const int threads = threads_for(n_threads, tiling.tasks());
    const int64_t a_size = pad_to_line(mr * GH), tile_size = pad_to_line(mr * nr);
    const int64_t per_thread = a_size + tile_size + 2 * pad_to_line(nr);
    AlignedBuffer<T> scratch(threads * per_thread);

#pragma omp parallel num_threads(threads)
    {
        DenormalGuard denormals;
        T* a_panel = scratch.data() + omp_get_thread_num() * per_thread;
        T* tile = a_panel + a_size;
        T* d_h = tile + tile_size;
        T* d_c = d_h + pad_to_line(nr);

        // Steps in reverse processing order; the extra last pass yields d_h0.
        for (int64_t back = 0; back <= steps; ++back) {
            const bool first = back == 0, to_h0 = back == steps;
            const int64_t t = to_h0 ? -1 : s.time_at(steps - 1 - back);
            const int64_t t_later = first ? -1 : s.time_at(steps - back);

#pragma omp for schedule(static)
            for (int64_t task = 0; task < tiling.tasks(); ++task) {
                const int64_t b0 = tiling.row0(task), j0 = tiling.col0(task);
                const int64_t rows = tiling.rows(task), cols = tiling.cols(task);
                if (first) {
                    std::fill(tile, tile + mr * nr, T(0));
                } else {  // d_gates of the later step times W_hh: this step's d_h through W_hh
                    pack_panel(
                        MatrixView<T>{d_gates_hh + (b0 * steps + t_later) * GH, steps * GH, 1}, GH,
                        rows, mr, a_panel);
                    kernel.fn(GH, a_panel, weight.data() + tiling.block(task) * GH * nr, tile, nr,
                              mr, nr, false);
                }

                for (int64_t r = 0; r < rows; ++r) {
                    const int64_t b = b0 + r, state = b * H + j0;
                    const T* through_w = tile + r * nr;
                    T* carried_h = carry_h.data() + state;
                    if (to_h0) {
                        for (int64_t j = 0; j < cols; ++j)
                            a.d_h0[state + j] = through_w[j] + carried_h[j];
                        continue;
                    }
                    const bool valid = is_valid(a.lengths, b, t);
                    const bool later_valid = !first && is_valid(a.lengths, b, t_later);
                    // Truncated BPTT: no gradient between two processed steps in
                    // different windows; padding never cuts.
                    const bool cut =
                        window > 0 && valid && later_valid && t / window != t_later / window;
                    const int64_t bt = b * steps + t;
                    const T* d_out = a.d_output + bt * H + j0;
                    for (int64_t j = 0; j < cols; ++j) {
                        const T from_later = cut ? T(0) : through_w[j] + carried_h[j];
                        d_h[j] = valid ? d_out[j] + from_later : from_later;
                    }
                    if (lstm)
                        for (int64_t j = 0; j < cols; ++j)
                            d_c[j] = cut ? T(0) : carry_c.data()[state + j];

                    if (!valid) {  // padding: gradients pass through to the step before
                        for (int64_t g = 0; g < G; ++g) {
                            std::fill_n(d_gates_ih.data() + bt * GH + g * H + j0, cols, T(0));
                            if (gru) std::fill_n(d_gates_hh + bt * GH + g * H + j0, cols, T(0));
                        }
                        copy_n(d_h, cols, carried_h);
                        if (lstm) copy_n(d_c, cols, carry_c.data() + state);
                        continue;
                    }
                    CellBackwardRow<T> row;
                    row.d_h = d_h;
                    row.d_c = lstm ? d_c : nullptr;
                    row.gates = a.cache.gates + bt * GH + j0;
                    row.aux = a.cache.aux ? a.cache.aux + bt * H + j0 : nullptr;
                    row.h_prev = a.cache.h_prev + bt * H + j0;
                    row.c_prev = lstm ? a.cache.c_prev + bt * H + j0 : nullptr;
                    row.hidden = H;
                    row.d_gates_ih = d_gates_ih.data() + bt * GH + j0;
                    row.d_gates_hh = d_gates_hh + bt * GH + j0;
                    row.d_h_prev = carried_h;
                    row.d_c_prev = lstm ? carry_c.data() + state : nullptr;
                    cell.backward(row, cols);
                }
            }
        }
    }
    if (lstm) copy_n(carry_c.data(), B * H, a.d_c0);

    const MatrixView<T> d_ih_t{d_gates_ih.data(), 1, GH}, d_hh_t{d_gates_hh, 1, GH};
    gemm<T>({GH, I, rows_all}, d_ih_t, MatrixView<T>{a.x, I, 1}, a.d_weight_ih, I, false,
            n_threads);
    gemm<T>({GH, H, rows_all}, d_hh_t, MatrixView<T>{a.cache.h_prev, H, 1}, a.d_weight_hh, H, false,
            n_threads);
    gemm<T>({rows_all, I, GH}, d_ih_t.transposed(), MatrixView<T>{a.weight_ih, I, 1}, a.d_x, I,
            false, n_threads);
    column_sums(d_gates_ih.data(), rows_all, GH, a.d_bias_ih, n_threads);
    column_sums(d_gates_hh, rows_all, GH, a.d_bias_hh, n_threads);
}

template void sequence_forward<float>(const SequenceShape&, const ForwardArgs<float>&, int);
template void sequence_forward<double>(const SequenceShape&, const ForwardArgs<double>&, int);
template void sequence_backward<float>(const SequenceShape&, const BackwardArgs<float>&, int);
template void sequence_backward<double>(const SequenceShape&, const BackwardArgs<double>&, int);

}  // namespace rnnkit
