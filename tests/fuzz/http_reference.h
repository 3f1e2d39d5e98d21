// The reference the fuzz targets hold ballast's output against: a strict
// llhttp parser (the same LLHTTP_STRICT_MODE build ballast uses, no lenient
// flags) that splits a byte stream into the messages it holds and records
// each one whole (method or status, target, headers, de-chunked body).
//
// For responses the caller says which requests they answer, so a response
// to HEAD, and any 1xx, 204 or 304, is read as a head without a body: bytes
// sent after such a head are then the start of the next message (and
// usually a parse error), which is what "no body after HEAD/204/304" means
// on the wire.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ballast::fuzz {

struct HttpMessage {
  int method = -1;  // llhttp_method_t for requests
  int status = 0;   // responses
  int http_major = 0, http_minor = 0;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // de-chunked
  bool chunked = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool keep_alive = false;
  bool head_complete = false;
  bool has_trailers = false;  // a chunked body ended with trailer fields
  bool complete = false;
  size_t begin = 0, end = 0;  // byte offsets of the message in the stream

  // Values of every header with this name (case-insensitive).
  std::vector<std::string_view> all(std::string_view name) const;
  // The first value, or "" (and false).
  bool get(std::string_view name, std::string* value) const;
  bool isInterim() const { return status >= 100 && status < 200 && status != 101; }
};

struct ParsedStream {
  std::vector<HttpMessage> messages;  // complete ones, then at most one incomplete
  llhttp_errno_t error = HPE_OK;      // HPE_OK when everything parsed
  std::string reason;                 // llhttp's reason for `error`
  size_t error_pos = 0;               // where it stopped
  // Every byte belongs to a complete message (and no error).
  bool clean() const { return error == HPE_OK && (messages.empty() || messages.back().complete); }
};

// Requests: every message in `bytes`. `at_eof` calls llhttp_finish at the end.
ParsedStream parseRequests(std::string_view bytes, bool at_eof);

// Responses to requests with these methods, in order (a response beyond
// the list is parsed as an answer to GET). 1xx interim responses are
// recorded and do not use up a request.
ParsedStream parseResponses(std::string_view bytes, const std::vector<int>& request_methods, bool at_eof);

bool iequal(std::string_view a, std::string_view b);
bool icontains(std::string_view hay, std::string_view needle);

// Printable form of bytes for failure messages (escapes, shortened).
std::string printable(std::string_view bytes, size_t max = 600);

// Prints the message and aborts: the fuzzer records the input as a crash.
[[noreturn]] void violation(const std::string& what, std::string_view input);

}  // namespace ballast::fuzz
