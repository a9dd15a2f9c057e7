// The OpenMP runtime calls the kernels make, or their single-threaded answers in a
// build without OpenMP (Apple's clang has none unless libomp is installed; CMake then
// builds a serial rnnkit). The kernels' `#pragma omp` directives need nothing here:
// a compiler without OpenMP ignores them, which leaves each parallel region run by a
// team of one, and every region is written to give the same bits for any team size.
#pragma once

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace rnnkit {

#ifdef _OPENMP
constexpr bool kOpenMP = true;
inline int thread_index() { return omp_get_thread_num(); }
inline int team_size() { return omp_get_num_threads(); }
// OMP_NUM_THREADS's count, within OMP_THREAD_LIMIT (which caps every team, and which
// omp_get_max_threads does not apply).
inline int default_threads() { return std::min(omp_get_max_threads(), omp_get_thread_limit()); }
#else
constexpr bool kOpenMP = false;
inline int thread_index() { return 0; }
inline int team_size() { return 1; }
inline int default_threads() { return 1; }
#endif

}  // namespace rnnkit
