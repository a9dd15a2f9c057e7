// Elman RNN: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).
#include "cells/cell.hpp"
#include "cells/cell_dispatch.hpp"
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
        const T* __restrict rec = row.recurrent;
        const T* __restrict proj = row.projection;
        T* __restrict h = row.h;
        T* __restrict out = row.gates;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
            const T y = activate<A>(proj[j] + rec[j]);
            out[j] = y;
            h[j] = y;
        }
    }

    static void backward(const CellBackwardRow<T>& row, int64_t n) {
        const T* __restrict d_h = row.d_h;
        const T* __restrict y = row.gates;
        T* __restrict d_pre = row.d_gates_ih;
        T* __restrict d_h_prev = row.d_h_prev;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
            const T d = d_h[j] * activate_grad<A>(y[j]);
            d_pre[j] = d;
            d_h_prev[j] = T(0);
        }
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
