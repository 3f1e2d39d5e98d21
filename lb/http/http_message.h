// HTTP/1.x message pieces shared by the client and backend sides: header
// spans over a read buffer, hop-by-hop stripping, and serialisation of the
// forwarded request head and the rewritten response head.
//
// Nothing here allocates per request once the output strings have grown to
// their working size: callers keep one std::string per connection and clear()
// it between messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ballast {

// The header names the proxy treats specially, recognised in one switch on
// the length (every header of every message passes through here, both ways).
enum class HeaderName : uint8_t {
  Unclassified,  // not looked at yet (see classified())
  Other,
  Connection,
  KeepAlive,
  ProxyConnection,
  Te,
  Trailer,
  Upgrade,
  TransferEncoding,
  ContentLength,
  Host,
  Expect,
  XRequestId,
  XForwardedFor,
  XForwardedProto,
};
HeaderName classifyHeader(std::string_view name);
// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade and
// Transfer-Encoding (which we re-emit ourselves).
inline bool fixedHopByHop(HeaderName n) {
  return n == HeaderName::Connection || n == HeaderName::KeepAlive || n == HeaderName::ProxyConnection ||
         n == HeaderName::Te || n == HeaderName::Trailer || n == HeaderName::Upgrade ||
         n == HeaderName::TransferEncoding;
}


// A header as two views into the read buffer the head was parsed from. Valid
// only while that buffer is not compacted (see the connection classes).
struct Header {
  std::string_view name;
  std::string_view value;
  HeaderName cls = HeaderName::Unclassified;  // set once by HeaderCollector::finish()
};
// A header's class, computed now if nobody did.
inline HeaderName classified(const Header& h) {
  return h.cls != HeaderName::Unclassified ? h.cls : classifyHeader(h.name);
}

bool iequals(std::string_view a, std::string_view b);

// Appends `v` in decimal (no allocation beyond `out` growing).
void appendNumber(std::string& out, uint64_t v);

std::string_view trimOws(std::string_view s);

// Collects header spans while llhttp delivers them in pieces. A piece that
// continues the previous one (same field or value, contiguous in memory) is
// merged; this holds because the head stays in one unmoved buffer.
//
// Obsolete line folding (a value continued on a line that starts with
// whitespace, RFC 9112 5.2) arrives as a second, non-contiguous piece of
// the same value: the continuation is moved back in the (caller's, mutable)
// buffer so the value reads as one, with the fold replaced by one space,
// and folded() says it happened (a request is refused for it).
class HeaderCollector {
 public:
  HeaderCollector() { headers_.reserve(32); }
  void reset() {
    headers_.clear();
    in_value_ = false;
    folded_ = false;
    finished_ = false;
  }
  // The buffer the head is parsed from (the gap between a field and its
  // value is inspected for a fold only inside it).
  void setBuffer(const char* begin, const char* end) {
    buf_begin_ = begin;
    buf_end_ = end;
  }
  // Inline: llhttp calls these for every header of every message. The
  // rare cases (a value in pieces, a fold) are in onValueSlow.
  void onField(const char* at, size_t len) {
    if (finished_) return;
    if (!in_value_ && !headers_.empty() && headers_.back().name.data() + headers_.back().name.size() == at) {
      auto& n = headers_.back().name;
      n = std::string_view(n.data(), n.size() + len);
    } else {
      headers_.push_back(Header{std::string_view(at, len), std::string_view(at + len, 0)});
    }
    in_value_ = false;
    last_ = at + len;
  }
  void onValue(const char* at, size_t len) {
    // The usual case: the first piece of a value, at most two bytes (": ")
    // after its name, so no gap where a fold could be.
    if (!finished_ && !in_value_ && !headers_.empty() && (last_ == nullptr || at <= last_ + 2)) {
      headers_.back().value = std::string_view(at, len);
      last_ = at + len;
      in_value_ = true;
      return;
    }
    onValueSlow(at, len);
  }
  // Trims the values and classifies the names; call once at the end of the
  // head. Fields after it (a chunked body's trailer section, which is not
  // forwarded) are ignored: they are neither collected nor counted, and
  // their folds are not rewritten in the buffer, which by then holds body
  // bytes that are read in pieces.
  void finish();
  const std::vector<Header>& headers() const { return headers_; }
  // First header with this name (case-insensitive), or empty view + false.
  bool find(std::string_view name, std::string_view* value) const;
  // Last byte of the head seen so far (to measure head size).
  const char* lastByte() const { return last_; }
  // Some value used obsolete line folding.
  bool folded() const { return folded_; }

 private:
  std::vector<Header> headers_;
  bool in_value_ = false;
  bool folded_ = false;
  bool finished_ = false;  // finish() was called: the head is done
  const char* last_ = nullptr;
  const char* buf_begin_ = nullptr;
  const char* buf_end_ = nullptr;
  void onValueSlow(const char* at, size_t len);
};

