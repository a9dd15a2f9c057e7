// The cells compiled for AVX2 (flags in CMakeLists.txt): the same sources as
// the portable build, in namespace cells_avx2, picked at run time by cell_kernels.
#define RNNKIT_CELLS_NAMESPACE cells_avx2
#include "cells/gru.cpp"
#include "cells/lstm.cpp"
#include "cells/rnn.cpp"
