#include "lb/http/http_message.h"

#include <array>
#include <bit>
#include <charconv>
#include <cstring>

#include "lb/base/raw_writer.h"
#include "lb/http/reason_phrase.h"

namespace ballast {

namespace {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Writes a message head with raw stores into `out`, sized once up front
// (the caller's bound), then trimmed: a head of ten headers is one resize
// instead of forty appends.
class HeadWriter : public RawWriter {
 public:
  HeadWriter(std::string& out, size_t bound) : RawWriter(nullptr), out_(out) {
    out_.resize(bound);
    p_ = out_.data();
  }
  ~HeadWriter() { out_.resize(static_cast<size_t>(p_ - out_.data())); }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;

  void number(uint64_t v) { integer(v); }
  void header(std::string_view name, std::string_view value) {
    raw(name);
    lit(": ");
    raw(value);
    lit("\r\n");
  }
  // Bytes header() writes.
  static size_t size(std::string_view name, std::string_view value) { return name.size() + value.size() + 4; }

 private:
  std::string& out_;
};

}  // namespace

void appendNumber(std::string& out, uint64_t v) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, static_cast<size_t>(p - buf));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

namespace {

// A lowercase name (letters and '-' only) as little-endian words, for
// case-insensitive comparison eight bytes at a time: a word of the input
// is ORed with `fold` (0x20 where the name has a letter, so 'A' and 'a'
// both give 'a', and nothing else does) and compared with `value`. Exact
// for any input bytes. Words at offsets 0, 8 and N - 9 (the last eight
// bytes, overlapping); names up to eight bytes use the first only.
template <size_t N>
struct LowerName {
  static constexpr size_t kLen = N - 1;
  uint64_t value[3] = {};
  uint64_t fold[3] = {};
  constexpr explicit LowerName(const char (&lit)[N]) {
    constexpr size_t offs[3] = {0, 8, kLen > 8 ? kLen - 8 : 0};
    for (size_t w = 0; w < 3; ++w) {
      for (size_t i = 0; i < 8 && offs[w] + i < kLen; ++i) {
        const char c = lit[offs[w] + i];
        value[w] |= static_cast<uint64_t>(static_cast<uint8_t>(c)) << (8 * i);
        fold[w] |= static_cast<uint64_t>(c >= 'a' && c <= 'z' ? 0x20 : 0) << (8 * i);
      }
    }
  }
};

// `n` (of exactly the name's length: the caller switched on it) is `name`
// in any case.
template <size_t N>
bool equalsLower(std::string_view n, const LowerName<N>& name) {
  static_assert(std::endian::native == std::endian::little, "the words are little-endian");
  constexpr size_t kLen = LowerName<N>::kLen;
  auto word = [&](size_t off, size_t len) {
    uint64_t v = 0;
    std::memcpy(&v, n.data() + off, len);
    return v;
  };
  if constexpr (kLen <= 8) {
    return (word(0, kLen) | name.fold[0]) == name.value[0];
  } else if constexpr (kLen <= 16) {
    return (word(0, 8) | name.fold[0]) == name.value[0] && (word(kLen - 8, 8) | name.fold[2]) == name.value[2];
  } else {
    return (word(0, 8) | name.fold[0]) == name.value[0] && (word(8, 8) | name.fold[1]) == name.value[1] &&
           (word(kLen - 8, 8) | name.fold[2]) == name.value[2];
  }
}

constexpr LowerName kTe("te");
constexpr LowerName kHost("host");
constexpr LowerName kExpect("expect");
constexpr LowerName kUpgrade("upgrade");
constexpr LowerName kTrailer("trailer");
constexpr LowerName kConnection("connection");
constexpr LowerName kKeepAlive("keep-alive");
constexpr LowerName kXRequestId("x-request-id");
constexpr LowerName kContentLength("content-length");
constexpr LowerName kXForwardedFor("x-forwarded-for");
constexpr LowerName kProxyConnection("proxy-connection");
constexpr LowerName kTransferEncoding("transfer-encoding");
constexpr LowerName kXForwardedProto("x-forwarded-proto");

}  // namespace

