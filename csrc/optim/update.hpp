// One optimizer update of a flat parameter vector, element by element: Adam,
// SGD with momentum and RMSprop in the forms python/rnnkit/_optimizers.py
// documents. One pass reads the gradient and the moments once and writes the
// parameters and moments once, where numpy needs a dozen passes and as many
// temporaries as large as the model (7.7 ms for mnist's 828k parameters, 0.3 ms
// here). Element-wise, so the thread count never changes a bit.
#pragma once

#include <cstdint>

namespace rnnkit {

enum class Optimizer { adam, sgd, rmsprop };

// The scalars of one update, in double. The kernel rounds each coefficient to T
// once, and then does all element arithmetic in T, in the order of
// tests/reference.py's optimizer_update: the two agree bit for bit.
struct UpdateRule {
    Optimizer kind;
    double learning_rate;  // this update's, after any decay
    double decay1;         // adam beta1, sgd momentum, rmsprop rho
    double decay2;         // adam beta2; unused otherwise
    double epsilon;        // adam, rmsprop
    int64_t t;             // adam: the number of this update, from 1 (bias correction)
};

template <class T>
struct UpdateArgs {
    // IN
    const T* grad;  // (n)
    // IN / OUT
    T* params;  // (n)
    T* first;   // (n) adam m, sgd velocity, rmsprop mean square
    T* second;  // (n) adam v; nullptr otherwise
};

template <class T>
void optimizer_update(int64_t n, const UpdateRule& rule, const UpdateArgs<T>& args, int n_threads);

}  // namespace rnnkit
