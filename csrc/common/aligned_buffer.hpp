// Scratch memory for kernels: 64-byte aligned (one cache line, one AVX-512
// vector), owned, never copied.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace rnnkit {

template <class T>
class AlignedBuffer {
  public:
    static constexpr std::size_t alignment = 64;

  private:
    // posix_memalign, not std::aligned_alloc: macOS' libc++ offers the latter only to
    // builds that target macOS 10.15 or later, and python.org's Pythons target older.
    static T* allocate(std::size_t align, std::size_t bytes) {
        void* memory = nullptr;
        if (posix_memalign(&memory, align, bytes) != 0) throw std::bad_alloc();
        return static_cast<T*>(memory);
    }

  public:
    explicit AlignedBuffer(std::size_t count = 0) : size_(count) {
        if (count == 0) return;
        std::size_t bytes = (count * sizeof(T) + alignment - 1) / alignment * alignment;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        // Large buffers (a layer's input projection, the gate gradients: tens of MB
        // for long sequences) are fresh memory at every call, and first touching it
        // one 4 KiB page at a time cost about a fifth of a training step. Huge pages
        // take one fault per 2 MiB, as numpy arranges for its own large arrays.
        constexpr std::size_t huge = std::size_t(2) << 20;
        if (bytes >= 2 * huge) {
            bytes = (bytes + huge - 1) / huge * huge;
            data_ = allocate(huge, bytes);
            madvise(data_, bytes, MADV_HUGEPAGE);
            return;
        }
#endif
        data_ = allocate(alignment, bytes);
    }
    ~AlignedBuffer() { std::free(data_); }
    AlignedBuffer(const AlignedBuffer&) = delete;
    AlignedBuffer& operator=(const AlignedBuffer&) = delete;
    AlignedBuffer(AlignedBuffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        return *this;
    }

    T* data() { return data_; }
    const T* data() const { return data_; }
    std::size_t size() const { return size_; }

  private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace rnnkit
