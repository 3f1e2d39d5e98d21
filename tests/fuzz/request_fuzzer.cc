// Request path: client bytes -> what ballast sends upstream, or its own
// answer. Input: one flags byte, then the bytes the client sends.
//   bits 0-2: client write size (0 = one write, else 2^(n-1) bytes)
//   bits 3-4: how the backend frames its answers (Content-Length, chunked,
//             204, until close)
//   bits 5-7: backend write size (0 = whole, else 2^(n-1) bytes)
// The invariants are in checks.h (checkRequestPath).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/checks.h"

using namespace ballast::fuzz;

namespace {
size_t pieceSize(unsigned bits) { return bits == 0 ? 0 : size_t{1} << (bits - 1); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // Small limits, so a short input can reach 414, 431 and 413.
  static ProxyHarness* harness = new ProxyHarness(
      "limits: { max_header_bytes: 2048, max_request_line: 512, max_headers: 24, max_body_bytes: 1024 }\n");
  const uint8_t flags = data[0];
  const std::string client(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mentionsSeqHeader(client)) return 0;
  runRequestCase(*harness, client, client, static_cast<MarkerFraming>((flags >> 3) & 3), pieceSize(flags & 7),
                 pieceSize(flags >> 5));
  return 0;
}
