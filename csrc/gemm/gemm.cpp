#include "gemm/gemm.hpp"

#include <algorithm>
#include <atomic>
#include <memory>

#include "common/aligned_buffer.hpp"
#include "common/openmp.hpp"
#include "common/parallel.hpp"
#include "common/shapes.hpp"

namespace rnnkit {
namespace {

// Largest block sizes in units of the kernel's tile: an A block (mc x kc) and a
// B block (kc x nc) together stay within a 1 MiB L2 for float and double.
constexpr int64_t kRowPanelsPerBlock = 12;
constexpr int64_t kColPanelsPerBlock = 8;

// Columns of B packed at once: each depth block's packed B (up to kGemmDepthBlock x
// this) stays within an L2 and a small allocation however wide C is.
constexpr int64_t kMaxPackedColumns = 2048;

// The most column panels a block may have for its A to be read in place (below).
constexpr int64_t kMaxInPlaceColPanels = 4;

// The largest packed A block that all threads share (below): half an L2.
constexpr int64_t kMaxSharedABytes = int64_t(512) << 10;

int64_t padded(int64_t size, int64_t multiple) { return ceil_div(size, multiple) * multiple; }

// Multiply-adds the kernels run for an m x n product, padding included.
template <class T>
int64_t padded_work(int64_t m, int64_t n, Isa isa) {
    const MicroKernel<T> kernel = select_microkernel_for<T>(isa, m, n);
    return padded(m, kernel.mr) * padded(n, kernel.nr);
}

// C (m x n, n <= kMaxPackedColumns) = or += A B with `kernel`.
template <class T>
void gemm_block(const GemmShape& shape, const GemmArgs<T>& args, int n_threads,
                const MicroKernel<T>& kernel) {
    // Plain locals, not structured bindings: lambdas and OpenMP regions capture them,
    // which C++17 does not allow of bindings (clang before 16 refuses to compile it).
    const int64_t m = shape.m, n = shape.n, k = shape.k, ldc = args.ldc;
    const MatrixView<T> a = args.a, b = args.b;
    T* const c = args.c;
    const bool accumulate = args.accumulate;
    const int64_t mr = kernel.mr, nr = kernel.nr;
    const int64_t kc_max = std::min(k, kGemmDepthBlock);
    const int64_t n_panels = ceil_div(n, nr);
    // Small outputs (weight gradients: G*H x H over a deep B*T sum) get smaller
    // blocks until every thread has a few; blocks never change the results. Rows
    // are split first: every block packs its own A, so splitting the columns packs
    // each row block's A once more per column block, while B's panels are packed
    // once for all (the cosine RNN's dW_hh, 200 x 200 over 50,000 rows, took 7-9%
    // longer on two threads when its columns were split).
    int64_t row_panels_per_block = kRowPanelsPerBlock, col_panels_per_block = kColPanelsPerBlock;
    auto blocks = [&] {
        return ceil_div(m, row_panels_per_block * mr) * ceil_div(n, col_panels_per_block * nr);
    };
    while (blocks() < 4 * n_threads && (row_panels_per_block > 1 || col_panels_per_block > 1)) {
        int64_t& halved = row_panels_per_block > 1 ? row_panels_per_block : col_panels_per_block;
        halved = (halved + 1) / 2;
    }
    const int64_t mc = row_panels_per_block * mr, nc = col_panels_per_block * nr;
    const int64_t row_blocks = ceil_div(m, mc), col_blocks = ceil_div(n, nc);
    const int threads =
        threads_for(n_threads, std::max(row_blocks * col_blocks, n_panels), m * n * k);

    // A is read by the kernel where it lies, instead of gathered into packed panels:
    // - Row-major (a layer's d_x = d_gates W_ih, dense layers, ops.matmul): every row
    //   panel, the last one too, as the kernel reads no row past the end. Packing it was
    //   13% of a stock layer's d_x product (1,920 x 200 x 50), 3-5% of larger ones.
    // - Columns contiguous (the transpose of a row-major matrix: d_gates^T in the weight
    //   gradients): whole panels, each k's mr elements side by side. The stock LSTM's
    //   training spent 10% of its time packing d_gates^T. The kernel then reads a cache
    //   line per k where a packed panel has two k per line, once per column panel, so
    //   only where a block has few column panels (the stock dW_hh, 200 x 50 over 1,920
    //   rows: 1.45-1.6x; the cosine RNN's, 200 x 200 over 50,000 in 7 panels: 0.93-0.98x).
    const bool rows_in_place = a.col_stride == 1;
    const bool columns_in_place =
        a.row_stride == 1 && std::min(n_panels, col_panels_per_block) <= kMaxInPlaceColPanels;
    // On two threads or more, an A that must be packed whole and is small (the weight
    // gradients' d_gates^T) is packed once per depth block for all threads, like B,
    // instead of a row block at a time: each k is then one stream over a whole row of
    // d_gates, where a thread's 24-row block took a 96-byte slice of every row, a new
    // cache line per k (the cosine dW_hh 1.05-1.07x on two threads). One thread keeps
    // packing a block at a time, which its kernels then read from L1 (0.95x shared).
    const int64_t row_panels_all = ceil_div(m, mr);
    const bool share_a = threads > 1 && !rows_in_place && !columns_in_place &&
                         row_panels_all * mr * kc_max * int64_t(sizeof(T)) <= kMaxSharedABytes;
    // Two of each packed block: threads pack the next depth block while others still
    // read the last one, so a depth block needs one barrier, not two.
    const int64_t b_size = n_panels * nr * kc_max;
    const int64_t a_shared_size = share_a ? row_panels_all * mr * kc_max : 0;
    AlignedBuffer<T> b_packed(2 * b_size);
    AlignedBuffer<T> a_shared(2 * a_shared_size);
    AlignedBuffer<T> a_packed(
        rows_in_place || share_a ? 0 : static_cast<int64_t>(threads) * mc * kc_max);

    // Blocks are handed out in turn at each depth block, a counter each: a thread that
    // loses its core leaves its blocks to the others.
    const int64_t depth_blocks = ceil_div(k, kc_max);
    std::unique_ptr<std::atomic<int64_t>[]> next_block(new std::atomic<int64_t>[depth_blocks]);
    for (int64_t kb = 0; kb < depth_blocks; ++kb) next_block[kb].store(0);

    run_workers(n_threads, threads, [&](const Worker& worker) {
        DenormalGuard denormals;
        T* a_block = a_packed.data() + worker.index * mc * kc_max;
        for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
            const int64_t kc = std::min(kc_max, k - k0);
            const int64_t parity = (k0 / kc_max) % 2;
            T* const b_block = b_packed.data() + parity * b_size;
            T* const a_all = a_shared.data() + parity * a_shared_size;
            // B's column panels are shared by all row blocks (and a shared A's row
            // panels by all column blocks): pack them once, each thread a run.
            const Share panels = worker.share(n_panels);
            if (panels.begin < panels.end)
                pack_panels(MatrixView<T>{b.at(k0, panels.begin * nr), b.col_stride, b.row_stride},
                            kc, std::min(n, panels.end * nr) - panels.begin * nr, nr,
                            b_block + panels.begin * nr * kc);
            if (share_a) {
                const Share a_panels = worker.share(row_panels_all);
                if (a_panels.begin < a_panels.end)
                    pack_panels(
                        MatrixView<T>{a.at(a_panels.begin * mr, k0), a.row_stride, a.col_stride},
                        kc, std::min(m, a_panels.end * mr) - a_panels.begin * mr, mr,
                        a_all + a_panels.begin * mr * kc);
            }
            worker.sync();
            const bool add = accumulate || k0 > 0;
            std::atomic<int64_t>& next = next_block[k0 / kc_max];
            for (int64_t block = next++; block < row_blocks * col_blocks; block = next++) {
                const int64_t rb = block / col_blocks, cb = block % col_blocks;
                const int64_t i0 = rb * mc, rows = std::min(mc, m - i0);
                const int64_t row_panels = ceil_div(rows, mr);
                // The panels of an A read in place; the rest packed.
                const int64_t in_place = rows_in_place      ? row_panels
                                         : columns_in_place ? rows / mr
                                                            : 0;
                const int64_t packed = std::min(rows, in_place * mr);
                T* const a_rows = share_a ? a_all + i0 * kc : a_block;
                if (packed < rows && !share_a)
                    pack_panels(MatrixView<T>{a.at(i0 + packed, k0), a.row_stride, a.col_stride},
                                kc, rows - packed, mr, a_block + packed * kc);
                const int64_t p_end = std::min(n_panels, (cb + 1) * col_panels_per_block);
                for (int64_t p = cb * col_panels_per_block; p < p_end; ++p) {
                    for (int64_t ip = 0; ip < row_panels; ++ip) {
                        const int64_t i = i0 + ip * mr, j = p * nr;
                        const bool direct = ip < in_place;
                        const MatrixView<T> rows_of_a =
                            direct ? MatrixView<T>{a.at(i, k0), a.row_stride, a.col_stride}
                                   : MatrixView<T>{a_rows + ip * mr * kc, 1, mr};
                        kernel.tile({kc, rows_of_a, b_block + p * nr * kc, c + i * ldc + j, ldc,
                                     std::min(mr, m - i), std::min(nr, n - j), add});
                    }
                }
            }
        }
    });
}

}  // namespace

