// Run-time choice of the cells' instruction set, as for the GEMM micro-kernels.
#include "cells/cell.hpp"

namespace rnnkit {
namespace {

template <class T, class Table>
CellKernels<T> from_table(Cell cell, Activation activation) {
    switch (cell) {
        case Cell::lstm:
            return Table::template lstm<T>(activation);
        case Cell::gru:
            return Table::template gru<T>(activation);
        default:
            return Table::template rnn<T>(activation);
    }
}

#define RNNKIT_CELL_TABLE(name, isa_namespace)        \
    struct name {                                     \
        template <class T>                            \
        static CellKernels<T> rnn(Activation a) {     \
            return isa_namespace::rnn_kernels<T>(a);  \
        }                                             \
        template <class T>                            \
        static CellKernels<T> lstm(Activation a) {    \
            return isa_namespace::lstm_kernels<T>(a); \
        }                                             \
        template <class T>                            \
        static CellKernels<T> gru(Activation a) {     \
            return isa_namespace::gru_kernels<T>(a);  \
        }                                             \
    };
RNNKIT_CELL_TABLE(GenericCells, cells_generic)
#ifdef RNNKIT_X86
RNNKIT_CELL_TABLE(Avx2Cells, cells_avx2)
RNNKIT_CELL_TABLE(Avx512Cells, cells_avx512)
#endif
#undef RNNKIT_CELL_TABLE

}  // namespace

template <class T>
CellKernels<T> cell_kernels(Cell cell, Activation activation, Isa isa) {
    switch (resolve_isa(isa)) {
#ifdef RNNKIT_X86
        case Isa::avx512:
            return from_table<T, Avx512Cells>(cell, activation);
        case Isa::avx2:
            return from_table<T, Avx2Cells>(cell, activation);
#endif
        default:  // neon too: AArch64's base ISA vectorizes the generic cell math itself
            return from_table<T, GenericCells>(cell, activation);
    }
}

template CellKernels<float> cell_kernels<float>(Cell, Activation, Isa);
template CellKernels<double> cell_kernels<double>(Cell, Activation, Isa);

}  // namespace rnnkit
