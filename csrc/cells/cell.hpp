// Element-wise ("post-GEMM") math of one cell for one batch row and a run of
// hidden units [j0, j0 + n), forward and backward. The time loop
// (sequence/forward.cpp, backward.cpp) calls these on each output tile while it is in cache.
//
// The loops over hidden units are for_each_unit's (cells/lanes.hpp), `omp simd`:
// the arrays of one row never overlap, and GCC would otherwise give up on
// proving it. Vector, masked-vector and scalar lanes round identically: no implicit
// contraction, and the fused multiply-adds are written out (fp::mul_add), one
// correctly rounded operation in every lane.
//
// Gate g of a hidden unit j lives at offset g * gate_stride + j in every
// gate-shaped array; pointers below are already offset to (row, j0).
#pragma once

#include <cstdint>

#include "common/shapes.hpp"
#include "gemm/microkernel.hpp"

namespace rnnkit {

template <class T>
struct CellForwardRow {
    // IN
    const T* recurrent;  // h_{t-1} W_hh^T (no bias), gate g at + g * recurrent_stride
    int64_t recurrent_stride;
    // x_t W_ih^T + b_ih + b_hh (gru: without b_hn), gate g at + g * projection_stride.
    // In training it may be `gates` itself (the forward can project the input into the
    // cache it then fills): each element's projection is read before its activation is
    // written, and the two pointers are not declared __restrict.
    const T* projection;
    int64_t projection_stride;
    const T* bias_hn;  // gru: b_hn, applied inside r * (W_hn h + b_hn)
    const T* h_prev;
    const T* c_prev;  // lstm
    T leak_rate;      // rnn: a in (0, 1], h_t = (1 - a) h_{t-1} + a y_t; 1 for the plain cell
    // OUT
    T* h;
    T* c;      // lstm
    T* gates;  // activations, gate g at + g * gates_stride, kept for the backward; nullptr
               // in inference, which writes neither them nor aux
    int64_t gates_stride;
    T* aux;  // lstm: act(c_t); gru: W_hn h_{t-1} + b_hn
};

template <class T>
struct CellBackwardRow {
    // IN
    const T* d_h;    // dL/dh_t, all paths
    const T* d_c;    // lstm: dL/dc_t from the later step
    const T* gates;  // the forward's activations, gate stride H
    const T* aux;
    const T* h_prev;
    const T* c_prev;
    int64_t hidden;  // H
    T leak_rate;     // rnn: as in CellForwardRow
    // OUT (gate stride H)
    // dL/d(pre-activation), as seen by W_ih, b_ih and x. May be `gates` itself (the
    // backward reuses the consumed cache): each element's gates are read before its
    // gradients are written, and the two pointers are not declared __restrict.
    T* d_gates_ih;
    // gru: dL/d(W_hn h_{t-1} + b_hn) = r * d_n, the one gate whose gradient W_hh sees
    // differently from W_ih (r and z: the same). May be `aux` itself, read first.
    T* d_hn;
    T* d_h_prev;  // the part of dL/dh_{t-1} that bypasses W_hh (gru: z * d_h; rnn: (1 - a) * d_h)
    T* d_c_prev;  // lstm: dL/dc_{t-1}
};

// One cell's pair of row functions, for one dtype and activation.
template <class T>
struct CellKernels {
    void (*forward)(const CellForwardRow<T>& row, int64_t n);
    void (*backward)(const CellBackwardRow<T>& row, int64_t n);
};

// Each cell source is compiled once per instruction set (see CMakeLists.txt and
// cells_avx2.cpp / cells_avx512.cpp), its entry points in that ISA's namespace.
// Vector lanes round like scalar code (no implicit contraction; fp::mul_add is one
// rounding everywhere), so all give the same bits; wider vectors only make the
// element-wise math faster.
#define RNNKIT_DECLARE_CELLS(isa_namespace)             \
    namespace isa_namespace {                           \
    template <class T>                                  \
    CellKernels<T> rnn_kernels(Activation activation);  \
    template <class T>                                  \
    CellKernels<T> lstm_kernels(Activation activation); \
    template <class T>                                  \
    CellKernels<T> gru_kernels(Activation activation);  \
    }

RNNKIT_DECLARE_CELLS(cells_generic)
#ifdef RNNKIT_X86
RNNKIT_DECLARE_CELLS(cells_avx2)
RNNKIT_DECLARE_CELLS(cells_avx512)
#endif
#undef RNNKIT_DECLARE_CELLS

// The row functions of `cell` for `activation`, compiled for `isa` (Isa::best:
// the widest this CPU supports). Throws std::invalid_argument for an ISA the
// CPU or the build lacks.
template <class T>
CellKernels<T> cell_kernels(Cell cell, Activation activation, Isa isa = Isa::best);

}  // namespace rnnkit
