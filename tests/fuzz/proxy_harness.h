// The real proxy on a real libuv loop, for the fuzz targets: a ProxyContext
// with a Runtime built from a YAML config, a Listener accepting
// DownstreamConnections on 127.0.0.1:0 (as lb/server does), and a scripted
// backend on another loopback socket. One run() is one client connection:
// the client's bytes go in (in pieces, with loop turns between them), its
// write side is shut, and the run ends when ballast has closed the client
// and every upstream connection is gone. What each side received comes back
// for the invariant checks (tests/fuzz/checks.h).
//
// Every socket the harness owns is closed with SO_LINGER 0 once the peer is
// done, so the TIME_WAIT sockets of millions of runs do not pile up.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/fuzz/http_reference.h"

namespace ballast {
class ProxyContext;
class Listener;
}  // namespace ballast

namespace ballast::fuzz {

struct BackendReply {
  std::string bytes;
  bool close = false;  // shut the write side after the bytes (end of an until-close body)
};

// Called for each complete request the backend parses: `conn` is the
// upstream connection (in accept order), `seq` the request's index among
// all forwarded requests of this run.
using BackendScript = std::function<BackendReply(size_t conn, size_t seq, const HttpMessage& req)>;

struct Exchange {
  std::string client_bytes;
  size_t piece = 0;  // 0: one write; else writes of this many bytes, loop turns between
};

struct Outcome {
  std::string client_received;
  std::vector<std::string> upstream_received;  // per upstream connection
  std::vector<HttpMessage> forwarded;          // complete requests, by seq
  std::vector<BackendReply> replies;           // the backend's answers, by seq
  std::vector<size_t> forwarded_conn;          // upstream connection of each seq
};

// A non-blocking socket connected to 127.0.0.1:port. (Non-blocking from
// the start: libFuzzer's timers interrupt a blocking connect with EINTR.)
int connectLoopback(uint16_t port);

class ProxyHarness {
 public:
  // `extra` is YAML merged into the top level (timeouts, limits); the pool
  // `web` has one backend, the harness's, and no retries (a retry would
  // forward a request twice and blur the one-to-one check).
  explicit ProxyHarness(const std::string& extra = "");
  ~ProxyHarness();
  ProxyHarness(const ProxyHarness&) = delete;
  ProxyHarness& operator=(const ProxyHarness&) = delete;

  // `backend_piece`: the backend writes its answers in pieces of this many
  // bytes with loop turns between (0: whole). Aborts with a message when the
  // run makes no progress for `stall_ms` (ballast waiting on something the
  // reference says is there).
  Outcome run(const Exchange& ex, const BackendScript& script, size_t backend_piece = 0, uint64_t stall_ms = 5000);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::fuzz
