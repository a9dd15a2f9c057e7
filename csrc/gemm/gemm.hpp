// General matrix multiply C = A B or C += A B, packed and cache-blocked, on
// OpenMP threads that split C into blocks (never the k sum): bitwise identical
// results for any thread count.
#pragma once

#include <cstdint>

#include "gemm/microkernel.hpp"
#include "gemm/pack.hpp"

namespace rnnkit {

struct GemmShape {
    int64_t m;  // rows of A and C
    int64_t n;  // columns of B and C
    int64_t k;  // columns of A, rows of B
};

// Depth of one packed block. Fixed for every ISA and dtype: the blocking of
// the k sum is part of the result's rounding, so it must never vary.
constexpr int64_t kGemmDepthBlock = 256;

template <class T>
struct GemmArgs {
    MatrixView<T> a;          // IN (m x k)
    MatrixView<T> b;          // IN (k x n)
    T* c;                     // OUT (m x n), rows ldc apart; also IN with accumulate
    int64_t ldc;              // IN
    bool accumulate = false;  // IN: C += A B instead of C = A B
};

template <class T>
void gemm(const GemmShape& shape, const GemmArgs<T>& args, Execution run);

}  // namespace rnnkit
