// AVX-512F micro-kernels. Compiled with -mavx512f -mavx2 -mfma; reached only after a CPU
// check for all three.
#include <immintrin.h>

#include "gemm/microkernel.hpp"
#include "gemm/microkernel_simd.hpp"

namespace rnnkit {
namespace {

struct Avx512F32 {
    using scalar = float;
    using vec = __m512;
    static constexpr int width = 16;
    static vec load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
    static vec set1(float x) { return _mm512_set1_ps(x); }
    static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
    static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
    static vec zero() { return _mm512_setzero_ps(); }
};

struct Avx512F64 {
    using scalar = double;
    using vec = __m512d;
    static constexpr int width = 8;
    static vec load(const double* p) { return _mm512_loadu_pd(p); }
    static void store(double* p, vec v) { _mm512_storeu_pd(p, v); }
    static vec set1(double x) { return _mm512_set1_pd(x); }
    static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_pd(a, b, c); }
    static vec add(vec a, vec b) { return _mm512_add_pd(a, b); }
    static vec zero() { return _mm512_setzero_pd(); }
};

}  // namespace
}  // namespace rnnkit

// 8 x 32 floats / 8 x 16 doubles: 16 accumulators of the 32 zmm registers,
// leaving room for the B vectors and the broadcasts.
RNNKIT_DEFINE_MICROKERNELS(microkernels_avx512, "avx512", Avx512F32, Avx512F64, 8, 16)
