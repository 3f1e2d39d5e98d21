// A small RFC 6455 toolkit for the tunnel tests: the handshake key, frame
// encoding and decoding, a blocking client, and an echo backend for
// RawBackend. Enough of WebSocket to see that bytes cross ballast's tunnel
// whole and in order; not a conforming implementation (no fragmentation,
// no extensions).
#pragma once

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/harness.h"
#include "tests/support/raw_backend.h"

namespace ballast::test {

namespace ws {

enum Opcode : uint8_t { kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };

// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2).
inline std::string acceptFor(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[64];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n));
}

// One whole frame; client frames are masked (RFC 6455 5.3).
inline std::string frame(uint8_t opcode, std::string_view payload, bool masked) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  const char key[4] = {'\x12', '\x34', '\x56', '\x78'};
  if (masked) f.append(key, 4);
  for (size_t i = 0; i < n; ++i) f.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return f;
}

struct Frame {
  uint8_t opcode = 0;
  std::string payload;  // unmasked
};

// Decodes one frame from the front of `buf` (removing it); nullopt when
// `buf` does not hold a whole frame yet.
inline std::optional<Frame> takeFrame(std::string& buf) {
  if (buf.size() < 2) return std::nullopt;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(buf[i]); };
  size_t pos = 2;
  uint64_t n = b(1) & 0x7F;
  if (n == 126) {
    if (buf.size() < 4) return std::nullopt;
    n = (uint64_t{b(2)} << 8) | b(3);
    pos = 4;
  } else if (n == 127) {
    if (buf.size() < 10) return std::nullopt;
    n = 0;
    for (size_t i = 0; i < 8; ++i) n = (n << 8) | b(2 + i);
    pos = 10;
  }
  const bool masked = (b(1) & 0x80) != 0;
  const size_t key_at = pos;
  if (masked) pos += 4;
  if (buf.size() < pos + n) return std::nullopt;
  Frame f;
  f.opcode = b(0) & 0x0F;
  f.payload = buf.substr(pos, n);
  if (masked) {
    for (size_t i = 0; i < n; ++i) f.payload[i] = static_cast<char>(f.payload[i] ^ buf[key_at + i % 4]);
  }
  buf.erase(0, pos + n);
  return f;
}

// A blocking WebSocket client on 127.0.0.1:port.
class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      throw std::runtime_error("ws::Client: connect failed: " + std::string(std::strerror(errno)));
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  static constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";

  // The upgrade request for `path` (plus `extra` header lines), then
  // `early` bytes in the same write.
  static std::string upgradeRequest(const std::string& path, const std::vector<std::string>& extra = {}) {
    std::string r = "GET " + path + " HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + std::string(kKey) + "\r\n";
    for (const auto& h : extra) r += h + "\r\n";
    return r + "\r\n";
  }

  // Sends the handshake and reads the response head. Returns the head (the
  // status line to the blank line); bytes after it stay buffered.
  std::string handshake(const std::string& path, const std::vector<std::string>& extra = {},
                        const std::string& early = "", Ms timeout = Ms(5000)) {
    sendRaw(upgradeRequest(path, extra) + early);
    return readHead(timeout);
  }

  std::string readHead(Ms timeout = Ms(5000)) {
    const auto deadline = Clock::now() + timeout;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) throw std::runtime_error("ws::Client: no response head; got: " + buf_);
    }
    std::string head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    return head;
  }

  void sendRaw(std::string_view bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("ws::Client: send failed: " + std::string(std::strerror(errno)));
      off += static_cast<size_t>(n);
    }
  }
  void send(uint8_t opcode, std::string_view payload) { sendRaw(frame(opcode, payload, true)); }
  void sendText(std::string_view payload) { send(kText, payload); }

  // The next frame, or nullopt on EOF / reset / timeout (eof() tells).
  std::optional<Frame> readFrame(Ms timeout = Ms(5000)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (auto f = takeFrame(buf_)) return f;
      if (!fill(deadline)) return std::nullopt;
    }
  }
  // True once the server side closed (FIN, or reset when `reset` is set).
  bool waitEof(Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!eof_) {
      if (!fill(deadline) && !eof_) return false;
    }
    return true;
  }
  bool eof() const { return eof_; }
  bool reset() const { return reset_; }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  const std::string& buffered() const { return buf_; }
  std::string takeBuffered() {
    std::string b;
    b.swap(buf_);
    return b;
  }
  // Reads whatever arrives until `deadline` or EOF, appending to the buffer.
  bool fill(Clock::time_point deadline) {
    if (eof_) return false;
    char tmp[64 * 1024];
    for (;;) {
      const auto left = std::chrono::duration_cast<Ms>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50)));
      if (rc <= 0) continue;
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      eof_ = true;
      reset_ = n < 0 && errno == ECONNRESET;
      return false;
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  bool reset_ = false;
};

