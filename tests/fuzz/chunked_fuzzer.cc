// Chunked bodies both ways: the fuzz bytes are a chunked body (chunk sizes,
// extensions, data, trailers) after a fixed head. Input: one flags byte,
// then the body.
//   bit  0:   0 = a client's request body, 1 = a backend's response body
//   bits 1-3: write size of that side (0 = whole, else 2^(n-1) bytes)
// A second request follows the first in both directions, so a body whose
// framing ballast reads differently from the reference shows up as a
// forwarded or answered message that does not match.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/checks.h"

using namespace ballast::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static ProxyHarness* harness = new ProxyHarness("limits: { max_body_bytes: 4096 }\n");
  const uint8_t flags = data[0];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mentionsSeqHeader(body)) return 0;
  const unsigned piece_bits = (flags >> 1) & 7;
  const size_t piece = piece_bits == 0 ? 0 : size_t{1} << (piece_bits - 1);
  const std::string after = "GET /after HTTP/1.1\r\nHost: fuzz\r\n\r\n";
  if ((flags & 1) == 0) {
    const std::string client =
        "POST /chunked HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n" + body + after;
    runRequestCase(*harness, client, client, MarkerFraming::ContentLength, piece, 0);
  } else {
    const std::string client = "GET /chunked HTTP/1.1\r\nHost: fuzz\r\n\r\n" + after;
    const std::string backend = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body;
    runResponseCase(*harness, backend, client, backend, false, piece);
  }
  return 0;
}
