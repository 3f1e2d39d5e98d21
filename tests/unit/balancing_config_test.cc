// The config keys of issue 11's balancing half: balance, hash_key,
// bounded_load, sticky, slow_start, zone_aware, zone_min_healthy, queue,
// backend weight 0 / zone / max_connections and the top-level zone; and the
// request-side helpers that read hash keys and sticky cookies.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/http/http_message.h"
#include "lb/proxy/hash_key.h"

namespace config = ballast::config;

namespace {

std::vector<std::string> errorsOf(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& e : config::loadConfigString(yaml).errors) out.push_back(e.format());
  return out;
}

config::Config loadValid(const std::string& yaml) {
  config::LoadResult r = config::loadConfigString(yaml);
  std::vector<std::string> errors;
  for (const auto& e : r.errors) errors.push_back(e.format());
  INFO(Catch::Detail::stringify(errors));
  REQUIRE(r.ok());
  return *r.config;
}

}  // namespace

TEST_CASE("balancing config: every key of the contract loads", "[config][balancing]") {
  const config::Config cfg = loadValid(R"(zone: eu-1a
pools:
  - name: web
    balance: consistent_hash
    hash_key: header:X-User
    bounded_load: 1.25
    sticky: { cookie: ballast_sticky, ttl: 1h }
    slow_start: 30s
    zone_aware: true
    zone_min_healthy: 70%
    queue: { size: 1000, timeout: 2s }
    backends:
      - { address: 10.0.0.1:80, weight: 3, zone: eu-1a, max_connections: 100 }
      - { address: 10.0.0.2:80, weight: 1, zone: eu-1b }
      - { address: 10.0.0.3:80, weight: 0 }
  - name: api
    balance: p2c
    slow_start: { window: 10s, aggression: 1.5 }
    sticky: {}
    backends: []
routes:
  - pool: web
)");
  CHECK(cfg.zone == "eu-1a");
  const config::PoolConfig& web = cfg.pools[0];
  CHECK(web.balance == config::Balance::ConsistentHash);
  CHECK(web.hash_key.kind == config::HashKey::Kind::Header);
  CHECK(web.hash_key.name == "x-user");
  CHECK(web.bounded_load == 1.25);
  REQUIRE(web.sticky.has_value());
  CHECK(web.sticky->cookie == "ballast_sticky");
  CHECK(web.sticky->ttl.count() == 3600000);
  CHECK(web.slow_start.window.count() == 30000);
  CHECK(web.slow_start.aggression == 1.0);
  CHECK(web.zone_aware);
  CHECK(web.zone_min_healthy == 70);
  REQUIRE(web.queue.has_value());
  CHECK(web.queue->size == 1000);
  CHECK(web.queue->timeout.count() == 2000);
  CHECK(web.backends[0].weight == 3);
  CHECK(web.backends[0].zone == "eu-1a");
  CHECK(web.backends[0].max_connections == 100);
  CHECK(web.backends[1].max_connections == 0);
  CHECK(web.backends[2].weight == 0);
  const config::PoolConfig& api = cfg.pools[1];
  CHECK(api.balance == config::Balance::P2C);
  CHECK(api.slow_start.window.count() == 10000);
  CHECK(api.slow_start.aggression == 1.5);
  REQUIRE(api.sticky.has_value());
  CHECK(api.sticky->cookie == "ballast_sticky");
  CHECK_FALSE(api.queue.has_value());
  CHECK_FALSE(api.zone_aware);
  CHECK(api.zone_min_healthy == 70);
}

