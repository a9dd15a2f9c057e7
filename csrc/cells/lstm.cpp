// LSTM, PyTorch's gate order i, f, g, o:
//   c_t = f * c_{t-1} + i * g,  h_t = o * act(c_t),  i, f, o = sigmoid, g = act.
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
struct LstmRow {
    static void forward(const CellForwardRow<T>& row, int64_t n) {
        const int64_t rs = row.recurrent_stride, ps = row.projection_stride, gs = row.gates_stride;
        const T* rec_i = row.recurrent;
        const T* rec_f = row.recurrent + rs;
        const T* rec_g = row.recurrent + 2 * rs;
        const T* rec_o = row.recurrent + 3 * rs;
        const T* proj_i = row.projection;
        const T* proj_f = row.projection + ps;
        const T* proj_g = row.projection + 2 * ps;
        const T* proj_o = row.projection + 3 * ps;
        const T* c_prev = row.c_prev;
        T* out_i = row.gates;
        T* out_f = row.gates + gs;
        T* out_g = row.gates + 2 * gs;
        T* out_o = row.gates + 3 * gs;
        T* act_c = row.aux;
        T* h = row.h;
        T* c = row.c;
        with_kept_activations(row, [&](auto keep) {
            for_each_unit<T>(n, [&](int64_t j, auto lane) {
                const T i = sigmoid(lane.load(proj_i, j) + lane.load(rec_i, j));
                const T f = sigmoid(lane.load(proj_f, j) + lane.load(rec_f, j));
                const T g = activate<A>(lane.load(proj_g, j) + lane.load(rec_g, j));
                const T o = sigmoid(lane.load(proj_o, j) + lane.load(rec_o, j));
                const T c_t = fp::mul_add(f, lane.load(c_prev, j), i * g);
                const T a = activate<A>(c_t);
                if constexpr (decltype(keep)::value) {
                    lane.store(out_i, j, i);
                    lane.store(out_f, j, f);
                    lane.store(out_g, j, g);
                    lane.store(out_o, j, o);
                    lane.store(act_c, j, a);
                }
                lane.store(c, j, c_t);
                lane.store(h, j, o * a);
            });
        });
    }

    static void backward(const CellBackwardRow<T>& row, int64_t n) {
        const int64_t H = row.hidden;
        const T* d_h = row.d_h;
        const T* d_c_next = row.d_c;
        const T* gate_i = row.gates;
        const T* gate_f = row.gates + H;
        const T* gate_g = row.gates + 2 * H;
        const T* gate_o = row.gates + 3 * H;
        const T* act_c = row.aux;
        const T* c_prev = row.c_prev;
        T* d_i = row.d_gates_ih;
        T* d_f = row.d_gates_ih + H;
        T* d_g = row.d_gates_ih + 2 * H;
        T* d_o = row.d_gates_ih + 3 * H;
        T* d_h_prev = row.d_h_prev;
        T* d_c_prev = row.d_c_prev;
        for_each_unit<T>(n, [&](int64_t j, auto lane) {
            const T i = lane.load(gate_i, j), f = lane.load(gate_f, j);
            const T g = lane.load(gate_g, j), o = lane.load(gate_o, j), a = lane.load(act_c, j);
            const T d_h_j = lane.load(d_h, j);
            const T d_c = fp::mul_add(d_h_j * o, activate_grad<A>(a), lane.load(d_c_next, j));
            lane.store(d_i, j, d_c * g * sigmoid_grad(i));
            lane.store(d_f, j, d_c * lane.load(c_prev, j) * sigmoid_grad(f));
            lane.store(d_g, j, d_c * i * activate_grad<A>(g));
            lane.store(d_o, j, d_h_j * a * sigmoid_grad(o));
            lane.store(d_c_prev, j, d_c * f);
            lane.store(d_h_prev, j, T(0));
        });
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