// What the echo backend saw and did, shared with the test thread.
struct EchoStats {
  std::atomic<int> upgrades{0};        // 101s sent
  std::atomic<int> plain{0};           // requests answered without upgrading
  std::atomic<int> open{0};            // tunnels whose handler has not returned
  std::atomic<int> client_fins{0};     // EOFs seen inside a tunnel
  std::atomic<uint64_t> flood_sent{0};  // bytes of flood frames sent
  std::atomic<uint64_t> sink_read{0};   // bytes read in sink mode
  std::atomic<bool> sink_hold{false};   // sink mode reads nothing while set
  std::mutex mu;
  std::vector<std::string> heads;      // request heads, in order
};

// Options by path (the test picks behaviour per request):
//   /ws            upgrade, echo every frame; a close frame is echoed and
//                  ends the connection; the client's FIN is answered with a
//                  text frame "bye" and then the backend's own FIN
//   /ws?greet      as /ws, with a text frame "hello" in the same write as the 101
//   /ws?flood=N    after the 101, sends N bytes of binary frames of 64 KiB
//                  (counting in flood_sent), then echoes as /ws
//   /ws?sink       after the 101, reads and discards (counting in sink_read)
//                  until EOF; reads nothing while sink_hold is set
//   /ws?refuse     answers 403 (no upgrade)
//   anything else  200 "plain" (no upgrade), keep-alive
// Health probes (/healthz) get 200 while `healthy` is true, else 503.
inline RawBackend::Handler echoHandler(std::shared_ptr<EchoStats> stats,
                                       std::shared_ptr<std::atomic<bool>> healthy = nullptr) {
  return [stats, healthy](RawConn& c) {
    for (;;) {
      auto req = c.readRequest(true, Ms(60000));
      if (!req) return;
      {
        std::lock_guard<std::mutex> lock(stats->mu);
        stats->heads.push_back(req->head);
      }
      if (req->target == "/healthz") {
        const bool ok = healthy == nullptr || healthy->load();
        if (!c.send(ok ? okResponse("ok") : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")) return;
        continue;
      }
      const bool wants = toLower(req->head).find("\r\nupgrade: websocket") != std::string::npos;
      if (req->target.rfind("/ws", 0) != 0 || !wants || req->target == "/ws?refuse") {
        ++stats->plain;
        if (req->target == "/ws?refuse") {
          c.send("HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nrefused");
        } else if (!c.send(okResponse("plain"))) {
          return;
        }
        continue;
      }
      ++stats->upgrades;
      ++stats->open;
      struct Open {
        EchoStats& s;
        ~Open() { --s.open; }
      } open{*stats};
      std::string out = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Accept: " + acceptFor(Client::kKey) + "\r\n\r\n";
      if (req->target == "/ws?greet") out += frame(kText, "hello", false);
      if (!c.send(out)) return;
      if (req->target.rfind("/ws?flood=", 0) == 0) {
        const uint64_t total = std::stoull(req->target.substr(10));
        const std::string chunk = frame(kBinary, std::string(64 * 1024, 'f'), false);
        for (uint64_t sent = 0; sent < total; sent += chunk.size()) {
          if (!c.send(chunk)) return;
          stats->flood_sent += chunk.size();
        }
      }
      if (req->target == "/ws?sink") {
        char tmp[65536];
        for (;;) {
          while (stats->sink_hold.load()) {
            if (!c.pause(Ms(5))) return;
          }
          size_t n = c.readSome(tmp, sizeof tmp, Ms(60000));
          if (n == 0) {
            if (c.peerClosed()) ++stats->client_fins;
            return;
          }
          stats->sink_read += n;
        }
      }
      std::string buf;
      char tmp[65536];
      for (;;) {
        while (auto f = takeFrame(buf)) {
          if (!c.send(frame(f->opcode, f->payload, false))) return;
          if (f->opcode == kClose) return;
        }
        size_t n = c.readSome(tmp, sizeof tmp, Ms(60000));
        if (n == 0) {
          if (!c.peerClosed()) return;  // stopped or timed out
          // Half-close: the client is done sending; say goodbye, then close.
          ++stats->client_fins;
          c.send(frame(kText, "bye", false));
          return;
        }
        buf.append(tmp, n);
      }
    }
  };
}

}  // namespace ws

}  // namespace ballast::test
