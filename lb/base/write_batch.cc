#include "lb/base/write_batch.h"

#include <charconv>

namespace ballast {

void WriteBatch::addChunk(const char* data, size_t len) {
  if (len == 0) return;
  char hdr[24];
  auto [p, ec] = std::to_chars(hdr, hdr + 20, len, 16);
  (void)ec;
  *p++ = '\r';
  *p++ = '\n';
  addCopy(std::string_view(hdr, static_cast<size_t>(p - hdr)));
  addBorrowed(data, len);
  addCopy("\r\n");
}

void WriteBatch::finalize() {
  for (size_t i = 0; i < bufs_.size(); ++i) {
    if (refs_[i] != kBorrowed) bufs_[i].base = framing_.data() + refs_[i];
  }
}

int StreamWriter::write(uv_stream_t* stream, uv_buf_t* bufs, unsigned n) {
  int r = uv_try_write(stream, bufs, n);
  if (r == UV_EAGAIN || r == UV_ENOSYS) r = 0;
  if (r < 0) return r;
  // Skip what went out synchronously.
  size_t done = static_cast<size_t>(r);
  unsigned i = 0;
  while (i < n && done >= bufs[i].len) {
    done -= bufs[i].len;
    ++i;
  }
  if (i == n) return 0;
  bufs[i].base += done;
  bufs[i].len -= static_cast<unsigned>(done);
  int err = uv_write(&req_, stream, bufs + i, n - i, &StreamWriter::onWrite);
  if (err < 0) return err;
  pending_ = true;
  return 1;
}

void StreamWriter::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<StreamWriter*>(req->data);
  self->pending_ = false;
  self->done_(self->owner_, status);
}

}  // namespace ballast
