// The invariants the proxy fuzz targets assert on one run (see README,
// "Fuzzing"). Each check aborts through violation() with the input, what
// each side received and what broke.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/proxy_harness.h"

namespace ballast::fuzz {

// The harness backend's own answers carry this header with the request's
// seq, and a body naming it, so a reply can be traced to the request it
// answers. Inputs that contain the name are skipped (a fuzzer could learn
// to forge it).
inline constexpr std::string_view kSeqHeader = "X-Fuzz-Seq";
bool mentionsSeqHeader(std::string_view input);

// How the harness backend frames its marker answers.
enum class MarkerFraming { ContentLength, Chunked, NoContent, UntilClose };
BackendReply markerReply(size_t seq, const HttpMessage& req, MarkerFraming framing);

// Request path. `sent` is everything the client sent. Asserts:
//  - every upstream connection carries well-formed requests (strict parse);
//  - the forwarded requests are, in order, the client's requests as the
//    reference reads them: same method, same target (absolute-form becomes
//    origin-form with Host from the authority), same body bytes, one Host,
//    framing headers that agree with the body;
//  - the client's bytes are whole, well-formed responses, at most one final
//    response per request, each answering its own request (a marker answer
//    carries the seq of the request at the same position, and its body),
//    and nothing follows a response that closes the connection;
//  - every request that reached the backend whole got its answer to the client.
void checkRequestPath(std::string_view input, const std::string& sent, const Outcome& out);

// Response path: `client_sent` is what the client sent, `backend` is what the backend answered the first request
// with (`backend_closed`: then shut its write side). The client's second
// request, if any, must never be answered with bytes of the first answer.
// Asserts, on top of the forwarded-request checks:
//  - the client's bytes are well-formed responses framed for the request
//    method (no body after HEAD, 1xx, 204, 304), the last one cut short only
//    when the backend's was;
//  - the first answer is the backend's (same status and body) or ballast's
//    own 502; a backend answer the reference cannot read as a response head
//    is never passed on;
//  - a later answer is a marker answer to that request, or a local error.
void checkResponsePath(std::string_view input, const std::string& client_sent, const std::string& client,
                       const std::string& backend, bool backend_closed, const Outcome& out);

}  // namespace ballast::fuzz

namespace ballast::fuzz {

// One request-path case: `client_sent` goes in (in pieces of `piece`
// bytes, 0 = whole), the backend answers every request with a marker, then
// checkRequestPath. `input` is what the failure report prints.
void runRequestCase(ProxyHarness& h, std::string_view input, const std::string& client_sent, MarkerFraming framing,
                    size_t piece, size_t backend_piece);

// One response-path case: the backend answers the first request with
// `backend` (and shuts its write side after it when `force_close`, or when
// the reference cannot read a whole answer from it: an until-close body
// ends that way), later requests with markers; then checkResponsePath.
void runResponseCase(ProxyHarness& h, std::string_view input, const std::string& client_sent,
                     const std::string& backend, bool force_close, size_t backend_piece);

}  // namespace ballast::fuzz
