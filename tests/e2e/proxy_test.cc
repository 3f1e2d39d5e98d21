// Basic proxying: forwarding, balancing, client keep-alive (HTTP/1.1 and
// 1.0), pipelining, bodiless responses, Expect: 100-continue.
#include <catch2/catch.hpp>

#include <map>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

TEST_CASE("a GET is proxied to the backend and its response returned intact", "[proxy]") {
  TempDir dir;
  DemoBackend a(dir, "alpha");
  Ballast lb(dir, webConfig({a.address()}));

  Response r = fetch(lb.port(), get("/hello"));
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.complete);
  CHECK(r.headerOr("X-Backend") == "alpha");
  CHECK(r.headerOr("Content-Type") == "text/plain");
  CHECK(r.body == "alpha\n");

  // A generated 100 000-byte body arrives byte for byte.
  Response big = fetch(lb.port(), get("/big?size=100000"));
  INFO(big.describe());
  REQUIRE(big.status == 200);
  CHECK(big.complete);
  CHECK(big.body == demoBody(100000));
}

TEST_CASE("round robin alternates between two equal backends", "[proxy][balance]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));

  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    Response r = fetch(lb.port(), get("/rr"));
    INFO(r.describe());
    REQUIRE(r.status == 200);
    seen.push_back(r.headerOr("X-Backend"));
  }
  for (size_t i = 1; i < seen.size(); ++i) {
    INFO("request " << i << ": " << seen[i - 1] << " then " << seen[i]);
    CHECK(seen[i] != seen[i - 1]);
  }
  CHECK(std::count(seen.begin(), seen.end(), "a") == 3);
  CHECK(std::count(seen.begin(), seen.end(), "b") == 3);
}

TEST_CASE("weights 3:1 give 6:2 over 8 requests, smoothly interleaved", "[proxy][balance]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, configYaml({PoolSpec{"web", {{a.address(), 3}, {b.address(), 1}}}}));

  std::string order;
  for (int i = 0; i < 8; ++i) {
    Response r = fetch(lb.port(), get("/w"));
    INFO(r.describe());
    REQUIRE(r.status == 200);
    order += r.headerOr("X-Backend");
  }
  INFO("order: " << order);
  CHECK(std::count(order.begin(), order.end(), 'a') == 6);
  CHECK(std::count(order.begin(), order.end(), 'b') == 2);
  // Smooth WRR never picks the weight-1 backend twice in a row here.
  CHECK(order.find("bb") == std::string::npos);
}

TEST_CASE("an HTTP/1.1 client keeps its connection across requests", "[proxy][keepalive]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  for (int i = 0; i < 4; ++i) {
    Response r = c.roundTrip(get("/ka" + std::to_string(i)));
    INFO("request " << i << "\n" << r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.complete);
    CHECK_FALSE(r.peer_closed);
    CHECK(r.body == "a\n");
    CHECK(toLower(r.headerOr("Connection", "")) != "close");
  }
  CHECK(c.buffered().empty());
}

TEST_CASE("an HTTP/1.0 client's connection is closed after the response", "[proxy][keepalive]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  Response r = c.roundTrip(request("GET", "/old", {}, "", "test.local", "HTTP/1.0"));
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.body == "a\n");
  CHECK_FALSE(r.chunked);
  // Nothing more, then EOF (readUntilClose throws if the connection stays open).
  CHECK(c.readUntilClose(5000ms).empty());
}

TEST_CASE("an HTTP/1.0 client with Connection: keep-alive keeps its connection", "[proxy][keepalive]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  const std::string req = request("GET", "/old-ka", {"Connection: keep-alive"}, "", "test.local", "HTTP/1.0");
  for (int i = 0; i < 3; ++i) {
    Response r = c.roundTrip(req);
    INFO("request " << i << "\n" << r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.body == "a\n");
    CHECK(toLower(r.headerOr("Connection")) == "keep-alive");
    CHECK(r.headerOr("Content-Length") == "2");
    CHECK_FALSE(r.chunked);
    CHECK_FALSE(r.peer_closed);
  }
}