TEST_CASE("balancing config: each policy name, and every hash key form", "[config][balancing]") {
  for (const char* b : {"round_robin", "least_request", "p2c", "random", "consistent_hash"}) {
    INFO(b);
    loadValid(std::string("pools:\n  - name: web\n    balance: ") + b + "\n    backends: []\n");
  }
  struct Row {
    const char* text;
    config::HashKey::Kind kind;
    const char* name;
  };
  for (const Row& row : {Row{"client_ip", config::HashKey::Kind::ClientIp, ""},
                         Row{"path", config::HashKey::Kind::Path, ""},
                         Row{"header:X-Tenant", config::HashKey::Kind::Header, "x-tenant"},
                         Row{"cookie:session", config::HashKey::Kind::Cookie, "session"},
                         Row{"query:user", config::HashKey::Kind::Query, "user"}}) {
    INFO(row.text);
    const auto cfg = loadValid(std::string("pools:\n  - name: web\n    balance: consistent_hash\n    hash_key: ") +
                               row.text + "\n    backends: []\n");
    CHECK(cfg.pools[0].hash_key.kind == row.kind);
    CHECK(cfg.pools[0].hash_key.name == row.name);
  }
}

TEST_CASE("balancing config: errors name file, line, column and key", "[config][balancing]") {
  const std::string head = "pools:\n  - name: web\n";
  struct Row {
    const char* name;
    std::string yaml;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"hash_key without consistent_hash", head + "    hash_key: path\n    backends: []\n",
       "<string>:3:15: pools[0].hash_key: needs balance: consistent_hash"},
      {"unknown hash key", head + "    balance: consistent_hash\n    hash_key: body\n    backends: []\n",
       "<string>:4:15: pools[0].hash_key: unknown hash key \"body\" (allowed: client_ip, header:NAME, cookie:NAME, "
       "path, query:NAME)"},
      {"hash key without a name", head + "    balance: consistent_hash\n    hash_key: \"header:\"\n    backends: []\n",
       "<string>:4:15: pools[0].hash_key: expected a name after header:, got \"header:\""},
      {"bounded_load without consistent_hash", head + "    bounded_load: 1.25\n    backends: []\n",
       "<string>:3:19: pools[0].bounded_load: needs balance: consistent_hash"},
      {"bounded_load of 1", head + "    balance: consistent_hash\n    bounded_load: 1\n    backends: []\n",
       "<string>:4:19: pools[0].bounded_load: must be greater than 1 and at most 100"},
      {"bounded_load not a number", head + "    balance: consistent_hash\n    bounded_load: 1e3\n    backends: []\n",
       "<string>:4:19: pools[0].bounded_load: expected a number like 1.25, got \"1e3\""},
      {"sticky unknown key", head + "    sticky: { cookie: s, tll: 1h }\n    backends: []\n",
       "<string>:3:26: pools[0].sticky.tll: unknown key (did you mean \"ttl\"?)"},
      {"sticky bad cookie name", head + "    sticky: { cookie: \"a b\" }\n    backends: []\n",
       "<string>:3:23: pools[0].sticky.cookie: invalid cookie name \"a b\" (1 to 64 of A-Z a-z 0-9 _ - .)"},
      {"sticky ttl zero", head + "    sticky: { ttl: 0s }\n    backends: []\n",
       "<string>:3:20: pools[0].sticky.ttl: must be greater than 0"},
      {"slow_start not a duration", head + "    slow_start: fast\n    backends: []\n",
       "<string>:3:17: pools[0].slow_start: expected a duration like 250ms, 2s, 1m or 1h, got \"fast\""},
      {"slow_start without window", head + "    slow_start: { aggression: 2 }\n    backends: []\n",
       "<string>:3:17: pools[0].slow_start.window: missing required key"},
      {"slow_start aggression 0", head + "    slow_start: { window: 1s, aggression: 0 }\n    backends: []\n",
       "<string>:3:43: pools[0].slow_start.aggression: must be greater than 0 and at most 10"},
      {"zone_aware not a boolean", head + "    zone_aware: yes\n    backends: []\n",
       "<string>:3:17: pools[0].zone_aware: expected true or false, got \"yes\""},
      {"zone_min_healthy without zone_aware", head + "    zone_min_healthy: 50%\n    backends: []\n",
       "<string>:3:23: pools[0].zone_min_healthy: needs zone_aware: true"},
      {"zone_min_healthy over 100", head + "    zone_aware: true\n    zone_min_healthy: 101%\n    backends: []\n",
       "<string>:4:23: pools[0].zone_min_healthy: must be between 0% and 100%"},
      {"queue size 0", head + "    queue: { size: 0 }\n    backends: []\n",
       "<string>:3:20: pools[0].queue.size: must be between 1 and 1000000"},
      {"queue timeout", head + "    queue: { timeout: never }\n    backends: []\n",
       "<string>:3:23: pools[0].queue.timeout: expected a duration like 250ms, 2s, 1m or 1h, got \"never\""},
      {"backend zone", head + "    backends: [{ address: 127.0.0.1:1, zone: \"eu 1\" }]\n",
       "<string>:3:46: pools[0].backends[0].zone: invalid zone \"eu 1\" (1 to 64 of A-Z a-z 0-9 _ . -)"},
      {"backend max_connections", head + "    backends: [{ address: 127.0.0.1:1, max_connections: -1 }]\n",
       "<string>:3:57: pools[0].backends[0].max_connections: must be between 0 and 1000000"},
      {"top-level zone", "zone: [a]\n" + head + "    backends: []\n",
       "<string>:1:7: zone: expected a zone name, got a list"},
  };
  for (const Row& row : rows) {
    INFO(row.name << "\n" << row.yaml);
    CHECK(errorsOf(row.yaml) == std::vector<std::string>{row.expected});
  }
}

