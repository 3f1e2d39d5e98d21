// The admin listener: /healthz, /readyz, /status, /metrics, the status page,
// runtime control (drain, disable, enable) and its token.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <variant>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

// ---- a tiny JSON reader for /status (objects, arrays, strings, numbers,
// true/false/null). Throws std::runtime_error on malformed input.
struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;

  const Json& operator[](const std::string& k) const {
    auto it = obj.find(k);
    if (type != Type::Object || it == obj.end()) throw std::runtime_error("no key \"" + k + "\"");
    return it->second;
  }
  const Json& operator[](size_t i) const {
    if (type != Type::Array || i >= arr.size()) throw std::runtime_error("no index " + std::to_string(i));
    return arr[i];
  }
  bool has(const std::string& k) const { return type == Type::Object && obj.count(k) > 0; }
  bool isNull() const { return type == Type::Null; }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& text) : t_(text) {}
  Json parseDocument() {
    Json v = value();
    ws();
    if (i_ != t_.size()) fail("trailing bytes");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("bad JSON at " + std::to_string(i_) + ": " + what);
  }
  void ws() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  char peek() {
    ws();
    if (i_ >= t_.size()) fail("unexpected end");
    return t_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected ") + c);
    ++i_;
  }
  bool literal(const char* w) {
    size_t n = std::strlen(w);
    if (t_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (i_ < t_.size() && t_[i_] != '"') {
      char c = t_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) fail("bad escape");
      char e = t_[i_++];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u':
          if (i_ + 4 > t_.size()) fail("bad \\u");
          out.push_back(static_cast<char>(std::stoi(t_.substr(i_, 4), nullptr, 16)));
          i_ += 4;
          break;
        default: out.push_back(e);
      }
    }
    if (i_ >= t_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  Json value() {
    Json v;
    char c = peek();
    if (c == '{') {
      ++i_;
      v.type = Json::Type::Object;
      if (peek() == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        std::string k = str();
        expect(':');
        if (v.obj.count(k)) fail("duplicate key " + k);
        v.obj[k] = value();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      ++i_;
      v.type = Json::Type::Array;
      if (peek() == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.arr.push_back(value());
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = Json::Type::String;
      v.s = str();
      return v;
    }
    if (literal("true")) {
      v.type = Json::Type::Bool;
      v.b = true;
      return v;
    }
    if (literal("false")) {
      v.type = Json::Type::Bool;
      return v;
    }
    if (literal("null")) return v;
    size_t start = i_;
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '-' || t_[i_] == '+' ||
                              t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
    }
    if (start == i_) fail("unexpected character");
    v.type = Json::Type::Number;
    v.n = std::stod(t_.substr(start, i_ - start));
    return v;
  }
  const std::string& t_;
  size_t i_ = 0;
};

Json parseJson(const std::string& text) { return JsonReader(text).parseDocument(); }

bool pollFor(const std::function<bool()>& done, Ms timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// One admin request on a fresh connection (the admin answers one per connection).
Response admin(const Ballast& lb, const std::string& method, const std::string& path,
               const std::vector<std::string>& headers = {}, const std::string& body = "") {
  ReadOptions opts;
  opts.method = method;  // HEAD: no body to read
  return fetch(lb.adminPort(), request(method, path, headers, body, "127.0.0.1:" + std::to_string(lb.adminPort())),
               opts);
}

Response adminGet(const Ballast& lb, const std::string& path, const std::vector<std::string>& headers = {}) {
  return admin(lb, "GET", path, headers);
}

// POST /pools/{pool}/backends/{address}/{action}.
Response control(const Ballast& lb, const std::string& pool, const std::string& backend, const std::string& action,
                 const std::string& token = "") {
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return admin(lb, "POST", "/pools/" + pool + "/backends/" + backend + "/" + action, headers);
}

Json status(const Ballast& lb, const std::vector<std::string>& headers = {}) {
  Response r = adminGet(lb, "/status", headers);
  INFO(r.describe());
  REQUIRE(r.status == 200);
  REQUIRE(r.headerOr("Content-Type") == "application/json");
  return parseJson(r.body);
}

// The /status entry of backend `address` in pool `pool`.
Json backendStatus(const Json& st, const std::string& pool, const std::string& address) {
  for (const Json& p : st["pools"].arr) {
    if (p["name"].s != pool) continue;
    for (const Json& b : p["backends"].arr) {
      if (b["address"].s == address) return b;
    }
  }
  throw std::runtime_error("backend " + address + " not in /status");
}

std::string stateOf(const Ballast& lb, const std::string& address, const std::vector<std::string>& headers = {}) {
  return backendStatus(status(lb, headers), "web", address)["state"].s;
}

// A config with pool "web" and the given admin block body, e.g.
// "token: abc, protect_reads: true".
std::string adminConfig(const std::vector<std::string>& backends, const std::string& admin_keys,
                        const std::string& pool_keys = "") {
  std::string y = "listen: 127.0.0.1:0\n";
  y += "admin: { listen: 127.0.0.1:0" + (admin_keys.empty() ? "" : ", " + admin_keys) + " }\n";
  y += "log: { level: info, access: stdout, events: stderr }\n";
  y += "pools:\n  - name: web\n    backends:\n";
  for (const auto& b : backends) y += "      - { address: " + b + " }\n";
  if (!pool_keys.empty()) y += "    " + pool_keys + "\n";
  return y;
}

}  // namespace

TEST_CASE("admin: /healthz is 200, unknown paths 404, wrong methods 405 with Allow", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response h = adminGet(lb, "/healthz");
  INFO(h.describe());
  CHECK(h.status == 200);
  CHECK(h.body == "ok\n");
  CHECK(h.headerOr("Connection") == "close");

  Response head = admin(lb, "HEAD", "/healthz");
  CHECK(head.status == 200);

  for (const char* path : {"/nope", "/status/extra", "/pools/web", "/pools/web/backends/x/reboot", "/metricsx"}) {
    Response r = adminGet(lb, path);
    INFO(path << "\n" << r.describe());
    CHECK(r.status == 404);
  }
  for (const char* path : {"/healthz", "/readyz", "/status", "/metrics", "/"}) {
    Response r = admin(lb, "POST", path);
    INFO(path << "\n" << r.describe());
    CHECK(r.status == 405);
    CHECK(r.headerOr("Allow") == "GET, HEAD");
  }
  Response r = adminGet(lb, "/pools/web/backends/" + a.address() + "/drain");
  INFO(r.describe());
  CHECK(r.status == 405);
  CHECK(r.headerOr("Allow") == "POST");
  CHECK(stateOf(lb, a.address()) == "healthy");  // a GET changed nothing
}

TEST_CASE("admin: a request head over 8 KiB gets 431, a POST body that is not a JSON object gets 400", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response big = adminGet(lb, "/healthz", {"X-Big: " + std::string(9000, 'a')});
  INFO(big.describe());
  CHECK(big.status == 431);

  // A body is read whole, and it must say something the endpoint takes:
  // never ignored.
  Response junk = admin(lb, "POST", "/pools/web/backends/" + a.address() + "/disable", {}, std::string(3000, 'x'));
  INFO(junk.describe());
  CHECK(junk.status == 400);
  CHECK(stateOf(lb, a.address()) == "healthy");
  Response withBody = admin(lb, "POST", "/pools/web/backends/" + a.address() + "/disable", {},
                            "{\"reason\": \"" + std::string(200, 'r') + "\"}" + std::string(2000, ' '));
  INFO(withBody.describe());
  CHECK(withBody.status == 200);
  CHECK(stateOf(lb, a.address()) == "disabled");
  // The admin is still serving after both.
  CHECK(adminGet(lb, "/healthz").status == 200);
}

// Found by the admin fuzz target (tests/fuzz/admin_fuzzer.cc): the 431 to
// a HEAD request carried its body, which a client reads as the start of
// another response.
TEST_CASE("admin: an error answer to HEAD (431 or 400) has no body", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  for (const std::string& req : {"HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n",
                                 std::string("HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n")}) {
    Client c(lb.adminPort());
    c.sendAll(req);
    const std::string got = c.readUntilClose();
    INFO(got.substr(0, 400));
    REQUIRE(got.find("\r\n\r\n") != std::string::npos);
    CHECK((got.rfind("HTTP/1.1 431 ", 0) == 0 || got.rfind("HTTP/1.1 400 ", 0) == 0));
    CHECK(got.size() == got.find("\r\n\r\n") + 4);  // the head, and nothing after it
  }
}

TEST_CASE("admin: /readyz is 503 until the first health round is done, then 200", "[admin][health]") {
  TempDir dir;
  // The health path never answers: the first probe ends only at its timeout.
  FakeServer fake([](const FakeRequest& req) {
    if (req.target != "/healthz") return FakeReply::respond(200, "fake\n");
    FakeReply r;
    r.action = FakeReply::Action::Hang;
    return r;
  });
  DemoBackend a(dir, "a");
  Ballast lb(dir, adminConfig({a.address(), fake.address()}, "",
                              "health_check: { path: /healthz, interval: 2s, timeout: 1s, jitter: 0% }"));
  auto started = Clock::now();

  Response early = adminGet(lb, "/readyz");
  INFO(early.describe());
  REQUIRE(Clock::now() - started < 900ms);  // still inside the first probe's timeout
  CHECK(early.status == 503);
  CHECK(has(early.body, "first health check round"));
  // The healthy backend's first probe may or may not be done yet.
  CHECK(std::regex_search(early.body, std::regex(R"(pool web \([01] of 2 backends probed\))")));
  CHECK(adminGet(lb, "/healthz").status == 200);  // alive, though not ready
  Json st = status(lb);
  CHECK_FALSE(st["ready"].b);

  Response later;
  REQUIRE(pollFor([&] { return (later = adminGet(lb, "/readyz")).status == 200; }, 5000ms));
  CHECK(Clock::now() - started >= 700ms);
  CHECK(later.body == "ready\n");
  CHECK(status(lb)["ready"].b);
  // The hanging backend failed its first probe; the other passed.
  CHECK(stateOf(lb, fake.address()) == "unhealthy");
  CHECK(stateOf(lb, a.address()) == "healthy");
  Json lp = backendStatus(status(lb), "web", fake.address())["last_probe"];
  CHECK(lp["result"].s == "fail");
  CHECK(has(lp["reason"].s, "timeout"));
  fake.stop();
}

TEST_CASE("admin: /status describes listeners, routes, pools and backends", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  DeadPort dead;
  std::string y = "listen: 127.0.0.1:0\n"
                  "admin: { listen: 127.0.0.1:0 }\n"
                  "log: { level: info, access: stdout, events: stderr }\n"
                  "pools:\n"
                  "  - name: web\n"
                  "    health_check: { path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1 }\n"
                  "    backends:\n"
                  "      - { address: " + a.address() + ", weight: 3 }\n"
                  "      - { address: " + dead.address() + " }\n"
                  "      - { address: " + b.address() + ", backup: true }\n"
                  "  - name: api\n"
                  "    backends: [{ address: " + b.address() + " }]\n"
                  "routes:\n"
                  "  - { match: { host: \"*.api.test\", path_prefix: /v1 }, pool: api }\n"
                  "  - { pool: web }\n";
  Ballast lb(dir, y);
  REQUIRE(pollFor([&] { return adminGet(lb, "/readyz").status == 200; }, 5000ms));
  for (int i = 0; i < 4; ++i) REQUIRE(fetch(lb.port(), get("/")).status == 200);
  REQUIRE(fetch(lb.port(), request("GET", "/v1/x", {}, "", "x.api.test")).status == 200);

  Json st = status(lb);
  CHECK(st["version"].type == Json::Type::String);
  CHECK(st["pid"].n == lb.process().pid());
  CHECK(st["uptime_seconds"].n >= 0);
  CHECK(st["ready"].b);
  REQUIRE(st["listeners"].arr.size() == 1);
  CHECK(st["listeners"][0]["address"].s == "127.0.0.1:" + std::to_string(lb.port()));

  REQUIRE(st["routes"].arr.size() == 2);
  CHECK(st["routes"][0]["host"].s == "*.api.test");
  CHECK(st["routes"][0]["path_prefix"].s == "/v1");
  CHECK(st["routes"][0]["pool"].s == "api");
  CHECK(st["routes"][1]["host"].s == "");
  CHECK(st["routes"][1]["pool"].s == "web");

  REQUIRE(st["pools"].arr.size() == 2);
  const Json& web = st["pools"][0];
  CHECK(web["name"].s == "web");
  CHECK(web["balance"].s == "round_robin");
  CHECK(web["mode"].s == "normal");
  CHECK(web["available"].n == 2);  // a and the backup b
  CHECK(web["health_check"]["type"].s == "http");
  REQUIRE(web["backends"].arr.size() == 3);

  Json ba = backendStatus(st, "web", a.address());
  CHECK(ba["state"].s == "healthy");
  CHECK(ba["health"].s == "healthy");
  CHECK(ba["admin"].s == "enabled");
  CHECK(ba["weight"].n == 3);
  CHECK_FALSE(ba["backup"].b);
  CHECK_FALSE(ba["ejected"].b);
  CHECK(ba["requests_1m"].n == 4);
  CHECK(ba["errors_1m"].n == 0);
  CHECK(ba["active_requests"].n == 0);
  CHECK(ba["active_connections"].n == 0);
  CHECK(ba["idle_connections"].n >= 1);  // keep-alive to the backend
  CHECK(std::regex_match(ba["since"].s, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(ba["since_seconds"].type == Json::Type::Number);
  CHECK(ba["last_probe"]["result"].s == "pass");
  CHECK(ba["last_probe"]["http_status"].n == 200);
  CHECK(ba["last_probe"]["latency_ms"].n >= 0);

  Json bd = backendStatus(st, "web", dead.address());
  CHECK(bd["state"].s == "unhealthy");
  CHECK(bd["last_probe"]["result"].s == "fail");
  CHECK(has(bd["last_probe"]["reason"].s, "refused"));
  CHECK(bd["last_probe"]["http_status"].isNull());

  Json bb = backendStatus(st, "web", b.address());
  CHECK(bb["backup"].b);
  // A pool without health_check has no last_probe at all.
  Json api_b = backendStatus(st, "api", b.address());
  CHECK_FALSE(api_b.has("last_probe"));
  CHECK(api_b["state"].s == "healthy");
  CHECK(api_b["requests_1m"].n == 1);
  CHECK(st["pools"][1]["health_check"].isNull());
}

TEST_CASE("admin: /metrics is Prometheus text", "[admin][metrics]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  REQUIRE(fetch(lb.port(), get("/")).status == 200);
  Response m = adminGet(lb, "/metrics");
  INFO(m.describe());
  CHECK(m.status == 200);
  CHECK(m.headerOr("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(has(m.body, "# TYPE "));
  CHECK(has(m.body, a.address()));
}

TEST_CASE("admin: GET / is a self-contained HTML status page", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  Response r = adminGet(lb, "/");
  INFO(r.headerOr("Content-Type"));
  REQUIRE(r.status == 200);
  CHECK(r.headerOr("Content-Type") == "text/html; charset=utf-8");
  CHECK(has(r.body, "<!doctype html>"));
  CHECK(has(r.body, "<svg"));
  CHECK(has(r.body, "fetch(\"/status\""));
  CHECK(has(r.body, "2000"));
  CHECK(has(r.body, "sessionStorage"));
  CHECK(has(r.body, "Bearer "));
  // Nothing from elsewhere: no absolute URL, no external script or stylesheet.
  CHECK_FALSE(has(r.body, "http://"));
  CHECK_FALSE(has(r.body, "https://"));
  CHECK_FALSE(has(r.body, "<script src"));
  CHECK_FALSE(has(r.body, "<link"));
  CHECK(has(r.headerOr("Content-Security-Policy"), "default-src 'none'"));
}

TEST_CASE("admin: control needs the token when one is set, wrong or missing gets 401", "[admin][auth]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  const std::string token = "T0ken-" + std::to_string(::getpid());
  Ballast lb(dir, adminConfig({a.address(), b.address()}, "token: " + token));

  for (const std::string& bad : {std::string(), std::string("wrong"), token + "x", token.substr(1)}) {
    Response r = control(lb, "web", a.address(), "disable", bad);
    INFO("token '" << bad << "'\n" << r.describe());
    CHECK(r.status == 401);
    CHECK(r.headerOr("WWW-Authenticate").rfind("Bearer", 0) == 0);
  }
  Response basic = admin(lb, "POST", "/pools/web/backends/" + a.address() + "/disable", {"Authorization: Basic Zm9v"});
  CHECK(basic.status == 401);
  CHECK(stateOf(lb, a.address()) == "healthy");  // nothing changed
  CHECK(countEvents(lb, "admin_action") == 0);

  JsonObject ev = waitEvent(lb, "admin_auth_failed");
  CHECK(jsonText(ev, "method") == "POST");
  CHECK(jsonText(ev, "path") == "/pools/web/backends/" + a.address() + "/disable");
  CHECK(jsonText(ev, "reason") == "missing token");
  CHECK(jsonText(ev, "client").rfind("127.0.0.1:", 0) == 0);
  CHECK(pollFor([&] { return countEvents(lb, "admin_auth_failed") == 5; }, 2000ms));
  // The token never shows up in the log.
  for (const auto& line : lb.events()) CHECK_FALSE(has(line, token));

  Response ok = control(lb, "web", a.address(), "disable", token);
  INFO(ok.describe());
  CHECK(ok.status == 200);
  CHECK(stateOf(lb, a.address()) == "disabled");
  // Reads stay open without protect_reads.
  CHECK(adminGet(lb, "/metrics").status == 200);
  CHECK(adminGet(lb, "/").status == 200);
}

TEST_CASE("admin: protect_reads guards /status and /metrics, not the probes or the page", "[admin][auth]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, adminConfig({a.address()}, "token: sekret, protect_reads: true"));

  for (const char* path : {"/status", "/metrics"}) {
    Response none = adminGet(lb, path);
    INFO(path << "\n" << none.describe());
    CHECK(none.status == 401);
    CHECK(none.headerOr("WWW-Authenticate").rfind("Bearer", 0) == 0);
    CHECK(adminGet(lb, path, {"Authorization: Bearer nope"}).status == 401);
    CHECK(adminGet(lb, path, {"Authorization: Bearer sekret"}).status == 200);
  }
  CHECK(adminGet(lb, "/healthz").status == 200);
  CHECK(adminGet(lb, "/readyz").status == 200);
  CHECK(adminGet(lb, "/").status == 200);
  CHECK(pollFor([&] { return countEvents(lb, "admin_auth_failed") == 4; }, 2000ms));
  CHECK(stateOf(lb, a.address(), {"Authorization: Bearer sekret"}) == "healthy");
}

TEST_CASE("admin: a token file is read at start-up", "[admin][auth]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  writeFile(dir.file("admin.token"), "\n  from-a-file  \n");
  Ballast lb(dir, adminConfig({a.address()}, "token_file: " + dir.file("admin.token")));
  CHECK(control(lb, "web", a.address(), "drain", "wrong").status == 401);
  CHECK(control(lb, "web", a.address(), "drain", "from-a-file").status == 200);
}

TEST_CASE("admin: control of an unknown pool or backend is a JSON 404, addresses may be URL-encoded", "[admin]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Response np = control(lb, "nope", a.address(), "drain");
  INFO(np.describe());
  CHECK(np.status == 404);
  CHECK(np.headerOr("Content-Type") == "application/json");
  CHECK(parseJson(np.body)["error"].s == "unknown pool \"nope\"");

  Response nb = control(lb, "web", "127.0.0.1:1", "drain");
  INFO(nb.describe());
  CHECK(nb.status == 404);
  CHECK(has(parseJson(nb.body)["error"].s, "unknown backend \"127.0.0.1:1\""));

  std::string encoded = std::regex_replace(a.address(), std::regex(":"), "%3A");
  Response ok = control(lb, "web", encoded, "disable");
  INFO(ok.describe());
  CHECK(ok.status == 200);
  Json j = parseJson(ok.body);
  CHECK(j["backend"].s == a.address());
  CHECK(j["old"].s == "healthy");
  CHECK(j["new"].s == "disabled");
  CHECK(j["admin"].s == "disabled");
}

TEST_CASE("admin: drain takes a backend out with no failed request while a client keeps sending", "[admin][drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));

  // Two slow requests, one on each backend (round robin), in flight while
  // the drain happens.
  Client slow1(lb.port()), slow2(lb.port());
  slow1.sendAll(get("/?delay=700"));
  slow2.sendAll(get("/?delay=700"));
  REQUIRE(pollFor([&] {
    Json st = status(lb);
    return backendStatus(st, "web", a.address())["active_requests"].n == 1 &&
           backendStatus(st, "web", b.address())["active_requests"].n == 1;
  }, 3000ms));

  // A keep-alive client sends continuously; the drain comes in the middle.
  Client c(lb.port());
  std::map<std::string, int> before, during;
  size_t failures = 0;
  auto send = [&](std::map<std::string, int>& seen) {
    Response r = c.roundTrip(get("/"));
    if (r.status != 200) ++failures;
    ++seen[r.headerOr("X-Backend")];
  };
  for (int i = 0; i < 10; ++i) send(before);

  Response d = control(lb, "web", a.address(), "drain");
  INFO(d.describe());
  REQUIRE(d.status == 200);
  Json dj = parseJson(d.body);
  CHECK(dj["old"].s == "healthy");
  CHECK(dj["new"].s == "draining");  // the slow request is still in flight
  CHECK(dj["active_requests"].n == 1);
  CHECK(stateOf(lb, a.address()) == "draining");

  for (int i = 0; i < 20; ++i) send(during);
  // The in-flight requests finish normally.
  Response s1 = slow1.readResponse();
  Response s2 = slow2.readResponse();
  CHECK(s1.status == 200);
  CHECK(s2.status == 200);
  CHECK(std::set<std::string>{s1.headerOr("X-Backend"), s2.headerOr("X-Backend")} ==
        std::set<std::string>{"a", "b"});
  for (int i = 0; i < 10; ++i) send(during);

  CHECK(failures == 0);
  CHECK(before.count("a") == 1);
  CHECK(during.count("a") == 0);  // no new request went to the drained backend
  CHECK(during["b"] == 30);
  Json ba = backendStatus(status(lb), "web", a.address());
  CHECK(ba["state"].s == "drained");
  CHECK(ba["admin"].s == "draining");
  CHECK(ba["active_requests"].n == 0);
  CHECK(ba["idle_connections"].n == 0);

  JsonObject ev = waitEvent(lb, "admin_action");
  CHECK(jsonText(ev, "action") == "drain");
  CHECK(jsonText(ev, "pool") == "web");
  CHECK(jsonText(ev, "backend") == a.address());
  CHECK(jsonText(ev, "old") == "healthy");
  CHECK(jsonText(ev, "new") == "draining");
  CHECK(jsonText(ev, "client").rfind("127.0.0.1:", 0) == 0);

  // Enable brings it back into rotation.
  Response e = control(lb, "web", a.address(), "enable");
  REQUIRE(e.status == 200);
  CHECK(parseJson(e.body)["new"].s == "healthy");
  std::map<std::string, int> after;
  for (int i = 0; i < 10; ++i) send(after);
  CHECK(failures == 0);
  CHECK(after["a"] == 5);
  CHECK(after["b"] == 5);
  CHECK(stateOf(lb, a.address()) == "healthy");
  CHECK(pollFor([&] { return countEvents(lb, "admin_action") == 2; }, 2000ms));
}

TEST_CASE("admin: disable takes a backend out at once, enable brings it back", "[admin][drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));

  Client c(lb.port());
  size_t failures = 0;
  std::map<std::string, int> seen;
  auto send = [&] {
    Response r = c.roundTrip(get("/"));
    if (r.status != 200) ++failures;
    ++seen[r.headerOr("X-Backend")];
  };
  for (int i = 0; i < 6; ++i) send();
  REQUIRE(seen["a"] == 3);

  Response d = control(lb, "web", b.address(), "disable");
  REQUIRE(d.status == 200);
  CHECK(parseJson(d.body)["new"].s == "disabled");
  seen.clear();
  for (int i = 0; i < 20; ++i) send();
  CHECK(seen["a"] == 20);
  Json bb = backendStatus(status(lb), "web", b.address());
  CHECK(bb["state"].s == "disabled");
  CHECK(bb["idle_connections"].n == 0);
  CHECK(status(lb)["pools"][0]["available"].n == 1);

  // Disabling the last one: the pool answers 503 (nothing is available).
  REQUIRE(control(lb, "web", a.address(), "disable").status == 200);
  CHECK(fetch(lb.port(), get("/")).status == 503);

  REQUIRE(control(lb, "web", a.address(), "enable").status == 200);
  REQUIRE(control(lb, "web", b.address(), "enable").status == 200);
  seen.clear();
  for (int i = 0; i < 10; ++i) send();
  CHECK(failures == 0);
  CHECK(seen["a"] == 5);
  CHECK(seen["b"] == 5);
  JsonObject ev = waitEvent(lb, "admin_action", [](const JsonObject& o) { return jsonText(o, "action") == "enable"; });
  CHECK(jsonText(ev, "old") == "disabled");
  CHECK(jsonText(ev, "new") == "healthy");
}

TEST_CASE("admin: drain and enable under concurrent keep-alive load lose no request", "[admin][drain]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  DemoBackend b(dir, "b");
  Ballast lb(dir, webConfig({a.address(), b.address()}));

  // Phase: 0 before the drain, 1 once its answer came back, 2 from the
  // moment the enable is sent.
  std::atomic<int> phase{0};
  std::atomic<bool> stop{false};
  struct Result {
    int phase_at_start;
    int phase_at_end;
    int status;
    std::string backend;
  };
  constexpr int kLoaders = 4;
  std::vector<std::vector<Result>> results(kLoaders);
  std::vector<std::string> errors(kLoaders);
  std::vector<std::thread> loaders;
  // Each loader owns its Client and its result vector; nothing else is shared.
  for (int t = 0; t < kLoaders; ++t) {
    loaders.emplace_back([&, t] {
      try {
        Client c(lb.port());
        while (!stop.load()) {
          int p0 = phase.load();
          Response r = c.roundTrip(get("/?delay=10"));
          results[t].push_back(Result{p0, phase.load(), r.status, r.headerOr("X-Backend")});
        }
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  Response d = control(lb, "web", a.address(), "drain");
  phase = 1;
  std::this_thread::sleep_for(400ms);
  std::string drained_state = stateOf(lb, a.address());
  phase = 2;
  Response e = control(lb, "web", a.address(), "enable");
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& th : loaders) th.join();

  CHECK(d.status == 200);
  CHECK(e.status == 200);
  CHECK(drained_state == "drained");
  std::map<int, std::map<std::string, int>> by_phase;  // only requests that started and ended in one phase
  size_t total = 0, failed = 0;
  for (int t = 0; t < kLoaders; ++t) {
    INFO("loader " << t);
    CHECK(errors[t].empty());
    for (const Result& r : results[t]) {
      ++total;
      if (r.status != 200) ++failed;
      if (r.phase_at_start == r.phase_at_end) ++by_phase[r.phase_at_start][r.backend];
    }
  }
  INFO("requests: " << total);
  CHECK(total > 40);
  CHECK(failed == 0);
  CHECK(by_phase[0]["a"] > 0);
  CHECK(by_phase[1]["a"] == 0);  // drained: no new request
  CHECK(by_phase[1]["b"] > 0);
  CHECK(by_phase[2]["a"] > 0);   // enabled again
}

TEST_CASE("admin: a POST a browser sends for another site is refused", "[admin][auth]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));
  const std::string self = "127.0.0.1:" + std::to_string(lb.adminPort());
  const std::string path = "/pools/web/backends/" + a.address() + "/disable";
  auto post = [&](const std::string& host, const std::vector<std::string>& headers) {
    return fetch(lb.adminPort(), request("POST", path, headers, "", host));
  };

  // CSRF: a page elsewhere posting to the loopback admin.
  Response cross = post(self, {"Origin: http://evil.example", "Sec-Fetch-Site: cross-site"});
  INFO(cross.describe());
  CHECK(cross.status == 403);
  CHECK(post(self, {"Origin: http://evil.example"}).status == 403);
  CHECK(post(self, {"Sec-Fetch-Site: same-site"}).status == 403);
  // DNS rebinding: evil.example resolving to 127.0.0.1, same origin as far as the browser knows.
  CHECK(post("evil.example:" + std::to_string(lb.adminPort()),
             {"Origin: http://evil.example:" + std::to_string(lb.adminPort()), "Sec-Fetch-Site: same-origin"})
            .status == 403);
  CHECK(post("evil.example", {}).status == 403);
  CHECK(stateOf(lb, a.address()) == "healthy");
  CHECK(pollFor([&] { return countEvents(lb, "admin_request_refused") == 5; }, 2000ms));

  // The admin's own origin, localhost and plain clients (curl) pass.
  CHECK(post(self, {"Origin: http://" + self, "Sec-Fetch-Site: same-origin"}).status == 200);
  CHECK(post("localhost:" + std::to_string(lb.adminPort()), {}).status == 200);
  CHECK(post(self, {}).status == 200);
  CHECK(stateOf(lb, a.address()) == "disabled");
}