HeaderName classifyHeader(std::string_view n) {
  // Fixed hop-by-hop set (RFC 9110 7.6.1 plus the legacy Proxy-Connection),
  // the framing headers we re-emit, and those the proxy reads or writes.
  // One switch on the length, then word compares (every header of every
  // message passes through here, both ways).
  switch (n.size()) {
    case 2: return equalsLower(n, kTe) ? HeaderName::Te : HeaderName::Other;
    case 4: return equalsLower(n, kHost) ? HeaderName::Host : HeaderName::Other;
    case 6: return equalsLower(n, kExpect) ? HeaderName::Expect : HeaderName::Other;
    case 7:
      if (equalsLower(n, kUpgrade)) return HeaderName::Upgrade;
      return equalsLower(n, kTrailer) ? HeaderName::Trailer : HeaderName::Other;
    case 10:
      if (equalsLower(n, kConnection)) return HeaderName::Connection;
      return equalsLower(n, kKeepAlive) ? HeaderName::KeepAlive : HeaderName::Other;
    case 12: return equalsLower(n, kXRequestId) ? HeaderName::XRequestId : HeaderName::Other;
    case 14: return equalsLower(n, kContentLength) ? HeaderName::ContentLength : HeaderName::Other;
    case 15: return equalsLower(n, kXForwardedFor) ? HeaderName::XForwardedFor : HeaderName::Other;
    case 16: return equalsLower(n, kProxyConnection) ? HeaderName::ProxyConnection : HeaderName::Other;
    case 17:
      if (equalsLower(n, kTransferEncoding)) return HeaderName::TransferEncoding;
      return equalsLower(n, kXForwardedProto) ? HeaderName::XForwardedProto : HeaderName::Other;
    default: return HeaderName::Other;
  }
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void HeaderCollector::onValueSlow(const char* at, size_t len) {
  if (finished_) return;
  if (headers_.empty()) return;
  auto& v = headers_.back().value;
  if (!in_value_) {
    // An empty first line folded into the next ("Name:\r\n value"): the
    // value starts after a line break.
    // The usual gap is ": " (two bytes); a fold needs at least ":\r\n ".
    if (last_ != nullptr && buf_begin_ <= last_ && last_ + 2 < at && at <= buf_end_) {
      for (const char* g = last_; g < at; ++g) folded_ = folded_ || *g == '\n';
    }
    last_ = at + len;
    v = std::string_view(at, len);
    in_value_ = true;
    return;
  }
  last_ = at + len;
  const char* end = v.data() + v.size();
  if (end == at) {
    v = std::string_view(v.data(), v.size() + len);
    return;
  }
  // Not contiguous: a piece of the same value after bytes llhttp consumed.
  // A line break in the gap is an obs-fold: one space stands for it and the
  // continuation's leading whitespace. Otherwise (a piece after an earlier
  // move) the gap is what the move left behind. The bytes are ours (the
  // connection's read buffer), already passed by the parser.
  bool fold = false;
  for (const char* g = end; g < at; ++g) fold = fold || *g == '\n';
  if (fold) {
    folded_ = true;
    while (len > 0 && (*at == ' ' || *at == '\t')) {
      ++at;
      --len;
    }
  }
  char* dst = const_cast<char*>(end);
  size_t added = 0;
  if (fold && v.size() > 0) dst[added++] = ' ';
  std::memmove(dst + added, at, len);
  v = std::string_view(v.data(), v.size() + added + len);
}

void HeaderCollector::finish() {
  finished_ = true;
  for (auto& h : headers_) {
    h.value = trimOws(h.value);
    h.cls = classifyHeader(h.name);
  }
}

bool HeaderCollector::find(std::string_view name, std::string_view* value) const {
  for (const auto& h : headers_) {
    if (iequals(h.name, name)) {
      if (value) *value = h.value;
      return true;
    }
  }
  return false;
}

void HopByHop::scan(const std::vector<Header>& headers) {
  n_tokens_ = 0;
  close_ = false;
  keep_alive_ = false;
  upgrade_ = false;
  for (const auto& h : headers) {
    const HeaderName cls = classified(h);
    if (cls != HeaderName::Connection && cls != HeaderName::ProxyConnection) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view tok = trimOws(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (tok.empty()) continue;
      if (iequals(tok, "close")) {
        close_ = true;
      } else if (iequals(tok, "keep-alive")) {
        keep_alive_ = true;
      } else if (iequals(tok, "upgrade")) {
        upgrade_ = true;  // Upgrade is hop-by-hop anyway: no need to list it
      } else if (n_tokens_ < kMaxConnectionTokens) {
        tokens_[n_tokens_++] = tok;
      }
    }
  }
}

void upgradeProtocols(const std::vector<Header>& headers, std::string& out) {
  out.clear();
  for (const auto& h : headers) {
    if (classified(h) != HeaderName::Upgrade) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view tok = trimOws(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (tok.empty()) continue;
      // "h2c", or "h2c/<version>" should anyone send one.
      const std::string_view name = tok.substr(0, tok.find('/'));
      if (iequals(name, "h2c")) continue;
      if (!out.empty()) out.append(", ", 2);
      out.append(tok);
    }
  }
}

bool HopByHop::isHopByHop(std::string_view name, HeaderName cls) const {
  if (fixedHopByHop(cls)) return true;
  for (size_t i = 0; i < n_tokens_; ++i) {
    if (iequals(name, tokens_[i])) return true;
  }
  return false;
}

void buildRequestHead(std::string& out, std::string_view method, std::string_view url,
                      const std::vector<Header>& headers, const HopByHop& hop,
                      const ForwardInfo& info, BodyFraming framing, uint64_t content_length) {
  // Bound: the request line, every header once, all X-Forwarded-For values
  // again (merged into one header), and what we add.
  size_t bound = method.size() + url.size() + 12;
  for (const auto& h : headers) bound += HeadWriter::size(h.name, h.value) + h.value.size() + 2;
  bound += HeadWriter::size("X-Forwarded-For", info.client_ip) + HeadWriter::size("Host", info.host_override) +
           HeadWriter::size("X-Forwarded-Proto", info.proto) + HeadWriter::size("X-Request-Id", info.request_id) +
           HeadWriter::size("Upgrade", info.upgrade) + 21 + 28 + 16 + HeadWriter::kNumberMax + 2 + 2;
  HeadWriter w(out, bound);
  w.raw(method);
  w.lit(" ");
  w.raw(url);
  w.lit(" HTTP/1.1\r\n");

  // X-Forwarded-For: every client value, in order, then the client address.
  bool saw_xff = false;
  bool saw_host = false;
  for (const auto& h : headers) {
    const HeaderName cls = classified(h);
    if (hop.isHopByHop(h.name, cls)) continue;
    if (cls == HeaderName::Host) {
      if (!info.host_override.empty()) continue;
      saw_host = true;
    }
    if (cls == HeaderName::ContentLength || cls == HeaderName::XForwardedProto) continue;
    if (cls == HeaderName::XForwardedFor) {
      if (!saw_xff) {
        saw_xff = true;
        w.lit("X-Forwarded-For: ");
        // Gather all XFF values (a client may send several headers).
        bool first = true;
        for (const auto& x : headers) {
          if (classified(x) != HeaderName::XForwardedFor || x.value.empty()) continue;
          if (!first) w.lit(", ");
          w.raw(x.value);
          first = false;
        }
        if (!first) w.lit(", ");
        w.raw(info.client_ip);
        w.lit("\r\n");
      }
      continue;
    }
    w.header(h.name, h.value);
  }
  if (!saw_xff) w.header("X-Forwarded-For", info.client_ip);
  // An HTTP/1.0 request may lack Host; we speak HTTP/1.1 upstream, which
  // requires one: an empty Host is what RFC 9112 7.2 prescribes when the
  // target has no authority.
  if (!info.host_override.empty()) {
    w.header("Host", info.host_override);
  } else if (!saw_host) {
    w.lit("Host: \r\n");
  }
  w.header("X-Forwarded-Proto", info.proto);
  if (info.add_request_id) w.header("X-Request-Id", info.request_id);
  if (!info.upgrade.empty()) {
    w.lit("Connection: upgrade\r\n");
    w.header("Upgrade", info.upgrade);
  }
  switch (framing) {
    case BodyFraming::ContentLength:
      w.lit("Content-Length: ");
      w.number(content_length);
      w.lit("\r\n");
      break;
    case BodyFraming::Chunked:
      w.lit("Transfer-Encoding: chunked\r\n");
      break;
    case BodyFraming::None:
    case BodyFraming::UntilClose:
      break;
  }
  w.lit("\r\n");
}

namespace {

// The bytes of a reg-name (RFC 3986 3.2.2): unreserved, sub-delims and '%'
// (one lookup per byte of every Host value).
constexpr std::array<bool, 256> kRegNameByte = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    const bool sub_delim = c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' ||
                           c == '+' || c == ',' || c == ';' || c == '=';
    t[static_cast<size_t>(c)] = unreserved || sub_delim || c == '%';
  }
  return t;
}();

}  // namespace