namespace {

std::vector<ballast::Header> headers(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<ballast::Header> out;
  for (const auto& [n, v] : list) out.push_back(ballast::Header{n, v});
  return out;
}

}  // namespace

TEST_CASE("hash keys and sticky cookies are read from the request", "[balancing][hash_key]") {
  const auto h = headers({{"Host", "x"}, {"Cookie", "a=1; ballast_sticky=\"0123abcd\"; b=2"}, {"cookie", "c=3"},
                          {"X-User", "alice"}});
  std::string_view v;
  REQUIRE(ballast::cookieValue(h, "ballast_sticky", &v));
  CHECK(v == "0123abcd");
  REQUIRE(ballast::cookieValue(h, "c", &v));
  CHECK(v == "3");
  CHECK_FALSE(ballast::cookieValue(h, "ballast", &v));
  REQUIRE(ballast::queryValue("/p?x=1&user=bob&y", "user", &v));
  CHECK(v == "bob");
  REQUIRE(ballast::queryValue("/p?x=1&user=bob&y", "y", &v));
  CHECK(v.empty());
  CHECK_FALSE(ballast::queryValue("/p?username=bob", "user", &v));
  CHECK(ballast::targetPath("/a/b?c=d") == "/a/b");

  uint64_t h1 = 0, h2 = 0, h3 = 0;
  config::HashKey header{config::HashKey::Kind::Header, "x-user"};
  REQUIRE(ballast::requestHash(header, h, "/", "10.0.0.1", &h1));
  REQUIRE(ballast::requestHash(header, headers({{"x-user", "alice"}}), "/other", "10.0.0.2", &h2));
  CHECK(h1 == h2);  // the key alone decides
  CHECK_FALSE(ballast::requestHash(header, headers({{"Host", "x"}}), "/", "10.0.0.1", &h3));
  config::HashKey path{config::HashKey::Kind::Path, ""};
  REQUIRE(ballast::requestHash(path, h, "/a?x=1", "", &h1));
  REQUIRE(ballast::requestHash(path, h, "/a?x=2", "", &h2));
  CHECK(h1 == h2);
  config::HashKey ip{config::HashKey::Kind::ClientIp, ""};
  REQUIRE(ballast::requestHash(ip, h, "/", "10.0.0.1", &h1));
  REQUIRE(ballast::requestHash(ip, h, "/", "10.0.0.2", &h2));
  CHECK(h1 != h2);

  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  config::StickyConfig sticky;
  sticky.ttl = config::Duration(90000);
  ballast::addStickyCookie(head, sticky, "00ff00ff00ff00ff");
  CHECK(head ==
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nSet-Cookie: ballast_sticky=00ff00ff00ff00ff; Max-Age=90; Path=/; "
        "HttpOnly\r\n\r\n");
}