template <class T>
void gemm(const GemmShape& shape, const GemmArgs<T>& args, Execution run) {
    const int64_t m = shape.m, n = shape.n, k = shape.k, ldc = args.ldc;
    const MatrixView<T> a = args.a, b = args.b;
    T* const c = args.c;
    const bool accumulate = args.accumulate;
    const Isa isa = run.isa;
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
        return;
    }
    // A product with a handful of columns (d_x and dW_ih of a layer with one
    // input) would fill every tile's nr columns with padding; its transpose
    // C^T = B^T A^T puts the handful in the tiles' rows instead. Every element
    // of C is the same FMA chain either way, so the bits do not change.
    if (4 * padded_work<T>(n, m, isa) < 3 * padded_work<T>(m, n, isa)) {
        AlignedBuffer<T> c_t(n * m);
        if (accumulate) transpose<T>({c, ldc}, m, n, {c_t.data(), m});
        gemm<T>({n, m, k}, {b.transposed(), a.transposed(), c_t.data(), m, accumulate}, run);
        transpose<T>({c_t.data(), m}, n, m, {c, ldc});
        return;
    }
    const MicroKernel<T> kernel = select_microkernel_for<T>(isa, m, n);
    for (int64_t j0 = 0; j0 < n; j0 += kMaxPackedColumns) {
        const GemmShape block{m, std::min(kMaxPackedColumns, n - j0), k};
        const MatrixView<T> b_block{b.at(0, j0), b.row_stride, b.col_stride};
        gemm_block<T>(block, {a, b_block, c + j0, ldc, accumulate}, run.n_threads, kernel);
    }
}

template void gemm<float>(const GemmShape&, const GemmArgs<float>&, Execution);
template void gemm<double>(const GemmShape&, const GemmArgs<double>&, Execution);

}  // namespace rnnkit
