// Element-wise activations and their derivatives.
//
// exp is our own (Cody-Waite range reduction + Cephes polynomials) rather than
// std::exp so that loops over hidden units vectorize: the code is branch-free
// and uses only +, -, *, / and bit operations, each correctly rounded, so a
// lane of a vector computes exactly what the scalar code computes. That keeps
// results independent of where a hidden unit falls in a tile or which thread
// owns it. Accuracy: within 2 ulp of the true exp on the clamped range, which
// is below float32 rounding for float and ~1e-16 relative for double. As the
// cells compute them (tests/test_activations.py, on every ISA): float tanh
// within 1.2 ulp of the exact value, sigmoid 2.5 ulp while its result is a
// normal number; double within 2 and 4 ulp of numpy's.
#pragma once

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

inline float clamp(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
inline double clamp(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

}  // namespace fp

// exp(x) for x in [-87.3, 88.3] (clamped outside; saturates sigmoid/tanh exactly).
inline float fast_exp(float x) {
    x = fp::clamp(x, -87.3f, 88.3f);
    // Adding 1.5 * 2^23 rounds x * log2(e) to the nearest integer n, which then
    // sits in the low mantissa bits: no float->int conversion instruction needed.
    const float magic = 12582912.0f;
    const float t = x * 1.44269504088896341f + magic;
    const float n = t - magic;
    // Unsigned: a NaN input makes n anything, and a signed shift of it would be UB.
    const uint32_t ni = fp::bit_cast<uint32_t>(t) - fp::bit_cast<uint32_t>(magic);
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = (p * (r * r) + r) + 1.0f;
    return p * fp::bit_cast<float>((ni + 127u) << 23);
}

// exp(x) for x in [-708, 709] (clamped outside).
inline double fast_exp(double x) {
    x = fp::clamp(x, -708.0, 709.0);
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    const double t = x * 1.4426950408889634074 + magic;
    const double n = t - magic;
    const uint64_t ni = fp::bit_cast<uint64_t>(t) - fp::bit_cast<uint64_t>(magic);
    const double r = (x - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
    const double rr = r * r;
    const double px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr +
                           9.99999999999999999910e-1);
    const double qx = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr +
                       2.27265548208155028766e-1) *
                          rr +
                      2.00000000000000000009e0;
    const double e = 1.0 + 2.0 * (px / (qx - px));
    return e * fp::bit_cast<double>((ni + 1023u) << 52);
}

template <class T>
inline T sigmoid(T x) {
    return T(1) / (T(1) + fast_exp(-x));
}

// tanh: a polynomial near 0, where 1 - 2 / (exp(2x) + 1) would cancel, and the
// exp form elsewhere; both are computed and one selected, so no branch.
inline float tanh_small(float x) {
    const float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    return (p * z) * x + x;
}

inline double tanh_small(double x) {
    const double z = x * x;
    const double p =
        (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3;
    const double q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z +
                     4.84406305325125486048e3;
    return x + x * (z * (p / q));
}

template <class T>
inline T tanh(T x) {
    const T ax = x < T(0) ? -x : x;
    const T large = T(1) - T(2) / (fast_exp(T(2) * ax) + T(1));
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
        return T(1) - y * y;
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
