// The cells compiled for AVX512 (flags in CMakeLists.txt): the same sources as
// the portable build, in namespace cells_avx512, picked at run time by cell_kernels.
#define RNNKIT_CELLS_NAMESPACE cells_avx512
#include "cells/gru.cpp"
#include "cells/lstm.cpp"
#include "cells/rnn.cpp"
