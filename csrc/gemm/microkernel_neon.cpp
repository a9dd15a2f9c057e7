// NEON micro-kernels for AArch64, where NEON is part of the base ISA: built only for an
// aarch64 target. vfmaq is a fused multiply-add per lane, as std::fma and the x86
// kernels' FMAs are, so these give the same bits as the generic kernel.
#include <arm_neon.h>

#include "gemm/microkernel.hpp"
#include "gemm/microkernel_simd.hpp"

namespace rnnkit {
namespace {

struct NeonF32 {
    using scalar = float;
    using vec = float32x4_t;
    static constexpr int width = 4;
    static vec load(const float* p) { return vld1q_f32(p); }
    static void store(float* p, vec v) { vst1q_f32(p, v); }
    static vec set1(float x) { return vdupq_n_f32(x); }
    static vec fma(vec a, vec b, vec c) { return vfmaq_f32(c, a, b); }  // c + a * b, fused
    static vec add(vec a, vec b) { return vaddq_f32(a, b); }
    static vec zero() { return vdupq_n_f32(0.0f); }
};

struct NeonF64 {
    using scalar = double;
    using vec = float64x2_t;
    static constexpr int width = 2;
    static vec load(const double* p) { return vld1q_f64(p); }
    static void store(double* p, vec v) { vst1q_f64(p, v); }
    static vec set1(double x) { return vdupq_n_f64(x); }
    static vec fma(vec a, vec b, vec c) { return vfmaq_f64(c, a, b); }
    static vec add(vec a, vec b) { return vaddq_f64(a, b); }
    static vec zero() { return vdupq_n_f64(0.0); }
};

}  // namespace
}  // namespace rnnkit

// 8 x 8 floats / 8 x 4 doubles: 16 accumulators of the 32 vector registers, as many
// independent FMA chains as 4 FMA pipes of 4 cycles' latency keep busy.
RNNKIT_DEFINE_MICROKERNELS(microkernels_neon, "neon", NeonF32, NeonF64, 8, 16)
