// Portable micro-kernel for CPUs (and architectures) without a SIMD kernel.
// std::fma keeps its arithmetic identical to the SIMD kernels' fused chains.
#include <cmath>

#include "gemm/microkernel.hpp"
#include "gemm/microkernel_store.hpp"

namespace rnnkit {
namespace {

constexpr int kMr = 4;
constexpr int kNr = 4;

template <class T>
void generic_microkernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t m,
                         int64_t n, bool accumulate) {
    T acc[kMr * kNr] = {};
    for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < kMr; ++i)
            for (int j = 0; j < kNr; ++j)
                acc[i * kNr + j] = std::fma(a[k * kMr + i], b[k * kNr + j], acc[i * kNr + j]);
    detail::store_tile(acc, kNr, c, ldc, m, n, accumulate);
}

}  // namespace

MicroKernel<float> microkernel_generic_f32() {
    return {kMr, kNr, &generic_microkernel<float>, "generic"};
}
MicroKernel<double> microkernel_generic_f64() {
    return {kMr, kNr, &generic_microkernel<double>, "generic"};
}

}  // namespace rnnkit
