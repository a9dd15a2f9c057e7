// The time loop of one recurrent layer in one direction: forward over a
// batch-first sequence, and backpropagation through time.
//
// Semantics are torch.nn.RNN / LSTM / GRU(batch_first=True) for one layer and
// direction, with PyTorch's packed-sequence meaning of `lengths`: step t is
// valid for row b iff t < lengths[b]; at other steps the state is carried
// unchanged and the output is 0.
#pragma once

#include <cstdint>

#include "common/shapes.hpp"
#include "gemm/microkernel.hpp"

namespace rnnkit {

// What the forward keeps for the backward, step-major: row t * B + b, so that
// the rows a step touches are contiguous. All nullptr for inference.
template <class T>
struct SequenceCache {
    T* gates;   // (T, B, G*H) activations: rnn h_t; lstm i, f, g, o; gru r, z, n (rows of
                // padded steps are left unwritten or hold the input projection; the
                // backward never reads them)
    T* aux;     // (T, B, H) lstm act(c_t); gru W_hn h_{t-1} + b_hn; unused for rnn
    T* h_prev;  // (T, B, H) the state entering step t
    T* c_prev;  // (T, B, H) lstm: the cell state entering step t
};

template <class T>
struct ForwardArgs {
    // IN
    const T* x;              // (B, T, I)
    const T* weight_ih;      // (G*H, I)
    const T* weight_hh;      // (G*H, H)
    const T* bias_ih;        // (G*H)
    const T* bias_hh;        // (G*H)
    const T* h0;             // (B, H) or nullptr for zeros
    const T* c0;             // (B, H) or nullptr for zeros (lstm)
    const int64_t* lengths;  // (B) in [1, T], or nullptr for all T
    // SCRATCH
    T* projection;  // (T, B, G*H) for inference's input projection, or nullptr to allocate
                    // it; used only by batches smaller than a micro-kernel tile, which
                    // project every step's input before the time loop (training projects
                    // into cache.gates). Larger batches add it inside each step's tile.
    // OUT
    T* output;               // (B, T, H), or nullptr when only h_n is wanted
    T* h_n;                  // (B, H)
    T* c_n;                  // (B, H) lstm, else nullptr
    SequenceCache<T> cache;  // OUT, training only
};

template <class T>
struct BackwardArgs {
    // IN
    const T* x;
    const T* weight_ih;
    const T* weight_hh;
    const int64_t* lengths;
    SequenceCache<const T> cache;  // IN, but cache.gates and cache.aux may also be the
                                   // d_gates and d_hn below, which consume them
    const T* d_output;             // (B, T, H), or nullptr for zeros; ignored at padded steps
    const T* d_h_n;                // (B, H) or nullptr
    const T* d_c_n;                // (B, H) or nullptr (lstm)
    int64_t bptt_steps;            // window of truncated BPTT; 0 for full BPTT
    // SCRATCH (IN/OUT when they are the cache's own buffers)
    T* d_gates;  // (T, B, G*H) the gradients w.r.t. each step's gate pre-activations
                 // (as W_ih sees them): scratch, and may be cache.gates itself, which
                 // the backward then consumes; each row is read before it is written
    T* d_hn;     // (T, B, H) gru: the n gate's gradient as W_hh sees it (r * d_n);
                 // scratch, and may be cache.aux itself, likewise consumed
    // OUT
    T* d_x;          // (B, T, I), or nullptr when not wanted (a network's first layer)
    T* d_h0;         // (B, H)
    T* d_c0;         // (B, H) lstm, else nullptr
    T* d_weight_ih;  // (G*H, I)
    T* d_weight_hh;  // (G*H, H)
    T* d_bias_ih;    // (G*H)
    T* d_bias_hh;    // (G*H)
};

template <class T>
void sequence_forward(const SequenceShape& shape, const ForwardArgs<T>& args, Execution run);

template <class T>
void sequence_backward(const SequenceShape& shape, const BackwardArgs<T>& args, Execution run);

}  // namespace rnnkit
