// Portable micro-kernel for CPUs (and architectures) without a SIMD kernel.
// std::fma keeps its arithmetic identical to the SIMD kernels' fused chains.
#include <cmath>

#include "gemm/microkernel.hpp"
#include "gemm/microkernel_store.hpp"

namespace rnnkit {
namespace {

constexpr int kMr = 4;
constexpr int kNr = 4;

template <class T, int MR>
void generic_microkernel(const TileArgs<T>& args) {
    T acc[MR * kNr] = {};
    for (int64_t k = 0; k < args.kc; ++k)
        for (int i = 0; i < args.m; ++i)
            for (int j = 0; j < kNr; ++j)
                acc[i * kNr + j] =
                    std::fma(*args.a.at(i, k), args.b[k * kNr + j], acc[i * kNr + j]);
    detail::store_tile(acc, kNr, args);
}

}  // namespace

MicroKernel<float> microkernel_generic_f32() {
    return {kMr, kNr, &generic_microkernel<float, kMr>, "generic"};
}
MicroKernel<double> microkernel_generic_f64() {
    return {kMr, kNr, &generic_microkernel<double, kMr>, "generic"};
}
MicroKernel<float> microkernel_generic_row_f32(int64_t /*columns*/) {
    return {1, kNr, &generic_microkernel<float, 1>, "generic"};
}
MicroKernel<double> microkernel_generic_row_f64(int64_t /*columns*/) {
    return {1, kNr, &generic_microkernel<double, 1>, "generic"};
}

}  // namespace rnnkit
