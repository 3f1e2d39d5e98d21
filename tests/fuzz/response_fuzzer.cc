// Response path: backend bytes -> what goes to the client. Input: one flags
// byte, then what the backend answers the client's first request with.
//   bits 0-1: the first request's method: GET, HEAD, POST with a
//             Content-Length body, POST with a chunked body
//   bit  2:   the first request is HTTP/1.0
//   bit  3:   a second request is pipelined behind it (GET, HTTP/1.1)
//   bits 4-6: backend write size (0 = whole, else 2^(n-1) bytes)
//   bit  7:   the backend shuts its write side after its answer
// The invariants are in checks.h (checkResponsePath).
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/checks.h"

using namespace ballast::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static ProxyHarness* harness = new ProxyHarness();
  const uint8_t flags = data[0];
  const std::string backend(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mentionsSeqHeader(backend)) return 0;
  const char* version = (flags & 4) ? "HTTP/1.0" : "HTTP/1.1";
  std::string client;
  switch (flags & 3) {
    case 0: client = std::string("GET /first ") + version + "\r\nHost: fuzz\r\n\r\n"; break;
    case 1: client = std::string("HEAD /first ") + version + "\r\nHost: fuzz\r\n\r\n"; break;
    case 2: client = std::string("POST /first ") + version + "\r\nHost: fuzz\r\nContent-Length: 5\r\n\r\nhello"; break;
    default:
      client = std::string("POST /first ") + version + "\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
      break;
  }
  if (flags & 8) client += "GET /second HTTP/1.1\r\nHost: fuzz\r\n\r\n";
  const unsigned piece_bits = (flags >> 4) & 7;
  const size_t piece = piece_bits == 0 ? 0 : size_t{1} << (piece_bits - 1);
  runResponseCase(*harness, backend, client, backend, (flags & 0x80) != 0, piece);
  return 0;
}
