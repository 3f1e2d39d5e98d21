// http_message: header collection from llhttp pieces, hop-by-hop detection,
// and the exact bytes of the forwarded request head and rewritten response
// head. No loop.

#include <llhttp.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "lb/http/http_message.h"
#include "lb/http/reason_phrase.h"

using ballast::BodyFraming;
using ballast::buildRequestHead;
using ballast::buildResponseHead;
using ballast::ForwardInfo;
using ballast::Header;
using ballast::HeaderCollector;
using ballast::HopByHop;
using ballast::iequals;
using ballast::reasonPhrase;
using ballast::ResponseHeadInfo;
using ballast::trimOws;

namespace {

// Owns the bytes the Header views point into (a deque never moves its
// elements on push_back).
struct HeaderList {
  std::deque<std::string> storage;
  std::vector<Header> headers;
  HeaderList(std::initializer_list<std::pair<const char*, const char*>> list) {
    for (const auto& [n, v] : list) add(n, v);
  }
  void add(std::string_view name, std::string_view value) {
    storage.emplace_back(name);
    std::string_view n = storage.back();
    storage.emplace_back(value);
    std::string_view v = storage.back();
    headers.push_back(Header{n, v});
  }
};

HopByHop scanned(const std::vector<Header>& headers) {
  HopByHop hop;
  hop.scan(headers);
  return hop;
}

std::string requestHead(std::string_view method, std::string_view url, const HeaderList& h,
                        const ForwardInfo& info, BodyFraming framing, uint64_t len) {
  std::string out = "stale bytes that must be cleared";
  buildRequestHead(out, method, url, h.headers, scanned(h.headers), info, framing, len);
  return out;
}

std::string responseHead(const HeaderList& h, const ResponseHeadInfo& info) {
  std::string out = "stale bytes that must be cleared";
  buildResponseHead(out, h.headers, scanned(h.headers), info);
  return out;
}

// Runs llhttp over `head` (one unmoved buffer) in slices of `step` bytes, so
// field and value callbacks arrive split the way they do on a real socket.
struct LlhttpCollect {
  HeaderCollector hc;
  static int onField(llhttp_t* p, const char* at, size_t len) {
    static_cast<LlhttpCollect*>(p->data)->hc.onField(at, len);
    return 0;
  }
  static int onValue(llhttp_t* p, const char* at, size_t len) {
    static_cast<LlhttpCollect*>(p->data)->hc.onValue(at, len);
    return 0;
  }
  static int onHeadersComplete(llhttp_t* p) {
    static_cast<LlhttpCollect*>(p->data)->hc.finish();
    return 0;
  }
  llhttp_errno_t run(const std::string& head, size_t step) {
    llhttp_settings_t settings;
    llhttp_settings_init(&settings);
    settings.on_header_field = &onField;
    settings.on_header_value = &onValue;
    settings.on_headers_complete = &onHeadersComplete;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_REQUEST, &settings);
    parser.data = this;
    hc.reset();
    for (size_t off = 0; off < head.size(); off += step) {
      llhttp_errno_t err = llhttp_execute(&parser, head.data() + off, std::min(step, head.size() - off));
      if (err != HPE_OK) return err;
    }
    return HPE_OK;
  }
};

std::vector<std::pair<std::string, std::string>> pairs(const std::vector<Header>& hs) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& h : hs) out.emplace_back(std::string(h.name), std::string(h.value));
  return out;
}

}  // namespace

TEST_CASE("iequals and trimOws", "[http]") {
  CHECK(iequals("Content-Type", "content-type"));
  CHECK(iequals("", ""));
  CHECK_FALSE(iequals("Content-Type", "content-typ"));
  CHECK_FALSE(iequals("a", "b"));
  CHECK_FALSE(iequals("[", "{"));  // 0x5b vs 0x7b: only A-Z fold

  struct Row {
    std::string_view in, out;
  };
  for (const Row& r : std::vector<Row>{{"  x  ", "x"}, {"\tx y\t", "x y"}, {"x", "x"}, {"   ", ""}, {"", ""},
                                       {" \t a\tb \t ", "a\tb"}}) {
    INFO("\"" << r.in << "\"");
    CHECK(trimOws(r.in) == r.out);
  }
}

