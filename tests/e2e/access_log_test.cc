// The access log: one JSON object per request on stdout.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"

using namespace ballast::test;

namespace {

bool isNumber(const JsonValue& v) {
  return !v.is_string && !v.text.empty() && v.text.find_first_not_of("0123456789.-+eE") == std::string::npos;
}

}  // namespace

TEST_CASE("each request writes one JSON access log line with the expected fields", "[access-log]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  REQUIRE(lb.accessLog().empty());

  struct Sent {
    std::string method, path, raw;
    int status;
    size_t body_in;
  };
  const std::vector<Sent> sent = {
      {"GET", "/first", get("/first"), 200, 0},
      {"POST", "/second", request("POST", "/second", {}, std::string(10, 'z')), 200, 10},
      {"GET", "/third", get("/third?status=503"), 503, 0},
  };
  std::vector<Response> responses;
  Client c(lb.port());
  for (const auto& s : sent) {
    responses.push_back(c.roundTrip(s.raw));
    INFO(responses.back().describe());
    REQUIRE(responses.back().status == s.status);
  }

  auto lines = lb.waitAccessLog(sent.size());
  REQUIRE(lines.size() == sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    INFO("line " << i << ": " << lines[i]);
    JsonObject o = parseFlatJson(lines[i]);
    for (const char* field : {"time", "request_id", "client", "method", "path", "status", "route", "pool", "backend",
                              "duration_ms", "bytes_in", "bytes_out"}) {
      INFO("field " << field);
      CHECK(o.count(field) == 1);
    }
    CHECK(o["method"].text == sent[i].method);
    // The path, with or without the query string.
    CHECK(o["path"].text.rfind(sent[i].path, 0) == 0);
    CHECK(o["status"].text == std::to_string(sent[i].status));
    CHECK(isNumber(o["status"]));
    CHECK(o["pool"].text == "web");
    CHECK(o["backend"].text == a.address());
    CHECK(o["client"].text.rfind("127.0.0.1", 0) == 0);
    CHECK_FALSE(o["time"].text.empty());
    CHECK(o["request_id"].text == responses[i].headerOr("X-Request-Id"));
    CHECK(isNumber(o["duration_ms"]));
    CHECK(isNumber(o["bytes_in"]));
    CHECK(isNumber(o["bytes_out"]));
    if (isNumber(o["bytes_in"])) CHECK(std::stod(o["bytes_in"].text) >= static_cast<double>(sent[i].body_in));
    if (isNumber(o["bytes_out"])) CHECK(std::stod(o["bytes_out"].text) >= static_cast<double>(responses[i].body_bytes));
  }
}
