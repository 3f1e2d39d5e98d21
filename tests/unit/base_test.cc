// lb/base without a loop: WriteBatch framing, the address formatters and the
// flat JSON reader.

#include <arpa/inet.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "lb/base/address.h"
#include "lb/base/json_read.h"
#include "lb/base/write_batch.h"

using ballast::WriteBatch;

namespace {

std::string concat(WriteBatch& b) {
  std::string out;
  for (unsigned i = 0; i < b.count(); ++i) out.append(b.bufs()[i].base, b.bufs()[i].len);
  return out;
}

std::string hex(size_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", v);
  return buf;
}

}  // namespace

TEST_CASE("WriteBatch: copied, borrowed and chunked pieces concatenate exactly", "[uv_util]") {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body1 = "hello";
  const std::string body2(26, 'z');
  WriteBatch b;
  CHECK(b.empty());
  b.addCopy(head);
  b.addChunk(body1.data(), body1.size());
  b.addChunk(body2.data(), body2.size());
  b.addLastChunk();
  b.finalize();

  const std::string expected = head + "5\r\nhello\r\n" + "1a\r\n" + body2 + "\r\n" + "0\r\n\r\n";
  CHECK(concat(b) == expected);
  CHECK(b.bytes() == expected.size());
  CHECK_FALSE(b.empty());
  // head, 2 x (size line, data, CRLF), last chunk
  CHECK(b.count() == 8);
  // Payload is borrowed, not copied.
  CHECK(b.bufs()[2].base == body1.data());
  CHECK(b.bufs()[5].base == body2.data());
  // Copied pieces do not point at the caller's string.
  CHECK(b.bufs()[0].base != head.data());
}

TEST_CASE("WriteBatch: empty pieces are not added", "[uv_util]") {
  const char* p = "x";
  WriteBatch b;
  b.addCopy("");
  b.addBorrowed(p, 0);
  b.addChunk(p, 0);  // a zero-length chunk would end the body early
  b.finalize();
  CHECK(b.empty());
  CHECK(b.count() == 0);
  CHECK(b.bytes() == 0);
  CHECK(concat(b).empty());
}