TEST_CASE("HeaderCollector merges contiguous pieces and trims values", "[http]") {
  // One buffer, as llhttp sees it; the pieces below are views into it.
  const std::string buf = "Content-Type:  text/plain \r\nX-A:\t1\t\r\nX-B: two words\r\n";
  const char* p = buf.data();
  auto at = [&](std::string_view s) { return p + buf.find(s); };

  HeaderCollector hc;
  // "Con" + "tent-Type" contiguous: one name.
  hc.onField(at("Con"), 3);
  hc.onField(at("tent-Type"), 9);
  // value "  text/plain " split into three pieces.
  const char* v = at("  text/plain ");
  hc.onValue(v, 4);
  hc.onValue(v + 4, 5);
  hc.onValue(v + 9, 4);
  hc.onField(at("X-A"), 3);
  hc.onValue(at("\t1\t"), 3);
  hc.onField(at("X-B"), 2);  // "X-"
  hc.onField(at("X-B") + 2, 1);
  hc.onValue(at(" two"), 4);
  hc.onValue(at(" words"), 6);
  CHECK(hc.lastByte() == at(" words") + 6);
  hc.finish();

  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Content-Type", "text/plain"}, {"X-A", "1"}, {"X-B", "two words"}};
  CHECK(pairs(hc.headers()) == expected);

  std::string_view value;
  CHECK(hc.find("content-type", &value));
  CHECK(value == "text/plain");
  CHECK(hc.find("X-b", &value));
  CHECK(value == "two words");
  CHECK_FALSE(hc.find("X-C", &value));
  CHECK(hc.find("x-a", nullptr));

  hc.reset();
  CHECK(hc.headers().empty());
}

// Found by the chunked fuzz target: a chunked body's trailer fields, read
// in small pieces from a reused body buffer, were collected as headers
// (each piece a new "header line", so a long trailer name counted past
// limits.max_headers: 431 mid-body) and a folded trailer line was rewritten
// in the buffer llhttp was still parsing (ballast then read a malformed
// trailer section as complete, or cut a backend's whole response).
TEST_CASE("HeaderCollector: fields after finish() (trailers) are ignored and the buffer is not touched", "[http]") {
  std::string buf = "Host: h\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n";
  const std::string original = buf;
  char* p = buf.data();
  HeaderCollector hc;
  hc.setBuffer(p, p + buf.size());
  hc.onField(p, 4);
  hc.onValue(p + 6, 1);
  hc.finish();
  REQUIRE(hc.headers().size() == 1);
  // The trailer section, in one-byte pieces, with a folded value.
  const size_t t = buf.find("X-T");
  for (size_t i = 0; i < 3; ++i) hc.onField(p + t + i, 1);
  hc.onValue(p + buf.find("a\r\n"), 1);
  hc.onValue(p + buf.find("b\r\n"), 1);
  CHECK(hc.headers().size() == 1);
  CHECK_FALSE(hc.folded());
  CHECK(buf == original);
  // The next message collects again.
  hc.reset();
  hc.onField(p, 4);
  CHECK(hc.headers().size() == 1);
}

TEST_CASE("HeaderCollector: non-contiguous pieces start a new header or replace the value", "[http]") {
  // Two separate buffers: a field piece not adjacent to the previous name is
  // a new header even if no value came in between (defensive path).
  const std::string a = "X-One";
  const std::string b = "X-Two";
  const std::string v = "val";
  HeaderCollector hc;
  hc.onValue(v.data(), v.size());  // value before any field: ignored
  CHECK(hc.headers().empty());
  hc.onField(a.data(), a.size());
  hc.onField(b.data(), b.size());
  hc.onValue(v.data(), v.size());
  hc.finish();
  REQUIRE(hc.headers().size() == 2);
  CHECK(hc.headers()[0].name == "X-One");
  CHECK(hc.headers()[0].value.empty());
  CHECK(hc.headers()[1].name == "X-Two");
  CHECK(hc.headers()[1].value == "val");
}

TEST_CASE("HeaderCollector with llhttp delivering the head in slices", "[http]") {
  const std::string head =
      "GET /p HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "Content-Type:   application/json   \r\n"
      "X-Empty:\r\n"
      "X-Long: " + std::string(100, 'v') + "\r\n"
      "Connection: keep-alive, X-Drop\r\n"
      "\r\n";
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Host", "example.com"},
      {"Content-Type", "application/json"},
      {"X-Empty", ""},
      {"X-Long", std::string(100, 'v')},
      {"Connection", "keep-alive, X-Drop"},
  };
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{16}, head.size()}) {
    INFO("slice " << step);
    LlhttpCollect c;
    REQUIRE(c.run(head, step) == HPE_OK);
    CHECK(pairs(c.hc.headers()) == expected);
  }
}