bool validAuthority(std::string_view a) {
  std::string_view host = a;
  std::string_view port;
  if (!a.empty() && a.front() == '[') {
    const size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    // IPv6 (hex digits, ':' and '.'), IPvFuture ("v1.x") and a zone id
    // after "%25" (unreserved characters, RFC 6874).
    std::string_view literal = a.substr(1, close - 1);
    const size_t zone = literal.find('%');
    for (size_t i = 0; i < literal.size(); ++i) {
      const char c = literal[i];
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      const bool in_zone = zone != std::string_view::npos && i > zone;
      const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '-' || c == '.' || c == '_' || c == '~';
      const bool ok = in_zone ? unreserved : (hex || c == ':' || c == '.' || c == 'v' || c == 'V' || i == zone);
      if (!ok) return false;
    }
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
    host = {};
  } else if (const size_t colon = a.rfind(':'); colon != std::string_view::npos) {
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  for (char c : port) {
    if (c < '0' || c > '9') return false;
  }
  for (char c : host) {
    if (!kRegNameByte[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool splitAbsoluteForm(std::string_view target, std::string_view* authority, std::string_view* path) {
  size_t skip = 0;
  if (target.size() >= 7 && iequals(target.substr(0, 7), "http://")) {
    skip = 7;
  } else if (target.size() >= 8 && iequals(target.substr(0, 8), "https://")) {
    skip = 8;
  } else {
    return false;
  }
  std::string_view rest = target.substr(skip);
  size_t slash = rest.find_first_of("/?");
  *authority = rest.substr(0, slash);
  if (slash == std::string_view::npos) {
    *path = "/";
  } else if (rest[slash] == '?') {
    *path = rest.substr(slash);  // "?q" : caller prefixes "/" if it must
  } else {
    *path = rest.substr(slash);
  }
  // userinfo is not allowed in http(s) URIs sent to a server: the caller
  // refuses an authority that validAuthority() does not accept.
  return !authority->empty();
}

void buildResponseHead(std::string& out, const std::vector<Header>& headers, const HopByHop& hop,
                       const ResponseHeadInfo& info) {
  const std::string_view reason = info.reason.empty() ? std::string_view(reasonPhrase(info.status)) : info.reason;
  size_t bound = 9 + HeadWriter::kNumberMax + 1 + reason.size() + 2;
  for (const auto& h : headers) bound += HeadWriter::size(h.name, h.value);
  bound += HeadWriter::size("X-Request-Id", info.request_id) + 16 + HeadWriter::kNumberMax + 2 + 28 + 21 +
           HeadWriter::size("Upgrade", info.upgrade) + 24 + 2;
  HeadWriter w(out, bound);
  w.lit("HTTP/1.1 ");
  w.number(static_cast<uint64_t>(info.status));
  w.lit(" ");
  w.raw(reason);
  w.lit("\r\n");
  bool saw_request_id = false;
  for (const auto& h : headers) {
    const HeaderName cls = classified(h);
    if (hop.isHopByHop(h.name, cls) || cls == HeaderName::ContentLength) continue;
    if (cls == HeaderName::XRequestId) saw_request_id = true;
    w.header(h.name, h.value);
  }
  if (!saw_request_id && !info.request_id.empty()) w.header("X-Request-Id", info.request_id);
  if (info.framing == BodyFraming::ContentLength || info.keep_content_length) {
    w.lit("Content-Length: ");
    w.number(info.content_length);
    w.lit("\r\n");
  } else if (info.framing == BodyFraming::Chunked) {
    w.lit("Transfer-Encoding: chunked\r\n");
  }
  if (!info.upgrade.empty()) {
    w.lit("Connection: upgrade\r\n");
    w.header("Upgrade", info.upgrade);
  } else if (info.close) {
    w.lit("Connection: close\r\n");
  } else if (info.keep_alive_10) {
    w.lit("Connection: keep-alive\r\n");
  }
  w.lit("\r\n");
}

}  // namespace ballast
