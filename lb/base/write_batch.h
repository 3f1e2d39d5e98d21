// Writing to a libuv stream: a gather-write batch whose framing bytes live
// beside the borrowed payload spans, and a writer with at most one write in
// flight.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ballast {

// A list of buffers for one gather write. Payload spans are borrowed (the
// producer keeps them alive until the write completes); framing bytes (chunk
// sizes, CRLFs) are copied into `framing_` and resolved to pointers in
// finalize(), so growing `framing_` while building never dangles.
class WriteBatch {
 public:
  WriteBatch() {
    bufs_.reserve(16);
    refs_.reserve(16);
    framing_.reserve(256);
  }
  // One with no memory yet (its storage comes by swap or by use).
  struct Empty {};
  explicit WriteBatch(Empty) {}
  void addBorrowed(const char* data, size_t len) {
    if (len == 0) return;
    bufs_.push_back(uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len)));
    refs_.push_back(kBorrowed);
    bytes_ += len;
  }
  void addCopy(std::string_view s) {
    if (s.empty()) return;
    bufs_.push_back(uv_buf_init(nullptr, static_cast<unsigned>(s.size())));
    refs_.push_back(framing_.size());
    framing_.append(s);
    bytes_ += s.size();
  }
  // Appends "<hex len>\r\n" + data + "\r\n" (data borrowed).
  void addChunk(const char* data, size_t len);
  void addLastChunk() { addCopy("0\r\n\r\n"); }
  // Resolves copied pieces to pointers. Call once, before writing.
  void finalize();
  bool empty() const { return bufs_.empty(); }
  size_t bytes() const { return bytes_; }
  uv_buf_t* bufs() { return bufs_.data(); }
  unsigned count() const { return static_cast<unsigned>(bufs_.size()); }
  void clear() {
    bufs_.clear();
    refs_.clear();
    framing_.clear();
    bytes_ = 0;
  }

 private:
  static constexpr size_t kBorrowed = static_cast<size_t>(-1);
  std::vector<uv_buf_t> bufs_;
  std::vector<size_t> refs_;  // offset into framing_, or kBorrowed
  std::string framing_;
  size_t bytes_ = 0;
};

// Writes a batch: first uv_try_write (the common case on loopback finishes
// here with no callback), then uv_write for the rest. At most one write in
// flight; the owner must not touch the buffers until `pending()` is false.
class StreamWriter {
 public:
  using DoneFn = void (*)(void* owner, int status);
  StreamWriter(void* owner, DoneFn done) : owner_(owner), done_(done) { req_.data = this; }
  // Returns 0 when everything was written synchronously (no callback will
  // come), 1 when a write is pending (done_ will be called), or a negative
  // libuv error (nothing pending).
  int write(uv_stream_t* stream, uv_buf_t* bufs, unsigned n);
  bool pending() const { return pending_; }

 private:
  static void onWrite(uv_write_t* req, int status);
  uv_write_t req_{};
  void* owner_;
  DoneFn done_;
  bool pending_ = false;
};

}  // namespace ballast