TEST_CASE("HopByHop::scan and isHopByHop", "[http]") {
  SECTION("fixed set is always hop-by-hop, any case") {
    HeaderList h{{"Host", "x"}};
    HopByHop hop = scanned(h.headers);
    for (std::string_view name : {"Connection", "connection", "Keep-Alive", "Proxy-Connection", "TE", "te",
                                  "Trailer", "Upgrade", "Transfer-Encoding", "TRANSFER-ENCODING"}) {
      INFO(name);
      CHECK(hop.isHopByHop(name));
    }
    for (std::string_view name : {"Host", "Content-Type", "Content-Length", "X-Forwarded-For", "Trailers",
                                  "Upgrade-Insecure-Requests", "TE2", "X-Drop", "Cookie", "Authorization"}) {
      INFO(name);
      CHECK_FALSE(hop.isHopByHop(name));
    }
    CHECK_FALSE(hop.connectionClose());
    CHECK_FALSE(hop.connectionKeepAlive());
  }
  SECTION("Connection tokens") {
    struct Row {
      std::vector<std::pair<const char*, const char*>> headers;
      bool close;
      bool keep_alive;
      std::vector<std::string_view> hop;     // extra names that become hop-by-hop
      std::vector<std::string_view> not_hop;
    };
    const std::vector<Row> rows = {
        {{{"Connection", "keep-alive, X-Drop"}}, false, true, {"X-Drop", "x-drop"}, {"X-Keep", "close"}},
        {{{"Connection", "close"}}, true, false, {}, {"close", "X-Drop"}},
        {{{"connection", "Close"}}, true, false, {}, {}},
        {{{"Connection", "KEEP-ALIVE"}}, false, true, {}, {}},
        {{{"Connection", " X-A ,, X-B\t,close "}}, true, false, {"X-A", "X-B"}, {"X-C", ""}},
        {{{"Connection", "X-A"}, {"Connection", "X-B, keep-alive"}}, false, true, {"X-A", "X-B"}, {}},
        {{{"Proxy-Connection", "close, X-P"}}, true, false, {"X-P"}, {}},
        {{{"X-Connection", "close, X-Q"}}, false, false, {}, {"X-Q"}},
        {{{"Connection", ""}}, false, false, {}, {""}},
    };
    for (size_t i = 0; i < rows.size(); ++i) {
      INFO("row " << i);
      HeaderList h{};
      for (const auto& [n, v] : rows[i].headers) h.add(n, v);
      HopByHop hop = scanned(h.headers);
      CHECK(hop.connectionClose() == rows[i].close);
      CHECK(hop.connectionKeepAlive() == rows[i].keep_alive);
      for (auto n : rows[i].hop) {
        INFO(n);
        CHECK(hop.isHopByHop(n));
      }
      for (auto n : rows[i].not_hop) {
        INFO(n);
        CHECK_FALSE(hop.isHopByHop(n));
      }
    }
  }
  SECTION("rescanning resets the previous state") {
    HeaderList a{{"Connection", "close, X-Drop"}};
    HeaderList b{{"Host", "x"}};
    HopByHop hop;
    hop.scan(a.headers);
    CHECK(hop.connectionClose());
    CHECK(hop.isHopByHop("X-Drop"));
    hop.scan(b.headers);
    CHECK_FALSE(hop.connectionClose());
    CHECK_FALSE(hop.isHopByHop("X-Drop"));
  }
  SECTION("at most kMaxConnectionTokens extra names are honoured") {
    std::string value;
    for (size_t i = 0; i < HopByHop::kMaxConnectionTokens + 2; ++i) {
      if (i) value += ", ";
      value += "X-T" + std::to_string(i);
    }
    value += ", close";  // flags still seen after the token limit
    HeaderList h{};
    h.add("Connection", value);
    HopByHop hop = scanned(h.headers);
    CHECK(hop.connectionClose());
    for (size_t i = 0; i < HopByHop::kMaxConnectionTokens; ++i) {
      INFO(i);
      CHECK(hop.isHopByHop("X-T" + std::to_string(i)));
    }
    CHECK_FALSE(hop.isHopByHop("X-T" + std::to_string(HopByHop::kMaxConnectionTokens)));
  }
}

