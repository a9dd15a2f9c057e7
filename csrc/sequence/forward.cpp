// sequence_forward: a layer's time loop, inference and training.

#include <algorithm>

#include "cells/cell.hpp"
#include "common/aligned_buffer.hpp"
#include "common/parallel.hpp"
#include "common/prefetch.hpp"
#include "sequence/gate_tiles.hpp"
#include "sequence/rows.hpp"
#include "sequence/sequence.hpp"
#include "sequence/step_inputs.hpp"
#include "sequence/tiling.hpp"

namespace rnnkit {

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
    const bool side_by_side = GateTiles<T>::side_by_side(kernel, s, threads_by_blocks, run.isa);
    // Batch 1's gates side by side: one single-row kernel as wide as all of them.
    if (side_by_side && kernel.mr == 1) kernel = select_row_microkernel<T>(run.isa, GH);
    const CellKernels<T> cell = cell_kernels<T>(s.cell, s.activation, run.isa);
    RecurrentTiling tiling(B, H, kernel.mr, side_by_side ? H : kernel.nr);
    const GateTiles<T> tiles(kernel, tiling, G, side_by_side);

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
    const int64_t per_thread = tile_size + input_size;
    AlignedBuffer<T> scratch(schedule.threads * per_thread);

    schedule.run(tiling, steps, n_threads, [&](int64_t step, int64_t task, int thread) {
        T* tile = scratch.data() + thread * per_thread;
        T* input_scratch = tile + tile_size;
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
                const int64_t b = b0 + r;
                prefetch_cache_row(s, a.cache, t_next * B + b, j0, cols);
                prefetch(h_later + b * H + j0, cols);
                if (lstm) prefetch(c_later + b * H + j0, cols);
            }
        }
        // The tile's rows of h_{t-1} are read where the last step wrote them.
        tiles.multiply({task, MatrixView<T>{h_prev + b0 * H, H, 1}, rows, weight.data(), H, 0, H,
                        tile, false});
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
                row.bias_hn = gru ? a.bias_hh + kGruNewGate * H + j0 : nullptr;
                row.h_prev = h_prev + state;
                row.c_prev = lstm ? c_prev + state : nullptr;
                row.leak_rate = leak_rate;
                row.h = h_next + state;
                row.c = lstm ? c_next + state : nullptr;
                row.gates = training ? a.cache.gates + tb * GH + j0 : nullptr;  // not kept
                row.gates_stride = H;
                row.aux = training && a.cache.aux ? a.cache.aux + tb * H + j0 : nullptr;
                cell.forward(row, cols);
                if (out) copy_n(row.h, cols, out);
            }
        }
    });
    copy_n(h_before(steps), B * H, a.h_n);
    if (lstm) copy_n(c_before(steps), B * H, a.c_n);
}

template void sequence_forward<float>(const SequenceShape&, const ForwardArgs<float>&, Execution);
template void sequence_forward<double>(const SequenceShape&, const ForwardArgs<double>&, Execution);

}  // namespace rnnkit
