// The loop over a row's hidden units that every cell's element-wise math runs in.
//
// `omp simd` alone vectorizes whole vectors, then (GCC's epilogue) one unmasked
// vector of half the width, and leaves what is left to scalar code: GCC 12 has
// no masked epilogue on x86. For H = 50 (tiles of 32 and 18) that is 2 of every
// 18 units, and the scalar sigmoid and tanh, with compares and branches where
// the vectors blend, cost as much as the vectors before them. So the units
// left after the half-width vector run as one more vector whose loads and
// stores are masked to the units that exist: the same per-lane arithmetic, so
// the same bits. One-thread inference of an LSTM layer ran 1.04x faster at
// H = 50 and 1.08x at H = 100 (GRU: 1.06x). The half-width vector stays
// unmasked: masking cosine's 8-unit tiles instead made its RNN 2% slower.
//
// A cell writes its per-unit body once, reading and writing through the `lane`
// it is given, which is either every lane or the masked tail.
#pragma once

#include <cstdint>
#include <type_traits>

namespace rnnkit {
namespace {

// Bytes of the vectors this file is compiled for (each ISA's copy of the cells
// has its own); 0 where there are no masked loads and stores to use.
#if defined(__AVX512F__)
constexpr int kMaskedVectorBytes = 64;
#elif defined(__AVX2__)
constexpr int kMaskedVectorBytes = 32;
#else
constexpr int kMaskedVectorBytes = 0;
#endif

// Every unit of the vector exists.
struct AllLanes {
    template <class T>
    T load(const T* p, int64_t j) const {
        return p[j];
    }
    template <class T>
    void store(T* p, int64_t j, T value) const {
        p[j] = value;
    }
};

// Only units before the row's end exist: the others read 0 and are not written,
// so the vector never touches memory past the row (masked loads do not fault).
struct TailLanes {
    bool active;
    template <class T>
    T load(const T* p, int64_t j) const {
        return active ? p[j] : T(0);
    }
    template <class T>
    void store(T* p, int64_t j, T value) const {
        if (active) p[j] = value;
    }
};

// body(j, lane) for each unit j in [0, n). The body must not carry anything from
// one unit to another (`omp simd`), and must read each element it also writes
// before writing it (the cells' in-place uses, see CellForwardRow). `flatten`
// inlines the body into both loops, without which neither would vectorize.
template <class T, class Body>
__attribute__((flatten)) inline void for_each_unit(int64_t n, Body&& body) {
    constexpr int64_t width = kMaskedVectorBytes / int64_t(sizeof(T));
    // What is left after whole and half-width vectors (n >= 0, width a power of 2).
    const int64_t rest = width > 1 ? n & (width / 2 - 1) : 0, whole = n - rest;
#pragma omp simd
    for (int64_t j = 0; j < whole; ++j) body(j, AllLanes{});
    if constexpr (width > 1) {
        if (rest == 0) return;
#pragma omp simd
        for (int64_t k = 0; k < width; ++k) body(whole + k, TailLanes{k < rest});
    }
}

// body(std::true_type{}) for a row that keeps its activations for the backward
// (training: `gates` set), body(std::false_type{}) in inference, whose loop then has
// no stores of them, nor the scratch rows they went to: stock's LSTM inference
// 1.02-1.03x faster at batch 1 and 32, gru B64 1.01-1.02x, mnist batch 1 0.97-1.01x
// (in-process A/Bs, within the noise there).
template <class Row, class Body>
inline void with_kept_activations(const Row& row, Body&& body) {
    if (row.gates)
        body(std::true_type{});
    else
        body(std::false_type{});
}

}  // namespace
}  // namespace rnnkit
