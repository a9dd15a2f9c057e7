// Turns row functions templated on the activation into a CellKernels table,
// so the activation is a compile-time constant inside the vectorized loops.
#pragma once

#include "cells/cell.hpp"

namespace rnnkit::detail {

template <class T, template <class, Activation> class Cell>
CellKernels<T> kernels_for(Activation activation) {
    switch (activation) {
        case Activation::relu:
            return {&Cell<T, Activation::relu>::forward, &Cell<T, Activation::relu>::backward};
        case Activation::linear:
            return {&Cell<T, Activation::linear>::forward, &Cell<T, Activation::linear>::backward};
        default:
            return {&Cell<T, Activation::tanh>::forward, &Cell<T, Activation::tanh>::backward};
    }
}

}  // namespace rnnkit::detail