// The header names listed in `Connection:` values, plus the fixed hop-by-hop
// set, decide what is not forwarded. At most kMaxConnectionTokens extra names
// are honoured; beyond that the message is still forwarded but those extra
// names are not stripped (a 400 would be harsher than HAProxy/nginx).
class HopByHop {
 public:
  static constexpr size_t kMaxConnectionTokens = 16;
  // Scans the headers for Connection tokens (close, keep-alive, names).
  void scan(const std::vector<Header>& headers);
  bool isHopByHop(std::string_view name) const { return isHopByHop(name, classifyHeader(name)); }
  bool isHopByHop(std::string_view name, HeaderName cls) const;
  bool connectionClose() const { return close_; }
  bool connectionKeepAlive() const { return keep_alive_; }
  // `Connection: upgrade` was sent (RFC 9110 7.8: an Upgrade header counts
  // only with it).
  bool connectionUpgrade() const { return upgrade_; }

 private:
  std::string_view tokens_[kMaxConnectionTokens];
  size_t n_tokens_ = 0;
  bool close_ = false;
  bool keep_alive_ = false;
  bool upgrade_ = false;
};

// The protocols a request's Upgrade headers offer, joined with ", " into
// `out` (cleared first), without `h2c`: ballast speaks HTTP/1.1 to backends
// and never offers them a cleartext HTTP/2 upgrade. Empty when nothing is
// left to offer.
void upgradeProtocols(const std::vector<Header>& headers, std::string& out);

// How a body is framed on the wire we write.
enum class BodyFraming : uint8_t {
  None,           // no body
  ContentLength,  // raw bytes, length announced
  Chunked,        // we (re)encode chunks
  UntilClose,     // raw bytes, end signalled by closing the connection
};

struct ForwardInfo {
  std::string_view client_ip;   // appended to X-Forwarded-For
  std::string_view proto;       // X-Forwarded-Proto value
  std::string_view request_id;  // X-Request-Id to add when the client sent none
  bool add_request_id = false;
  // Non-empty for an absolute-form request target ("GET http://h/p"): the
  // authority replaces any Host header (RFC 9112 3.2.2).
  std::string_view host_override;
  // Non-empty for an upgrade request (WebSocket): the protocols offered.
  // Sent as `Connection: upgrade` and `Upgrade: <protocols>`, the only
  // hop-by-hop headers forwarded.
  std::string_view upgrade;
};

// A Host value or an absolute-form authority as RFC 9110 4.2.3 / RFC 3986
// 3.2.2 allow: reg-name (unreserved, pct-encoded, sub-delims) or an
// IP-literal in brackets, and an optional ":port" of digits. No userinfo,
// no whitespace, no control characters. Empty is allowed (a Host for a
// target without an authority).
bool validAuthority(std::string_view authority);

// Splits an absolute-form target "http://authority/path?q" into authority
// and origin-form path ("/" when empty). Returns false for other forms.
bool splitAbsoluteForm(std::string_view target, std::string_view* authority, std::string_view* path);

// Builds the request head sent to a backend into `out` (cleared first).
// Always HTTP/1.1 to the backend. Hop-by-hop headers are dropped,
// X-Forwarded-For appended to (all client values are merged into one header),
// X-Forwarded-Proto replaced, X-Request-Id added when absent. Host passes
// unchanged (or is replaced by info.host_override); a request without Host
// (HTTP/1.0) gets an empty one, since HTTP/1.1 requires the field.
// Transfer-Encoding and Content-Length are re-emitted from `framing` so the
// backend sees exactly the framing we write.
void buildRequestHead(std::string& out, std::string_view method, std::string_view url,
                      const std::vector<Header>& headers, const HopByHop& hop,
                      const ForwardInfo& info, BodyFraming framing, uint64_t content_length);

struct ResponseHeadInfo {
  int status = 0;
  std::string_view reason;
  BodyFraming framing = BodyFraming::None;  // what we will write to the client
  bool keep_content_length = false;          // HEAD / 304: pass the backend's Content-Length through
  uint64_t content_length = 0;
  std::string_view request_id;  // added when the backend did not send X-Request-Id
  bool close = false;           // add Connection: close
  bool keep_alive_10 = false;   // HTTP/1.0 client kept alive: add Connection: keep-alive
  // A 101 Switching Protocols: the backend's Upgrade value, sent with
  // `Connection: upgrade` (and no framing headers).
  std::string_view upgrade;
};

// Builds the response head sent to the client into `out` (cleared first).
void buildResponseHead(std::string& out, const std::vector<Header>& headers, const HopByHop& hop,
                       const ResponseHeadInfo& info);

}  // namespace ballast
