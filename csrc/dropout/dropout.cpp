#include "dropout/dropout.hpp"

#include <algorithm>
#include <cmath>

#include "common/parallel.hpp"
#include "common/shapes.hpp"

namespace rnnkit {
namespace {

// Elements per task (even: a 64-bit draw serves two elements).
constexpr int64_t kBlock = 8192;

// SplitMix64 (Steele, Lea and Flood 2014): output number k of the generator
// started at `seed`, computed directly from k. Its outputs pass BigCrush, far
// more than the independence of dropout masks needs.
inline uint64_t splitmix64(uint64_t seed, uint64_t k) {
    uint64_t z = seed + (k + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Draws below this are dropped: P(drop) = threshold / 2^32, the rate to within 2^-32
// (a rate above 1 - 2^-32 keeps one draw in 2^32).
uint32_t drop_threshold(double rate) {
    return static_cast<uint32_t>(std::min(std::ceil(rate * 4294967296.0), 4294967295.0));
}

// What an element's draw decides: dropped below `threshold`, else scaled by `scale`.
template <class T>
struct KeepRule {
    uint32_t threshold;
    T scale;
};

// Elements [begin, end), begin even. Two passes over a chunk that stays in L1: the
// draws (scalar 64-bit hashes, two elements each), then the mask and the product,
// which vectorize.
template <class T>
void dropout_block(const DropoutShape& shape, const DropoutArgs<T>& args, KeepRule<T> keep,
                   int64_t begin, int64_t end) {
    constexpr int64_t kChunk = 512;
    uint32_t draws[kChunk];
    for (int64_t start = begin; start < end; start += kChunk) {
        const int64_t count = std::min(kChunk, end - start);
        const uint64_t first_pair = static_cast<uint64_t>(start / 2);
        for (int64_t p = 0; p < (count + 1) / 2; ++p) {
            const uint64_t word = splitmix64(shape.seed, first_pair + p);
            draws[2 * p] = static_cast<uint32_t>(word);
            draws[2 * p + 1] = static_cast<uint32_t>(word >> 32);
        }
        const T* input = args.input + start;
        T* mask = args.mask + start;
        T* output = args.output + start;
        // A select, not a branch: a random 20% of mispredicted branches cost more
        // than the whole hash.
#pragma omp simd
        for (int64_t i = 0; i < count; ++i) {
            const T kept = draws[i] >= keep.threshold ? keep.scale : T(0);
            mask[i] = kept;
            output[i] = input[i] * kept;
        }
    }
}

}  // namespace

template <class T>
void dropout(const DropoutShape& shape, const DropoutArgs<T>& args, int n_threads) {
    const KeepRule<T> keep{drop_threshold(shape.rate), T(1.0 / (1.0 - shape.rate))};
    const int64_t n_blocks = ceil_div(shape.n, kBlock);
    // About sixteen operations an element (the hash, shared by two, and the product).
    const int threads = threads_for(n_threads, n_blocks, 16 * shape.n);
    parallel_for(n_threads, threads, n_blocks, [&](int64_t block) {
        dropout_block(shape, args, keep, block * kBlock, std::min(shape.n, (block + 1) * kBlock));
    });
}

template void dropout<float>(const DropoutShape&, const DropoutArgs<float>&, int);
template void dropout<double>(const DropoutShape&, const DropoutArgs<double>&, int);

}  // namespace rnnkit