TEST_CASE("an HTTP/1.0 client never receives a chunked body", "[proxy][keepalive]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  // The backend answers ballast (HTTP/1.1) with a chunked body...
  Response direct = fetch(a.port(), get("/c?size=100000&chunked=1"));
  REQUIRE(direct.status == 200);
  REQUIRE(direct.chunked);
  REQUIRE(direct.body == demoBody(100000));

  // ...which must reach a 1.0 client de-chunked: close-delimited or with a length.
  Client c(lb.port());
  Response r = c.roundTrip(request("GET", "/c?size=100000&chunked=1", {}, "", "test.local", "HTTP/1.0"));
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK_FALSE(r.hasHeader("Transfer-Encoding"));
  CHECK_FALSE(r.chunked);
  CHECK(r.complete);
  CHECK(r.body_bytes == 100000);
  CHECK(r.body == direct.body);
}

TEST_CASE("three pipelined requests get three responses in request order", "[proxy][pipelining]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));

  // The first request is the slowest: responses must still come back in order.
  const std::vector<std::string> targets = {"/p1?echo=head&delay=300", "/p2?echo=head", "/p3?echo=head&delay=100"};
  Client c(lb.port());
  c.sendAll(get(targets[0]) + get(targets[1]) + get(targets[2]));
  for (size_t i = 0; i < targets.size(); ++i) {
    Response r = c.readResponse();
    INFO("response " << i << "\n" << r.describe());
    REQUIRE(r.status == 200);
    REQUIRE(r.complete);
    EchoedHead h = parseEchoedHead(r.body);
    CHECK(h.request_line == "GET " + targets[i] + " HTTP/1.1");
  }
  CHECK(c.buffered().empty());
  // The connection still works afterwards.
  Response r = c.roundTrip(get("/after"));
  REQUIRE(r.status == 200);
}

TEST_CASE("bytes that arrive while a response is in progress: a pipelined request waits its turn, a FIN "
          "still gets the answer",
          "[proxy][pipelining][keepalive]") {
  // Reading goes on while a request is in progress (no stop and restart
  // per request): what arrives meanwhile is kept, not parsed early, and a
  // half-close is not taken for a client that gave up.
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  {
    Client c(lb.port());
    c.sendAll(get("/first?echo=head&delay=400"));
    // The first request is at the backend (parsed: ballast waits on it).
    REQUIRE(pollUntil([&] { return has(fetch(lb.adminPort(), get("/metrics")).body,
                                       "ballast_backend_active_requests{pool=\"web\",backend=\"" + a.address() + "\"} 1"); },
                      5000ms));
    c.sendAll(get("/second?echo=head"));
    Response r1 = c.readResponse();
    INFO(r1.describe());
    REQUIRE(r1.status == 200);
    REQUIRE(r1.complete);
    CHECK(parseEchoedHead(r1.body).request_line == "GET /first?echo=head&delay=400 HTTP/1.1");
    Response r2 = c.readResponse();
    INFO(r2.describe());
    REQUIRE(r2.status == 200);
    REQUIRE(r2.complete);
    CHECK(parseEchoedHead(r2.body).request_line == "GET /second?echo=head HTTP/1.1");
  }
  {
    Client c(lb.port());
    c.sendAll(get("/half-closed?delay=400"));
    REQUIRE(pollUntil([&] { return has(fetch(lb.adminPort(), get("/metrics")).body,
                                       "ballast_backend_active_requests{pool=\"web\",backend=\"" + a.address() + "\"} 1"); },
                      5000ms));
    c.shutdownWrite();  // FIN while ballast waits on the backend
    Response r = c.readResponse();
    INFO(r.describe());
    CHECK(r.status == 200);
    CHECK(r.complete);
    CHECK(r.body == "a\n");
    // Then ballast closes: the client sends nothing more.
    CHECK(c.readUntilClose(3000ms).empty());
  }
  // Nothing left open on ballast's side.
  CHECK(pollUntil([&] { return has(fetch(lb.adminPort(), get("/metrics")).body, "ballast_client_connections{state=\"active\"} 0"); },
                  5000ms));
}

