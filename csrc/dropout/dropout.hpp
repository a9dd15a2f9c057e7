// Inverted dropout of a flat array: each element is kept with probability
// 1 - rate and scaled by 1 / (1 - rate), or zeroed, and the mask is returned for
// the backward.
//
// Element i's uniform 32-bit draw is the low (i even) or high (i odd) half of
// SplitMix64's output number i / 2 for the seed, and the element is dropped when
// the draw is below min(ceil(rate * 2^32), 2^32 - 1). numpy's generator made the
// draws one array at a time (0.16 ms of a stock LSTM layer's 0.6 ms forward, 2.4
// ns an element); this counter-based hash gives element i's draw from (seed, i)
// alone: 0.85 ns an element on one core, no state, and the same bits for any
// thread count.
#pragma once

#include <cstdint>

namespace rnnkit {

struct DropoutShape {
    int64_t n;      // elements
    double rate;    // in [0, 1): the probability of zeroing an element
    uint64_t seed;  // one per call, drawn by the caller's generator
};

template <class T>
struct DropoutArgs {
    // IN
    const T* input;  // (n)
    // OUT
    T* output;  // (n) input * mask
    T* mask;    // (n) 1 / (1 - rate) where kept, 0 where dropped
};

template <class T>
void dropout(const DropoutShape& shape, const DropoutArgs<T>& args, int n_threads);

}  // namespace rnnkit
