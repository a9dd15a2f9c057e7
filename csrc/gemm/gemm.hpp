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

// IN a (m x k), b (k x n); OUT c (m x n, row stride ldc); IN accumulate: C += A B.
template <class T>
void gemm(const GemmShape& shape, MatrixView<T> a, MatrixView<T> b, T* c, int64_t ldc,
          bool accumulate, int n_threads, Isa isa = Isa::best);

}  // namespace rnnkit
