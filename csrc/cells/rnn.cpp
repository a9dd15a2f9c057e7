// Elman RNN: y_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_t = y_t; with a leak
// rate a < 1 a leaky integrator (echo state networks): h_t = (1 - a) h_{t-1} + a y_t.
// a == 1 takes its own loop, so the plain cell's arithmetic (and bits) stay as they are.
#include "cells/cell.hpp"
#include "cells/cell_dispatch.hpp"
#include "cells/lanes.hpp"
#include "common/activations.hpp"

// This file is compiled once per ISA; cells_avx2.cpp and cells_avx512.cpp include it
// with RNNKIT_CELLS_NAMESPACE set to their namespace.
#ifndef RNNKIT_CELLS_NAMESPACE
#define RNNKIT_CELLS_NAMESPACE cells_generic
#endif

namespace rnnkit {
namespace {

template <class T, Activation A>
struct RnnRow {
    static void forward(const CellForwardRow<T>& row, int64_t n) {
        const T* rec = row.recurrent;
        const T* proj = row.projection;
        const T* h_prev = row.h_prev;
        T* h = row.h;
        T* out = row.gates;
        const T leak = row.leak_rate, kept_state = T(1) - row.leak_rate;
        with_kept_activations(row, [&](auto keep) {
            if (row.leak_rate == T(1)) {
                for_each_unit<T>(n, [&](int64_t j, auto lane) {
                    const T y = activate<A>(lane.load(proj, j) + lane.load(rec, j));
                    if constexpr (decltype(keep)::value) lane.store(out, j, y);
                    lane.store(h, j, y);
                });
                return;
            }
            for_each_unit<T>(n, [&](int64_t j, auto lane) {
                const T y = activate<A>(lane.load(proj, j) + lane.load(rec, j));
                if constexpr (decltype(keep)::value) lane.store(out, j, y);
                lane.store(h, j, fp::mul_add(leak, y, kept_state * lane.load(h_prev, j)));
            });
        });
    }

    static void backward(const CellBackwardRow<T>& row, int64_t n) {
        const T* d_h = row.d_h;
        const T* y = row.gates;
        T* d_pre = row.d_gates_ih;
        T* d_h_prev = row.d_h_prev;
        if (row.leak_rate == T(1)) {
            for_each_unit<T>(n, [&](int64_t j, auto lane) {
                lane.store(d_pre, j, lane.load(d_h, j) * activate_grad<A>(lane.load(y, j)));
                lane.store(d_h_prev, j, T(0));
            });
            return;
        }
        // d(pre-activation) = a * d_h * act'(y); the (1 - a) h_{t-1} term bypasses W_hh.
        const T leak = row.leak_rate, keep = T(1) - row.leak_rate;
        for_each_unit<T>(n, [&](int64_t j, auto lane) {
            const T d_h_j = lane.load(d_h, j);
            lane.store(d_pre, j, leak * d_h_j * activate_grad<A>(lane.load(y, j)));
            lane.store(d_h_prev, j, keep * d_h_j);
        });
    }
};

}  // namespace

namespace RNNKIT_CELLS_NAMESPACE {

template <class T>
CellKernels<T> rnn_kernels(Activation activation) {
    return detail::kernels_for<T, RnnRow>(activation);
}

template CellKernels<float> rnn_kernels<float>(Activation);
template CellKernels<double> rnn_kernels<double>(Activation);

}  // namespace RNNKIT_CELLS_NAMESPACE

}  // namespace rnnkit
