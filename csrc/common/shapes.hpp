// Problem sizes and options shared by every kernel: one struct instead of long
// parameter lists.
#pragma once

#include <cstdint>

namespace rnnkit {

// Blocks of size b that cover a elements (a >= 0, b > 0).
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

enum class Cell { rnn, lstm, gru };
enum class Activation { tanh, relu, linear };

// Gates per cell, in PyTorch's order: rnn 1; lstm i, f, g, o; gru r, z, n.
inline int64_t n_gates(Cell cell) {
    switch (cell) {
        case Cell::lstm:
            return 4;
        case Cell::gru:
            return 3;
        default:
            return 1;
    }
}

// GRU's new gate n, the third of r, z, n, whose rows start at kGruNewGate * H: the one
// gate whose recurrent product (W_hn h + b_hn) the reset gate multiplies, so the
// layer loops treat its rows apart.
constexpr int64_t kGruNewGate = 2;

// A strided read-only matrix: element (i, j) is data[i * row_stride + j * col_stride].
// Transposition is only a swap of the strides.
template <class T>
struct MatrixView {
    const T* data;
    int64_t row_stride;
    int64_t col_stride;

    MatrixView transposed() const { return {data, col_stride, row_stride}; }
    const T* at(int64_t i, int64_t j) const { return data + i * row_stride + j * col_stride; }
};

// Rows of a row-major matrix, `ld` elements apart.
template <class T>
struct RowMajor {
    T* data;
    int64_t ld;
};

// One recurrent layer in one direction over a batch-first (B, T, I) input.
struct SequenceShape {
    int64_t batch;
    int64_t steps;
    int64_t input;
    int64_t hidden;
    Cell cell;
    Activation activation;
    bool reverse;
    // rnn only, in (0, 1]: h_t = (1 - a) h_{t-1} + a act(...), a leaky integrator
    // (echo state networks). 1 is the plain Elman cell, computed exactly as without it.
    double leak_rate = 1.0;

    int64_t gates() const { return n_gates(cell); }
    // Time index processed at position `step` of the forward order.
    int64_t time_at(int64_t step) const { return reverse ? steps - 1 - step : step; }
};

}  // namespace rnnkit
