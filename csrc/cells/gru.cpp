// GRU, PyTorch's gate order r, z, n:
//   n = act(W_in x + b_in + r * (W_hn h_{t-1} + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}.
// b_hn sits inside the reset product, so the n gate's gradient differs between
// the input side (d_gates_ih) and the recurrent side (d_hn = r * that).
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
struct GruRow {
    static void forward(const CellForwardRow<T>& row, int64_t n) {
        const int64_t rs = row.recurrent_stride, ps = row.projection_stride, gs = row.gates_stride;
        const T* rec_r = row.recurrent;
        const T* rec_z = row.recurrent + rs;
        const T* rec_n = row.recurrent + 2 * rs;
        const T* proj_r = row.projection;
        const T* proj_z = row.projection + ps;
        const T* proj_n = row.projection + 2 * ps;
        const T* b_hn = row.bias_hn;
        const T* h_prev = row.h_prev;
        T* out_r = row.gates;
        T* out_z = row.gates + gs;
        T* out_n = row.gates + 2 * gs;
        T* hn_lin = row.aux;
        T* h = row.h;
        with_kept_activations(row, [&](auto keep) {
            for_each_unit<T>(n, [&](int64_t j, auto lane) {
                const T r = sigmoid(lane.load(proj_r, j) + lane.load(rec_r, j));
                const T z = sigmoid(lane.load(proj_z, j) + lane.load(rec_z, j));
                const T hn = lane.load(rec_n, j) + lane.load(b_hn, j);
                const T nn = activate<A>(fp::mul_add(r, hn, lane.load(proj_n, j)));
                if constexpr (decltype(keep)::value) {
                    lane.store(out_r, j, r);
                    lane.store(out_z, j, z);
                    lane.store(out_n, j, nn);
                    lane.store(hn_lin, j, hn);
                }
                // (1 - z) n + z h_{t-1} as PyTorch's cells compute it: n + z (h_{t-1} - n).
                lane.store(h, j, fp::mul_add(z, lane.load(h_prev, j) - nn, nn));
            });
        });
    }

    static void backward(const CellBackwardRow<T>& row, int64_t n) {
        const int64_t H = row.hidden;
        const T* d_h = row.d_h;
        const T* gate_r = row.gates;
        const T* gate_z = row.gates + H;
        const T* gate_n = row.gates + 2 * H;
        const T* hn_lin = row.aux;
        const T* h_prev = row.h_prev;
        T* d_ih_r = row.d_gates_ih;
        T* d_ih_z = row.d_gates_ih + H;
        T* d_ih_n = row.d_gates_ih + 2 * H;
        T* d_hn = row.d_hn;
        T* d_h_prev = row.d_h_prev;
        for_each_unit<T>(n, [&](int64_t j, auto lane) {
            const T r = lane.load(gate_r, j), z = lane.load(gate_z, j), nn = lane.load(gate_n, j);
            const T d_h_j = lane.load(d_h, j);
            const T d_n = d_h_j * (T(1) - z) * activate_grad<A>(nn);
            const T d_z = d_h_j * (lane.load(h_prev, j) - nn) * sigmoid_grad(z);
            const T d_r = d_n * lane.load(hn_lin, j) * sigmoid_grad(r);
            lane.store(d_ih_r, j, d_r);
            lane.store(d_ih_z, j, d_z);
            lane.store(d_ih_n, j, d_n);
            lane.store(d_hn, j, d_n * r);
            lane.store(d_h_prev, j, d_h_j * z);
        });
    }
};

}  // namespace

namespace RNNKIT_CELLS_NAMESPACE {

template <class T>
CellKernels<T> gru_kernels(Activation activation) {
    return detail::kernels_for<T, GruRow>(activation);
}

template CellKernels<float> gru_kernels<float>(Activation);
template CellKernels<double> gru_kernels<double>(Activation);

}  // namespace RNNKIT_CELLS_NAMESPACE

}  // namespace rnnkit
