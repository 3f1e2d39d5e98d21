#include "lb/uv_util.h"

#include <arpa/inet.h>

#include <charconv>

namespace ballast {

std::string formatSockaddr(const sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in, ip, sizeof ip);
    std::string out(ip);
    out.push_back(':');
    out.append(std::to_string(ntohs(in->sin_port)));
    return out;
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(in6, ip, sizeof ip);
    std::string out;
    out.push_back('[');
    out.append(ip);
    out.append("]:");
    out.append(std::to_string(ntohs(in6->sin6_port)));
    return out;
  }
  return std::string();
}

void formatIp(const sockaddr* sa, std::string& out) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<const sockaddr_in*>(sa), ip, sizeof ip);
  } else if (sa->sa_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<const sockaddr_in6*>(sa), ip, sizeof ip);
  }
  out.assign(ip);
}

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
