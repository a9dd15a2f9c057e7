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

namespace microkernels_generic {

template <class T>
MicroKernel<T> full() {
    return {kMr, kNr, &generic_microkernel<T, kMr>, "generic"};
}

template <class T>
MicroKernel<T> row(int64_t /*columns*/) {
    return {1, kNr, &generic_microkernel<T, 1>, "generic"};
}

template MicroKernel<float> full<float>();
template MicroKernel<double> full<double>();
template MicroKernel<float> row<float>(int64_t);
template MicroKernel<double> row<double>(int64_t);

}  // namespace microkernels_generic

}  // namespace rnnkit