TEST_CASE("every configured listen address serves", "[proxy]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, configYaml({PoolSpec{"web", {{a.address(), 1}}}}, "", "[127.0.0.1:0, 127.0.0.1:0]"));

  REQUIRE(lb.proxyPorts().size() == 2);
  CHECK(lb.proxyPorts()[0] != lb.proxyPorts()[1]);
  for (uint16_t port : lb.proxyPorts()) {
    Response r = fetch(port, get("/"));
    INFO("port " << port << "\n" << r.describe());
    CHECK(r.status == 200);
    CHECK(r.body == "a\n");
  }
}

TEST_CASE("HEAD responses carry no body and the connection stays usable", "[proxy][bodiless]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  ReadOptions head;
  head.method = "HEAD";
  Client c(lb.port());
  Response h1 = c.roundTrip(request("HEAD", "/?size=1000"), head);
  INFO(h1.describe());
  REQUIRE(h1.status == 200);
  CHECK(h1.headerOr("Content-Length") == "1000");  // the length a GET would have
  CHECK(h1.body.empty());

  // If ballast had sent 1000 body bytes, they would be parsed as this response.
  Response g1 = c.roundTrip(get("/"));
  INFO(g1.describe());
  REQUIRE(g1.status == 200);
  CHECK(g1.body == "a\n");

  // HEAD of a chunked resource: no chunks, not even the last-chunk.
  Response h2 = c.roundTrip(request("HEAD", "/?size=1000&chunked=1"), head);
  INFO(h2.describe());
  REQUIRE(h2.status == 200);
  Response g2 = c.roundTrip(get("/"));
  INFO(g2.describe());
  REQUIRE(g2.status == 200);
  CHECK(g2.body == "a\n");
  CHECK(c.buffered().empty());
}

TEST_CASE("204 and 304 responses carry no body and the connection stays usable", "[proxy][bodiless]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  for (int status : {204, 304}) {
    Response r = c.roundTrip(get("/?status=" + std::to_string(status)));
    INFO(r.describe());
    REQUIRE(r.status == status);
    CHECK_FALSE(r.hasHeader("Transfer-Encoding"));
    CHECK(r.body.empty());
    Response g = c.roundTrip(get("/"));
    INFO(g.describe());
    REQUIRE(g.status == 200);
    CHECK(g.body == "a\n");
  }
  CHECK(c.buffered().empty());
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body is sent", "[proxy][expect]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  const std::string body(5000, 'x');
  Client c(lb.port());
  c.sendAll(request("POST", "/upload", {"Content-Length: 5000", "Expect: 100-continue"}));
  // Only the head has been sent: the interim response must come on its own.
  Response interim = c.readResponse();
  INFO(interim.describe());
  REQUIRE(interim.status == 100);
  CHECK(interim.version == "HTTP/1.1");

  c.sendAll(body);
  Response r = c.readResponse();
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.headerOr("X-Body-Bytes") == "5000");
  CHECK(r.headerOr("X-Body-Fnv") == fnvHex(body));
}

TEST_CASE("a small request body is forwarded intact (Content-Length and chunked)", "[proxy][body]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  std::string body;
  for (int i = 0; i < 3000; ++i) body += static_cast<char>('a' + i % 26);

  Client c(lb.port());
  Response r1 = c.roundTrip(request("POST", "/len", {}, body));
  INFO(r1.describe());
  REQUIRE(r1.status == 200);
  CHECK(r1.headerOr("X-Body-Bytes") == "3000");
  CHECK(r1.headerOr("X-Body-Fnv") == fnvHex(body));

  const std::string chunked = "3e8\r\n" + body.substr(0, 1000) + "\r\n7d0;ext=1\r\n" + body.substr(1000) + "\r\n0\r\n\r\n";
  Response r2 = c.roundTrip(request("POST", "/chunked", {"Transfer-Encoding: chunked"}, chunked));
  INFO(r2.describe());
  REQUIRE(r2.status == 200);
  CHECK(r2.headerOr("X-Body-Bytes") == "3000");
  CHECK(r2.headerOr("X-Body-Fnv") == fnvHex(body));

  // echo=body streams it back.
  Response r3 = c.roundTrip(request("POST", "/echo?echo=body", {}, body));
  INFO(r3.describe());
  REQUIRE(r3.status == 200);
  CHECK(r3.body == body);
}
