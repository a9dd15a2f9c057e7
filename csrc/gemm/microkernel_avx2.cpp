// AVX2 + FMA micro-kernels. Compiled with -mavx2 -mfma; reached only after a CPU check.
#include <immintrin.h>

#include "gemm/microkernel.hpp"
#include "gemm/microkernel_simd.hpp"

namespace rnnkit {
namespace {

struct Avx2F32 {
    using scalar = float;
    using vec = __m256;
    static constexpr int width = 8;
    static vec load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
    static vec set1(float x) { return _mm256_set1_ps(x); }
    static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
    static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
    static vec zero() { return _mm256_setzero_ps(); }
};

struct Avx2F64 {
    using scalar = double;
    using vec = __m256d;
    static constexpr int width = 4;
    static vec load(const double* p) { return _mm256_loadu_pd(p); }
    static void store(double* p, vec v) { _mm256_storeu_pd(p, v); }
    static vec set1(double x) { return _mm256_set1_pd(x); }
    static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_pd(a, b, c); }
    static vec add(vec a, vec b) { return _mm256_add_pd(a, b); }
    static vec zero() { return _mm256_setzero_pd(); }
};

}  // namespace
}  // namespace rnnkit

// 6 x 16 floats / 6 x 8 doubles: 12 accumulators of the 16 ymm registers.
RNNKIT_DEFINE_MICROKERNELS(microkernels_avx2, "avx2", Avx2F32, Avx2F64, 6, 8)