TEST_CASE("buildRequestHead: exact bytes", "[http]") {
  const ForwardInfo with_id{"127.0.0.1", "http", "rid-1", true, {}, {}};
  const ForwardInfo without_id{"127.0.0.1", "https", "rid-1", false, {}, {}};

  SECTION("representative request: hop-by-hop dropped, XFF merged, XFP replaced, id added, CL re-emitted") {
    HeaderList h{
        {"Host", "api.example.com"},
        {"User-Agent", "t/1"},
        {"Connection", "keep-alive, X-Drop"},
        {"X-Drop", "1"},
        {"Keep-Alive", "timeout=5"},
        {"X-Forwarded-For", "10.0.0.1"},
        {"Accept", "*/*"},
        {"x-forwarded-for", "10.0.0.2"},
        {"X-Forwarded-Proto", "https"},
        {"Content-Length", "5"},
        {"TE", "trailers"},
        {"Proxy-Connection", "keep-alive"},
        {"Trailer", "X-Sum"},
        {"Upgrade", "h2c"},
        {"Cookie", "a=1"},
    };
    CHECK(requestHead("POST", "/submit?x=1", h, with_id, BodyFraming::ContentLength, 5) ==
          "POST /submit?x=1 HTTP/1.1\r\n"
          "Host: api.example.com\r\n"
          "User-Agent: t/1\r\n"
          "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n"
          "Accept: */*\r\n"
          "Cookie: a=1\r\n"
          "X-Forwarded-Proto: http\r\n"
          "X-Request-Id: rid-1\r\n"
          "Content-Length: 5\r\n"
          "\r\n");
  }

  struct Row {
    const char* name;
    std::vector<std::pair<const char*, const char*>> headers;
    ForwardInfo info;
    BodyFraming framing;
    uint64_t len;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"no XFF: one added after the client headers; no id when not asked",
       {{"Host", "h"}},
       without_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n"},
      {"client X-Request-Id passes through when we add none",
       {{"Host", "h"}, {"X-Request-Id", "client-id"}},
       without_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: client-id\r\nX-Forwarded-For: 127.0.0.1\r\n"
       "X-Forwarded-Proto: https\r\n\r\n"},
      {"no Host at all (HTTP/1.0 client): an empty Host is added",
       {{"Accept", "*/*"}},
       without_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nAccept: */*\r\nX-Forwarded-For: 127.0.0.1\r\nHost: \r\nX-Forwarded-Proto: https\r\n\r\n"},
      {"Host in any case counts as present",
       {{"hOsT", "h:8080"}},
       without_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nhOsT: h:8080\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n"},
      {"chunked framing: client Transfer-Encoding and Content-Length replaced by ours",
       {{"Host", "h"}, {"Transfer-Encoding", "gzip, chunked"}, {"Content-Length", "10"}},
       with_id,
       BodyFraming::Chunked,
       0,
       "PUT /u HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
       "X-Request-Id: rid-1\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"Content-Length comes from the argument, not the client header",
       {{"Host", "h"}, {"content-length", "3"}},
       without_id,
       BodyFraming::ContentLength,
       18446744073709551615ULL,
       "PUT /u HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
       "Content-Length: 18446744073709551615\r\n\r\n"},
      {"Content-Length: 0 framing still announces the length",
       {{"Host", "h"}},
       without_id,
       BodyFraming::ContentLength,
       0,
       "PUT /u HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
       "Content-Length: 0\r\n\r\n"},
      {"empty XFF values are skipped when merging",
       {{"X-Forwarded-For", ""}, {"Host", "h"}, {"X-Forwarded-For", "1.1.1.1, 2.2.2.2"}},
       without_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 127.0.0.1\r\nHost: h\r\n"
       "X-Forwarded-Proto: https\r\n\r\n"},
      {"several X-Forwarded-Proto headers all dropped, one ours",
       {{"X-Forwarded-Proto", "https"}, {"Host", "h"}, {"x-forwarded-proto", "ftp"}},
       with_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
       "X-Request-Id: rid-1\r\n\r\n"},
      {"UntilClose framing emits no length header",
       {{"Host", "h"}, {"Content-Length", "9"}},
       without_id,
       BodyFraming::UntilClose,
       9,
       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n"},
      {"header named in Connection is dropped wherever it appears",
       {{"X-Secret", "s"}, {"Host", "h"}, {"Connection", "x-secret"}, {"X-SECRET", "t"}},
       without_id,
       BodyFraming::None,
       0,
       "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    HeaderList h{};
    for (const auto& [n, v] : row.headers) h.add(n, v);
    std::string method = row.framing == BodyFraming::None || row.framing == BodyFraming::UntilClose ? "GET" : "PUT";
    std::string url = method == "GET" ? "/" : "/u";
    CHECK(requestHead(method, url, h, row.info, row.framing, row.len) == row.expected);
  }
}

TEST_CASE("buildResponseHead: exact bytes", "[http]") {
  SECTION("representative response: hop-by-hop stripped, CL replaced, id added") {
    HeaderList h{
        {"Content-Type", "text/plain"},
        {"Content-Length", "999"},
        {"Connection", "close, X-Backend-Internal"},
        {"X-Backend-Internal", "1"},
        {"Keep-Alive", "timeout=5"},
        {"Transfer-Encoding", "chunked"},
        {"Server", "demo"},
        {"Set-Cookie", "a=1"},
        {"Set-Cookie", "b=2"},
    };
    ResponseHeadInfo info;
    info.status = 200;
    info.framing = BodyFraming::ContentLength;
    info.content_length = 12;
    info.request_id = "rid-9";
    CHECK(responseHead(h, info) ==
          "HTTP/1.1 200 OK\r\n"
          "Content-Type: text/plain\r\n"
          "Server: demo\r\n"
          "Set-Cookie: a=1\r\n"
          "Set-Cookie: b=2\r\n"
          "X-Request-Id: rid-9\r\n"
          "Content-Length: 12\r\n"
          "\r\n");
  }

  struct Row {
    const char* name;
    std::vector<std::pair<const char*, const char*>> headers;
    ResponseHeadInfo info;
    std::string expected;
  };
  auto info = [](int status, std::string_view reason, BodyFraming framing, uint64_t len, std::string_view rid,
                 bool close, bool ka10, bool keep_cl = false) {
    ResponseHeadInfo i;
    i.status = status;
    i.reason = reason;
    i.framing = framing;
    i.content_length = len;
    i.request_id = rid;
    i.close = close;
    i.keep_alive_10 = ka10;
    i.keep_content_length = keep_cl;
    return i;
  };
  const std::vector<Row> rows = {
      {"backend X-Request-Id is kept, not duplicated",
       {{"x-request-id", "backend-id"}},
       info(200, "", BodyFraming::ContentLength, 0, "ours", false, false),
       "HTTP/1.1 200 OK\r\nx-request-id: backend-id\r\nContent-Length: 0\r\n\r\n"},
      {"no request id to add: none added",
       {},
       info(204, "", BodyFraming::None, 0, "", false, false),
       "HTTP/1.1 204 No Content\r\n\r\n"},
      {"Connection: close added when asked",
       {{"Content-Type", "a/b"}},
       info(503, "", BodyFraming::ContentLength, 7, "", true, false),
       "HTTP/1.1 503 Service Unavailable\r\nContent-Type: a/b\r\nContent-Length: 7\r\nConnection: close\r\n\r\n"},
      {"close wins over HTTP/1.0 keep-alive",
       {},
       info(200, "", BodyFraming::ContentLength, 1, "", true, true),
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n"},
      {"HTTP/1.0 client kept alive: Connection: keep-alive",
       {{"Connection", "keep-alive"}},
       info(200, "", BodyFraming::ContentLength, 2, "", false, true),
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n"},
      {"chunked framing re-emitted once, backend Content-Length dropped",
       {{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}, {"Vary", "Accept"}},
       info(200, "", BodyFraming::Chunked, 0, "r", false, false),
       "HTTP/1.1 200 OK\r\nVary: Accept\r\nX-Request-Id: r\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"backend reason phrase is used when given",
       {},
       info(418, "I'm a teapot", BodyFraming::None, 0, "", false, false),
       "HTTP/1.1 418 I'm a teapot\r\n\r\n"},
      {"HEAD/304: backend Content-Length passed through via keep_content_length",
       {{"Content-Length", "1234"}, {"ETag", "\"x\""}},
       info(304, "", BodyFraming::None, 1234, "", false, false, true),
       "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1234\r\n\r\n"},
      {"until-close framing: no length, no chunking",
       {{"Content-Length", "1"}},
       info(200, "", BodyFraming::UntilClose, 1, "", true, false),
       "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
      {"Upgrade, TE, Trailer, Proxy-Connection stripped",
       {{"Upgrade", "websocket"}, {"TE", "trailers"}, {"Trailer", "X"}, {"Proxy-Connection", "close"}, {"A", "b"}},
       info(200, "", BodyFraming::ContentLength, 0, "", false, false),
       "HTTP/1.1 200 OK\r\nA: b\r\nContent-Length: 0\r\n\r\n"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    HeaderList h{};
    for (const auto& [n, v] : row.headers) h.add(n, v);
    CHECK(responseHead(h, row.info) == row.expected);
  }
}

TEST_CASE("reasonPhrase for the common codes", "[http]") {
  struct Row {
    int status;
    std::string_view reason;
  };
  const std::vector<Row> rows = {
      {100, "Continue"},
      {200, "OK"},
      {201, "Created"},
      {204, "No Content"},
      {206, "Partial Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {413, "Content Too Large"},
      {417, "Expectation Failed"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& row : rows) {
    INFO(row.status);
    CHECK(reasonPhrase(row.status) == row.reason);
  }
  // Unregistered codes give their class name, so the status line stays valid.
  CHECK(reasonPhrase(299) == "Success");
  CHECK(reasonPhrase(499) == "Client Error");
  CHECK_FALSE(reasonPhrase(0).empty());
}

TEST_CASE("splitAbsoluteForm: authority and origin-form path", "[http_message]") {
  struct Row {
    const char* target;
    bool ok;
    const char* authority;
    const char* path;
  };
  const Row rows[] = {
      {"http://a.example/x?y=1", true, "a.example", "/x?y=1"},
      {"HTTP://A.example:8080/", true, "A.example:8080", "/"},
      {"https://h", true, "h", "/"},
      {"http://user@h/p", true, "user@h", "/p"},  // split as is; validAuthority() refuses it
      {"/plain", false, "", ""},
      {"*", false, "", ""},
      {"http:///nohost", false, "", ""},
  };
  for (const auto& r : rows) {
    INFO(r.target);
    std::string_view authority, path;
    bool ok = ballast::splitAbsoluteForm(r.target, &authority, &path);
    CHECK(ok == r.ok);
    if (r.ok) {
      CHECK(authority == r.authority);
      CHECK(path == r.path);
    }
  }
}

TEST_CASE("validAuthority: reg-names, IP literals and ports, nothing else", "[http_message]") {
  for (const char* ok : {"", "t", "a.example.com", "A-B_c~d", "h:80", "h:", "127.0.0.1:8080", "[::1]", "[::1]:443",
                         "[fe80::1%25eth0]:1", "xn--caf-dma.example", "a!$&'()*+,;=b"}) {
    INFO(ok);
    CHECK(ballast::validAuthority(ok));
  }
  for (const char* bad : {"a b", "user@h", "h/p", "h?q", "h#f", "a\tb", "h:8x", "[::1", "[::1]x", "[g::1]", "caf\xc3\xa9",
                          "h\r", "\"q\""}) {
    INFO(bad);
    CHECK_FALSE(ballast::validAuthority(bad));
  }
}

TEST_CASE("buildRequestHead: host_override replaces every Host header", "[http_message]") {
  std::vector<ballast::Header> headers = {{"Host", "ignored.example"}, {"Accept", "*/*"}};
  ballast::HopByHop hop;
  hop.scan(headers);
  ballast::ForwardInfo info{"10.0.0.1", "http", "", false, "real.example", {}};
  std::string out;
  ballast::buildRequestHead(out, "GET", "/p", headers, hop, info, ballast::BodyFraming::None, 0);
  CHECK(out ==
        "GET /p HTTP/1.1\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\nHost: real.example\r\n"
        "X-Forwarded-Proto: http\r\n\r\n");
}

TEST_CASE("upgrade: Connection: upgrade is seen, h2c is never offered, protocols are joined", "[http_message]") {
  using ballast::Header;
  std::string out;
  SECTION("websocket offered with Connection: keep-alive, Upgrade") {
    std::vector<Header> h = {{"Connection", "keep-alive, Upgrade"}, {"Upgrade", "websocket"}};
    ballast::HopByHop hop;
    hop.scan(h);
    CHECK(hop.connectionUpgrade());
    CHECK(hop.connectionKeepAlive());
    ballast::upgradeProtocols(h, out);
    CHECK(out == "websocket");
  }
  SECTION("h2c is removed wherever it appears, across several headers") {
    std::vector<Header> h = {{"Upgrade", "h2c, foo/2"}, {"Upgrade", " H2C/1 ,websocket "}};
    ballast::upgradeProtocols(h, out);
    CHECK(out == "foo/2, websocket");
  }
  SECTION("only h2c: nothing left to offer") {
    std::vector<Header> h = {{"Connection", "Upgrade, HTTP2-Settings"}, {"Upgrade", "h2c"}};
    ballast::upgradeProtocols(h, out);
    CHECK(out.empty());
  }
  SECTION("no Connection: upgrade token") {
    std::vector<Header> h = {{"Connection", "close"}, {"Upgrade", "websocket"}};
    ballast::HopByHop hop;
    hop.scan(h);
    CHECK_FALSE(hop.connectionUpgrade());
  }
}

TEST_CASE("upgrade: the forwarded request keeps Connection: upgrade and Upgrade, and nothing else hop-by-hop",
          "[http_message]") {
  std::vector<ballast::Header> headers = {{"Host", "h"},
                                          {"Connection", "Upgrade, X-Hop"},
                                          {"Upgrade", "websocket"},
                                          {"X-Hop", "1"},
                                          {"Keep-Alive", "timeout=5"},
                                          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  ballast::HopByHop hop;
  hop.scan(headers);
  ballast::ForwardInfo info{"10.0.0.1", "http", "", false, {}, "websocket"};
  std::string out;
  ballast::buildRequestHead(out, "GET", "/chat", headers, hop, info, ballast::BodyFraming::None, 0);
  CHECK(out ==
        "GET /chat HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: http\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST_CASE("upgrade: a 101 head names the protocol and carries no framing", "[http_message]") {
  std::vector<ballast::Header> headers = {{"Upgrade", "websocket"},
                                          {"Connection", "Upgrade"},
                                          {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
                                          {"Content-Length", "0"}};
  ballast::HopByHop hop;
  hop.scan(headers);
  ballast::ResponseHeadInfo info;
  info.status = 101;
  info.upgrade = "websocket";
  info.request_id = "r1";
  std::string out;
  ballast::buildResponseHead(out, headers, hop, info);
  CHECK(out ==
        "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "X-Request-Id: r1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST_CASE("classifyHeader: any case of a known name, and nothing else", "[http]") {
  using ballast::classifyHeader;
  using ballast::HeaderName;
  const std::pair<std::string, HeaderName> known[] = {
      {"te", HeaderName::Te},
      {"host", HeaderName::Host},
      {"expect", HeaderName::Expect},
      {"upgrade", HeaderName::Upgrade},
      {"trailer", HeaderName::Trailer},
      {"connection", HeaderName::Connection},
      {"keep-alive", HeaderName::KeepAlive},
      {"x-request-id", HeaderName::XRequestId},
      {"content-length", HeaderName::ContentLength},
      {"x-forwarded-for", HeaderName::XForwardedFor},
      {"proxy-connection", HeaderName::ProxyConnection},
      {"transfer-encoding", HeaderName::TransferEncoding},
      {"x-forwarded-proto", HeaderName::XForwardedProto},
  };
  for (const auto& [name, cls] : known) {
    INFO(name);
    CHECK(classifyHeader(name) == cls);
    std::string upper = name;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(classifyHeader(upper) == cls);
    std::string mixed = name;
    for (size_t i = 0; i < mixed.size(); i += 2) mixed[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[i])));
    CHECK(classifyHeader(mixed) == cls);
    // Each byte changed to a near miss (the other case of a non-letter,
    // '-' ^ 0x20 = '\r', a neighbouring letter) is another name.
    for (size_t i = 0; i < name.size(); ++i) {
      for (char bad : {static_cast<char>(name[i] ^ 0x20 ^ 0x01), static_cast<char>(name[i] + 1), '\r', '_', '\0'}) {
        if (std::tolower(static_cast<unsigned char>(bad)) == name[i]) continue;
        std::string other = name;
        other[i] = bad;
        INFO("byte " << i << " -> " << static_cast<int>(bad));
        CHECK(classifyHeader(other) == HeaderName::Other);
      }
    }
  }
  CHECK(classifyHeader("") == HeaderName::Other);
  CHECK(classifyHeader("Content-Type") == HeaderName::Other);
  CHECK(classifyHeader("Date") == HeaderName::Other);
}
