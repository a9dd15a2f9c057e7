// Element-wise activations and their derivatives.
//
// exp is our own (Cody-Waite range reduction + Cephes polynomials) rather than
// std::exp so that loops over hidden units vectorize (where fma is an instruction;
// see fp::mul_add): the code is branch-free and uses only +, -, *, /, fused
// multiply-add and bit operations, each correctly rounded, so a lane of a vector
// computes exactly what the scalar code computes. That keeps results independent of
// where a hidden unit falls in a tile or which thread owns it. Accuracy: within 2
// ulp of the true exp on its range, which is below float32 rounding for float and
// ~1e-16 relative for double. As the cells compute them (tests/test_activations.py,
// on every ISA): float tanh within 1.19 ulp of the exact value, sigmoid 2.24 ulp
// while its result is a normal number; double within 1 and 4 ulp of numpy's.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/shapes.hpp"

namespace rnnkit {
// Internal linkage: the cells are compiled once per ISA, and each copy must keep
// its own inlined functions rather than share whichever one the linker picks.
namespace {
namespace fp {

// std::bit_cast is C++20, __builtin_bit_cast GCC 11+; a 4- or 8-byte memcpy compiles
// to the same register move and vectorizes the same.
template <class To, class From>
inline To bit_cast(From from) {
    static_assert(sizeof(To) == sizeof(From), "bit_cast between types of one size");
    To to;
    std::memcpy(&to, &from, sizeof(To));
    return to;
}

// a * b + c, rounded once. Written out rather than left to contraction, which
// -ffp-contract=off forbids, so that every copy of the cells computes the same
// bits: the AVX2 and AVX-512 copies (-mfma) and AArch64 make it one vector
// instruction. Half the instructions of a polynomial, and one rounding instead of
// two: stock's LSTM layer predicted 1.03x faster, and float64 tanh came within 1 ulp
// instead of 2. The portable x86-64 copy (for CPUs without AVX2, and builds with
// RNNKIT_SIMD_KERNELS=OFF) calls libm's fma, exact too but a scalar call, so its cell
// loops no longer vectorize: its one-thread LSTM inference took 1.25x longer at H = 50
// and 1.05x at H = 256, where its GEMM, which calls fma for every multiply-add, counts
// for more.
inline float mul_add(float a, float b, float c) { return std::fma(a, b, c); }
inline double mul_add(double a, double b, double c) { return std::fma(a, b, c); }

}  // namespace fp

// exp(x) = mantissa * scale (2^n), the product left to the caller: the activations
// need 1 + exp(x), one fused multiply-add from the two.
template <class T>
struct ExpParts {
    T mantissa, scale;
};

// The x in which exp_parts holds: exp(lo) is a normal number, exp(hi) finite.
// Outside, its parts are meaningless (never a trap or UB); the callers select
// their saturated values there.
template <class T>
struct ExpRange;
template <>
struct ExpRange<float> {
    static constexpr float lo = -87.3f, hi = 88.3f;
};
template <>
struct ExpRange<double> {
    static constexpr double lo = -708.0, hi = 709.0;
};

inline ExpParts<float> exp_parts(float x) {
    // Adding 1.5 * 2^23 rounds x * log2(e) to the nearest integer n, which then
    // sits in the low mantissa bits: no float->int conversion instruction needed.
    const float magic = 12582912.0f;
    const float t = fp::mul_add(x, 1.44269504088896341f, magic);
    const float n = t - magic;
    // Unsigned: a NaN input makes n anything, and a signed shift of it would be UB.
    const uint32_t ni = fp::bit_cast<uint32_t>(t) - fp::bit_cast<uint32_t>(magic);
    const float r = fp::mul_add(-n, -2.12194440e-4f, fp::mul_add(-n, 0.693359375f, x));
    float p = 1.9875691500e-4f;
    p = fp::mul_add(p, r, 1.3981999507e-3f);
    p = fp::mul_add(p, r, 8.3334519073e-3f);
    p = fp::mul_add(p, r, 4.1665795894e-2f);
    p = fp::mul_add(p, r, 1.6666665459e-1f);
    p = fp::mul_add(p, r, 5.0000001201e-1f);
    p = fp::mul_add(p, r * r, r) + 1.0f;
    return {p, fp::bit_cast<float>((ni + 127u) << 23)};
}

inline ExpParts<double> exp_parts(double x) {
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    const double t = fp::mul_add(x, 1.4426950408889634074, magic);
    const double n = t - magic;
    const uint64_t ni = fp::bit_cast<uint64_t>(t) - fp::bit_cast<uint64_t>(magic);
    const double r =
        fp::mul_add(-n, 1.42860682030941723212e-6, fp::mul_add(-n, 6.93145751953125e-1, x));
    const double rr = r * r;
    const double px =
        r * fp::mul_add(fp::mul_add(1.26177193074810590878e-4, rr, 3.02994407707441961300e-2), rr,
                        9.99999999999999999910e-1);
    const double qx = fp::mul_add(
        fp::mul_add(fp::mul_add(3.00198505138664455042e-6, rr, 2.52448340349684104192e-3), rr,
                    2.27265548208155028766e-1),
        rr, 2.00000000000000000009e0);
    return {fp::mul_add(2.0, px / (qx - px), 1.0), fp::bit_cast<double>((ni + 1023u) << 52)};
}

template <class T>
inline T one_plus_exp(T x) {
    const ExpParts<T> e = exp_parts(x);
    return fp::mul_add(e.mantissa, e.scale, T(1));
}

// 1 / (1 + exp(-x)). Outside exp's range the result is selected after the arithmetic,
// not made by clamping x before it: a clamp put two compares and two blends at the
// head of every gate's chain of dependent instructions, and its cost showed in short
// rows (stock's 50 units: its LSTM layer predicted 1.11x faster without). The values
// selected are what the clamped formula gave on x86-64 and AArch64: 1, and 0
// (1 / (1 + exp(hi)) is a denormal, which the kernels flush there; targets without
// flushing, which kept that denormal, now get 0 as well).
template <class T>
inline T sigmoid(T x) {
    const T y = T(1) / one_plus_exp(-x);
    return x > -ExpRange<T>::lo ? T(1) : (x < -ExpRange<T>::hi ? T(0) : y);
}

// tanh: a polynomial near 0, where 1 - 2 / (exp(2x) + 1) would cancel, and the
// exp form elsewhere; both are computed and one selected, so no branch.
inline float tanh_small(float x) {
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = fp::mul_add(p, z, 2.06390887954e-2f);
    p = fp::mul_add(p, z, -5.37397155531e-2f);
    p = fp::mul_add(p, z, 1.33314422036e-1f);
    p = fp::mul_add(p, z, -3.33332819422e-1f);
    return fp::mul_add(p * z, x, x);
}

inline double tanh_small(double x) {
    const double z = x * x;
    const double p =
        fp::mul_add(fp::mul_add(-9.64399179425052238628e-1, z, -9.92877231001918586564e1), z,
                    -1.61468768441708447952e3);
    const double q =
        fp::mul_add(fp::mul_add(z + 1.12811678491632931402e2, z, 2.23548839060100448583e3), z,
                    4.84406305325125486048e3);
    return fp::mul_add(x, z * (p / q), x);
}

template <class T>
inline T tanh(T x) {
    const T ax = x < T(0) ? -x : x;
    // Past exp's range 2 / (1 + exp(2 |x|)) is below half an ulp of 1 (selected as sigmoid).
    const T large = T(2) * ax > ExpRange<T>::hi ? T(1) : T(1) - T(2) / one_plus_exp(T(2) * ax);
    const T signed_large = x < T(0) ? -large : large;
    return ax < T(0.625) ? tanh_small(x) : signed_large;
}

template <Activation A, class T>
inline T activate(T x) {
    if constexpr (A == Activation::tanh) {
        return tanh(x);
    } else if constexpr (A == Activation::relu) {
        return x < T(0) ? T(0) : x;  // NaN passes through, as in torch.relu
    } else {
        return x;
    }
}

// Derivative written in terms of the activation's output y = act(x), which is
// what the forward pass keeps. relu'(0) = 0, as in PyTorch.
template <Activation A, class T>
inline T activate_grad(T y) {
    if constexpr (A == Activation::tanh) {
        return fp::mul_add(-y, y, T(1));
    } else if constexpr (A == Activation::relu) {
        return y <= T(0) ? T(0) : T(1);  // a NaN output passes its gradient on, as in torch
    } else {
        return T(1);
    }
}

// sigmoid'(x) from y = sigmoid(x).
template <class T>
inline T sigmoid_grad(T y) {
    return y * (T(1) - y);
}

}  // namespace
}  // namespace rnnkit
