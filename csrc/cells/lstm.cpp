// LSTM, PyTorch's gate order i, f, g, o:
//   c_t = f * c_{t-1} + i * g,  h_t = o * act(c_t),  i, f, o = sigmoid, g = act.
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
struct LstmRow {
    static void forward(const CellForwardRow<T>& row, int64_t n) {
        const int64_t rs = row.recurrent_stride, ps = row.projection_stride, gs = row.gates_stride;
        const T* __restrict rec_i = row.recurrent;
        const T* __restrict rec_f = row.recurrent + rs;
        const T* __restrict rec_g = row.recurrent + 2 * rs;
        const T* __restrict rec_o = row.recurrent + 3 * rs;
        const T* proj_i = row.projection;
        const T* proj_f = row.projection + ps;
        const T* proj_g = row.projection + 2 * ps;
        const T* proj_o = row.projection + 3 * ps;
        const T* __restrict c_prev = row.c_prev;
        T* out_i = row.gates;
        T* out_f = row.gates + gs;
        T* out_g = row.gates + 2 * gs;
        T* out_o = row.gates + 3 * gs;
        T* __restrict act_c = row.aux;
        T* __restrict h = row.h;
        T* __restrict c = row.c;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
            const T i = sigmoid(proj_i[j] + rec_i[j]);
            const T f = sigmoid(proj_f[j] + rec_f[j]);
            const T g = activate<A>(proj_g[j] + rec_g[j]);
            const T o = sigmoid(proj_o[j] + rec_o[j]);
            const T c_t = f * c_prev[j] + i * g;
            const T a = activate<A>(c_t);
            out_i[j] = i;
            out_f[j] = f;
            out_g[j] = g;
            out_o[j] = o;
            act_c[j] = a;
            c[j] = c_t;
            h[j] = o * a;
        }
    }

    static void backward(const CellBackwardRow<T>& row, int64_t n) {
        const int64_t H = row.hidden;
        const T* __restrict d_h = row.d_h;
        const T* __restrict d_c_next = row.d_c;
        const T* gate_i = row.gates;
        const T* gate_f = row.gates + H;
        const T* gate_g = row.gates + 2 * H;
        const T* gate_o = row.gates + 3 * H;
        const T* __restrict act_c = row.aux;
        const T* __restrict c_prev = row.c_prev;
        T* d_i = row.d_gates_ih;
        T* d_f = row.d_gates_ih + H;
        T* d_g = row.d_gates_ih + 2 * H;
        T* d_o = row.d_gates_ih + 3 * H;
        T* __restrict d_h_prev = row.d_h_prev;
        T* __restrict d_c_prev = row.d_c_prev;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
            const T i = gate_i[j], f = gate_f[j], g = gate_g[j], o = gate_o[j], a = act_c[j];
            const T d_c = d_c_next[j] + d_h[j] * o * activate_grad<A>(a);
            d_i[j] = d_c * g * sigmoid_grad(i);
            d_f[j] = d_c * c_prev[j] * sigmoid_grad(f);
            d_g[j] = d_c * i * activate_grad<A>(g);
            d_o[j] = d_h[j] * a * sigmoid_grad(o);
            d_c_prev[j] = d_c * f;
            d_h_prev[j] = T(0);
        }
    }
};

}  // namespace

namespace RNNKIT_CELLS_NAMESPACE {

template <class T>
CellKernels<T> lstm_kernels(Activation activation) {
    return detail::kernels_for<T, LstmRow>(activation);
}

template CellKernels<float> lstm_kernels<float>(Activation);
template CellKernels<double> lstm_kernels<double>(Activation);

}  // namespace RNNKIT_CELLS_NAMESPACE

}  // namespace rnnkit