TEST_CASE("WriteBatch: pointers stay valid after the framing buffer grows", "[uv_util]") {
  // Sizes with 1..6 hex digits; 2000 chunks make ~20 KB of framing, far past
  // the 256 bytes reserved up front, so framing_ reallocates many times
  // between addCopy() and finalize().
  std::string payload(70000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const std::vector<size_t> sizes = {1, 15, 16, 255, 256, 4095, 4096, 65535, 65536, 69999};

  for (size_t n_chunks : {size_t{1}, size_t{10}, size_t{100}, size_t{2000}}) {
    INFO(n_chunks << " chunks");
    WriteBatch b;
    std::string expected;
    b.addCopy("HEAD\r\n\r\n");
    expected += "HEAD\r\n\r\n";
    for (size_t i = 0; i < n_chunks; ++i) {
      size_t len = sizes[i % sizes.size()];
      size_t off = (i * 7) % (payload.size() - len + 1);
      b.addChunk(payload.data() + off, len);
      expected += hex(len) + "\r\n" + payload.substr(off, len) + "\r\n";
      if (i % 3 == 0) {
        b.addCopy("");
        b.addBorrowed(payload.data(), 3);
        expected += payload.substr(0, 3);
      }
    }
    b.addLastChunk();
    expected += "0\r\n\r\n";
    b.finalize();
    CHECK(b.bytes() == expected.size());
    std::string got = concat(b);
    CHECK(got.size() == expected.size());
    CHECK(got == expected);

    // finalize() twice is harmless.
    b.finalize();
    CHECK(concat(b) == expected);

    // clear() then reuse gives only the new content.
    b.clear();
    CHECK(b.empty());
    CHECK(b.bytes() == 0);
    b.addCopy("abc");
    b.addBorrowed(payload.data(), 2);
    b.finalize();
    CHECK(concat(b) == "abcab");
    CHECK(b.bytes() == 5);
  }
}

TEST_CASE("formatSockaddr and formatIp", "[uv_util]") {
  sockaddr_in in4{};
  REQUIRE(uv_ip4_addr("127.0.0.1", 8080, &in4) == 0);
  sockaddr_in6 in6{};
  REQUIRE(uv_ip6_addr("::1", 443, &in6) == 0);
  sockaddr_in6 in6b{};
  REQUIRE(uv_ip6_addr("2001:db8::42", 0, &in6b) == 0);
  sockaddr_storage unknown{};
  unknown.ss_family = AF_UNIX;

  CHECK(ballast::formatSockaddr(reinterpret_cast<sockaddr*>(&in4)) == "127.0.0.1:8080");
  CHECK(ballast::formatSockaddr(reinterpret_cast<sockaddr*>(&in6)) == "[::1]:443");
  CHECK(ballast::formatSockaddr(reinterpret_cast<sockaddr*>(&in6b)) == "[2001:db8::42]:0");
  CHECK(ballast::formatSockaddr(reinterpret_cast<sockaddr*>(&unknown)).empty());

  std::string out = "stale";
  ballast::formatIp(reinterpret_cast<sockaddr*>(&in4), out);
  CHECK(out == "127.0.0.1");
  ballast::formatIp(reinterpret_cast<sockaddr*>(&in6), out);
  CHECK(out == "::1");
  ballast::formatIp(reinterpret_cast<sockaddr*>(&unknown), out);
  CHECK(out.empty());
}

TEST_CASE("parseFlatJsonObject: flat objects in, every malformed or nested one refused", "[base][json]") {
  std::vector<std::pair<std::string, std::string>> kv;
  std::string error;
  SECTION("strings with escapes, numbers and literals") {
    REQUIRE(ballast::parseFlatJsonObject(R"( {"for": "2h", "reason": "a \"b\" \\ \u00e9 \ud83d\ude00", "n": -1.5e3,)"
                                         R"( "ok": true, "x": null} )",
                                         kv, error));
    REQUIRE(kv.size() == 5);
    CHECK(kv[0] == std::pair<std::string, std::string>{"for", "2h"});
    CHECK(kv[1].second == "a \"b\" \\ \xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(kv[2].second == "-1.5e3");
    CHECK(kv[3].second == "true");
    CHECK(kv[4].second == "null");
  }
  SECTION("empty object") {
    REQUIRE(ballast::parseFlatJsonObject("{}", kv, error));
    CHECK(kv.empty());
  }
  for (const char* bad : {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":[1]}", "{\"a\":{}}",
                          "{\"a\":\"x\"} trailing", "{a:1}", "{\"a\":01x}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\x01\"}",
                          "{\"a\":tru}", "{\"a\":1 \"b\":2}", "{\"a\":\"\\q\"}"}) {
    INFO(bad);
    CHECK_FALSE(ballast::parseFlatJsonObject(bad, kv, error));
    CHECK(error.find("at byte") != std::string::npos);
  }
}

TEST_CASE("parseJson: nested documents in, literal text kept, every malformed or truncated one refused", "[base][json]") {
  ballast::JsonValue v;
  std::string error;
  const std::string doc = R"( {"a": [1, -2.50, {"b": null}, true], "s": "x\"\u00e9", "e": {}, "n": [] } )";
  REQUIRE(ballast::parseJson(doc, v, error));
  REQUIRE(v.isObject());
  REQUIRE(v.members.size() == 4);
  const ballast::JsonValue* a = v.find("a");
  REQUIRE(a != nullptr);
  REQUIRE(a->items.size() == 4);
  CHECK(a->items[1].text == "-2.50");
  CHECK(a->items[1].isNumber());
  CHECK(a->items[2].find("b")->kind == ballast::JsonValue::Kind::Null);
  CHECK(a->items[3].kind == ballast::JsonValue::Kind::Bool);
  CHECK(v.find("s")->text == "x\"\xc3\xa9");
  CHECK(v.find("missing") == nullptr);
  CHECK(a->find("b") == nullptr);  // not an object
  // Every proper prefix of the document is refused, with a byte offset.
  const size_t end = doc.find_last_not_of(' ') + 1;
  for (size_t n = 0; n < end; ++n) {
    INFO(n);
    CHECK_FALSE(ballast::parseJson(doc.substr(0, n), v, error));
    CHECK(error.find("at byte") != std::string::npos);
  }
  for (const char* bad : {"[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "1 2", "\"\\x\"", "{1:2}", "nul"}) {
    INFO(bad);
    CHECK_FALSE(ballast::parseJson(bad, v, error));
  }
  // Nesting: 64 levels are read, 65 refused (not a stack overflow).
  CHECK(ballast::parseJson(std::string(64, '[') + std::string(64, ']'), v, error));
  CHECK_FALSE(ballast::parseJson(std::string(65, '[') + std::string(65, ']'), v, error));
  CHECK_FALSE(ballast::parseJson(std::string(100000, '['), v, error));
  CHECK(error.find("nested too deep") == 0);
}
