#include "optim/update.hpp"

#include <algorithm>
#include <cmath>

#include "common/parallel.hpp"
#include "common/shapes.hpp"

namespace rnnkit {
namespace {

// Elements per task: 16 KiB of float32 per array, so a task's five streams stay
// in L1 and tasks are many enough to balance.
constexpr int64_t kBlock = 4096;

// Each rule updates elements [begin, end); the coefficients are rounded to T once
// by the caller. No __restrict: the vectors are distinct by contract, and
// `omp simd` vectorizes without it.
template <class T>
struct Adam {
    T b1, c1, b2, c2, bias2, eps, step;
    void operator()(const UpdateArgs<T>& a, int64_t begin, int64_t end) const {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) {
            const T g = a.grad[i];
            const T m = a.first[i] * b1 + c1 * g;
            const T v = a.second[i] * b2 + c2 * (g * g);
            a.first[i] = m;
            a.second[i] = v;
            a.params[i] = a.params[i] - step * (m / (std::sqrt(v) / bias2 + eps));
        }
    }
};

template <class T>
struct Sgd {
    T momentum, lr;
    void operator()(const UpdateArgs<T>& a, int64_t begin, int64_t end) const {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) {
            const T velocity = a.first[i] * momentum + a.grad[i];
            a.first[i] = velocity;
            a.params[i] = a.params[i] - lr * velocity;
        }
    }
};

template <class T>
struct RmsProp {
    T rho, c, eps, lr;
    void operator()(const UpdateArgs<T>& a, int64_t begin, int64_t end) const {
#pragma omp simd
        for (int64_t i = begin; i < end; ++i) {
            const T g = a.grad[i];
            const T square = a.first[i] * rho + c * (g * g);
            a.first[i] = square;
            a.params[i] = a.params[i] - lr * (g / std::sqrt(square + eps));
        }
    }
};

template <class T, class Rule>
void run_blocks(int64_t n, const Rule& rule, const UpdateArgs<T>& args, int n_threads) {
    const int64_t n_blocks = ceil_div(n, kBlock);
    // About eight operations an element; memory-bound beyond L2.
    const int threads = threads_for(n_threads, n_blocks, 8 * n);
    parallel_for(n_threads, threads, n_blocks, [&](int64_t block) {
        rule(args, block * kBlock, std::min(n, (block + 1) * kBlock));
    });
}

}  // namespace

template <class T>
void optimizer_update(int64_t n, const UpdateRule& rule, const UpdateArgs<T>& args, int n_threads) {
    const double lr = rule.learning_rate;
    switch (rule.kind) {
        case Optimizer::adam: {
            const double t = static_cast<double>(rule.t);
            const Adam<T> adam{T(rule.decay1),
                               T(1.0 - rule.decay1),
                               T(rule.decay2),
                               T(1.0 - rule.decay2),
                               T(std::sqrt(1.0 - std::pow(rule.decay2, t))),
                               T(rule.epsilon),
                               T(lr / (1.0 - std::pow(rule.decay1, t)))};
            run_blocks(n, adam, args, n_threads);
            break;
        }
        case Optimizer::sgd:
            run_blocks(n, Sgd<T>{T(rule.decay1), T(lr)}, args, n_threads);
            break;
        case Optimizer::rmsprop:
            run_blocks(n, RmsProp<T>{T(rule.decay1), T(1.0 - rule.decay1), T(rule.epsilon), T(lr)},
                       args, n_threads);
            break;
    }
}

template void optimizer_update<float>(int64_t, const UpdateRule&, const UpdateArgs<float>&, int);
template void optimizer_update<double>(int64_t, const UpdateRule&, const UpdateArgs<double>&, int);

}  // namespace rnnkit
