// Route config: every routing key parsed into its struct, and every
// mistake an operator can make with them reported with file, line, column
// and key path (all of them in one run).

#include <catch2/catch.hpp>
#include <re2/re2.h>
#include <string>
#include <vector>

#include "config/config_loader.h"

namespace config = ballast::config;

namespace {

std::vector<std::string> errorsOf(const std::string& yaml, const std::string& file = "<string>") {
  std::vector<std::string> out;
  for (const config::ConfigError& e : config::loadConfigString(yaml, file).errors) out.push_back(e.format());
  return out;
}

}  // namespace

TEST_CASE("route config: every routing key is parsed", "[config][routing]") {
  const config::LoadResult r = config::loadConfigString(R"(
timeouts: { connect: 2s, backend_response: 30s }
pools:
  - { name: v1, backends: [{ address: 127.0.0.1:9001 }], retries: { attempts: 2, budget_percent: 30 } }
  - { name: v2, backends: [{ address: 127.0.0.1:9002 }] }
routes:
  - name: api
    match:
      host: "*.Example.com"
      path_prefix: /api
      path_regex: "/api/v[0-9]+/.*"
      methods: [GET, HEAD]
      headers: { X-Canary: "1", x-debug: { present: false }, user-agent: { regex: ".*Mobile.*" } }
      query: { debug: { equals: "1" } }
      client: [10.0.0.0/8, "2001:db8::/32"]
    split: [{ pool: v1, weight: 95 }, { pool: v2, weight: 5 }]
    split_key: cookie:uid
    rewrite: { path_prefix: /v2, host: backend.internal }
    headers:
      request: { set: { X-Env: prod }, add: { X-Tag: a }, remove: [X-Internal] }
      response: { remove: [server] }
    timeouts: { connect: 500ms, backend_response: 5s }
    retries: { attempts: 0, on: [connect_failure, 503] }
    allow: [10.0.0.0/8]
    deny: [10.6.6.6]
    rate_limit: { requests_per_second: 0.5, burst: 20, key: "header:X-User", max_keys: 1000 }
  - { match: { path: /status.txt }, return: { status: 503, body: "maintenance" } }
  - { match: { path_prefix: /old }, return: { status: 301, location: "https://{host}{path}" } }
  - { pool: v1, rate_limit: { requests_per_second: 7.5 } }
)");
  std::string errors;
  for (const config::ConfigError& e : r.errors) errors += e.format() + "\n";
  INFO(errors);
  REQUIRE(r.ok());
  const config::Config& cfg = *r.config;
  REQUIRE(cfg.routes.size() == 4);
  const config::RouteConfig& a = cfg.routes[0];
  CHECK(a.name == "api");
  CHECK(a.host == "*.example.com");
  CHECK(a.path_prefix == "/api");
  CHECK(a.path_regex == "/api/v[0-9]+/.*");
  REQUIRE(a.path_regex_compiled != nullptr);
  CHECK(RE2::FullMatch("/api/v2/x", *a.path_regex_compiled));
  CHECK(a.methods == std::vector<std::string>{"GET", "HEAD"});
  REQUIRE(a.headers.size() == 3);
  CHECK(a.headers[0].name == "x-canary");
  CHECK(a.headers[0].kind == config::ValueMatch::Kind::Equals);
  CHECK(a.headers[0].value == "1");
  CHECK(a.headers[1].kind == config::ValueMatch::Kind::Absent);
  CHECK(a.headers[2].kind == config::ValueMatch::Kind::Regex);
  REQUIRE(a.query.size() == 1);
  CHECK(a.query[0].name == "debug");
  CHECK(a.query[0].kind == config::ValueMatch::Kind::Equals);
  REQUIRE(a.client.size() == 2);
  CHECK(a.client[0].prefix_len == 8);
  CHECK(a.client[1].family == AF_INET6);
  CHECK(a.pool.empty());
  REQUIRE(a.split.size() == 2);
  CHECK(a.split[0].pool == "v1");
  CHECK(a.split[0].pool_index == 0);
  CHECK(a.split[1].weight == 5);
  CHECK(a.split[1].pool_index == 1);
  REQUIRE(a.split_key.has_value());
  CHECK(a.split_key->source == config::RequestKey::Source::Cookie);
  CHECK(a.split_key->name == "uid");
  CHECK(a.rewrite_path_prefix == "/v2");
  CHECK(a.rewrite_host == "backend.internal");
  CHECK(a.request_headers.set == std::vector<std::pair<std::string, std::string>>{{"X-Env", "prod"}});
  CHECK(a.request_headers.add == std::vector<std::pair<std::string, std::string>>{{"X-Tag", "a"}});
  CHECK(a.request_headers.remove == std::vector<std::string>{"x-internal"});
  CHECK(a.response_headers.remove == std::vector<std::string>{"server"});
  CHECK(a.connect_timeout == std::chrono::milliseconds(500));
  CHECK(a.backend_response_timeout == std::chrono::milliseconds(5000));
  CHECK(a.retry_attempts == 0u);
  REQUIRE(a.retry_on.has_value());
  CHECK(a.retry_on->size() == 2);
  CHECK_FALSE(a.retry_replay_buffer.has_value());
  CHECK(a.allow.size() == 1);
  CHECK(a.deny.size() == 1);
  CHECK(a.deny[0].prefix_len == 32);
  REQUIRE(a.rate_limit.has_value());
  CHECK(a.rate_limit->requests_per_second == 0.5);
  CHECK(a.rate_limit->burst == 20);
  CHECK(a.rate_limit->key.source == config::RequestKey::Source::Header);
  CHECK(a.rate_limit->key.name == "x-user");
  CHECK(a.rate_limit->max_keys == 1000);

  CHECK(cfg.routes[1].name == "routes[1]");
  REQUIRE(cfg.routes[1].ret.has_value());
  CHECK(cfg.routes[1].ret->status == 503);
  CHECK(cfg.routes[1].ret->body == std::optional<std::string>("maintenance"));
  CHECK(cfg.routes[2].ret->location == "https://{host}{path}");
  CHECK_FALSE(cfg.routes[2].ret->body.has_value());
  // Defaults: burst = the rate rounded up, key = client address.
  REQUIRE(cfg.routes[3].rate_limit.has_value());
  CHECK(cfg.routes[3].rate_limit->burst == 8);
  CHECK(cfg.routes[3].rate_limit->key.source == config::RequestKey::Source::ClientIp);
  CHECK(cfg.routes[3].rate_limit->max_keys == 65536);
}

TEST_CASE("route config: every mistake is reported with file, line, column and key path", "[config][routing]") {
  const std::string yaml =
      "pools:\n"
      "  - { name: web, backends: [] }\n"
      "  - { name: v2, backends: [] }\n"
      "routes:\n"
      "  - { match: { path_regex: \"/a(b\" }, pool: web }\n"
      "  - { match: { client: [10.0.0.1/8, 300.1.1.1, \"::1/129\"] }, pool: web }\n"
      "  - { match: { headers: { \"bad name\": \"1\", x-a: { regex: \"[\" }, x-b: { present: maybe }, x-c: [1] } }, pool: web }\n"
      "  - { match: { methods: [get, GET, GET] }, pool: web }\n"
      "  - { mach: {}, pool: web }\n"
      "  - { split: [{ pool: web, weight: 0 }, { pool: v2, weight: 0 }] }\n"
      "  - { split: [{ pool: web, weight: 1 }, { pool: web, weight: 2 }, { pool: nope, weight: 1 }] }\n"
      "  - { pool: web, split_key: client_ip }\n"
      "  - { pool: web, return: { status: 200 } }\n"
      "  - { return: { status: 301 } }\n"
      "  - { return: { status: 204 } }\n"
      "  - { return: { status: 302, location: \"https://{hots}/\" } }\n"
      "  - { return: { status: 200, location: \"/x\" } }\n"
      "  - { return: { status: 503 }, timeouts: { connect: 1s }, headers: { request: { set: { a: b } } } }\n"
      "  - { pool: web, rewrite: { path_prefix: /x } }\n"
      "  - { pool: web, headers: { request: { set: { Content-Length: \"1\", x-a: \"a\\u000db\" }, remove: [Host, x-a] } } }\n"
      "  - { pool: web, rate_limit: { requests_per_second: 0, key: \"ip\" } }\n"
      "  - { pool: web, rate_limit: { burst: 0, key: \"header:\" } }\n"
      "  - { pool: web, retries: { budget_percent: 5, attempts: 20 } }\n"
      "  - { name: a, pool: web }\n"
      "  - { name: a, pool: web }\n"
      "  - { name: \"a b\", pool: web }\n"
      "  - { match: { path: /a, path_prefix: /a }, pool: web }\n"
      "  - { match: { path: \"/a?b\" }, pool: web }\n"
      "  - { pool: web, timeouts: { connect: 0s, client_idle: 1s } }\n"
      "  - { pool: web, allow: [] }\n";
  const std::vector<std::string> expected = {
      "routes.yaml:5:28: routes[0].match.path_regex: invalid regular expression \"/a(b\": missing ): /a(b",
      "routes.yaml:6:25: routes[1].match.client[0]: host bits are set past the /8 prefix (did you mean 10.0.0.0/8?)",
      "routes.yaml:6:37: routes[1].match.client[1]: expected an address or CIDR block like 10.0.0.0/8 or 2001:db8::/32, got \"300.1.1.1\"",
      "routes.yaml:6:48: routes[1].match.client[2]: prefix length must be between 0 and 128",
      "routes.yaml:7:27: routes[2].match.headers.bad name: invalid header name \"bad name\"",
      "routes.yaml:7:58: routes[2].match.headers.x-a.regex: invalid regular expression \"[\": missing ]: [",
      "routes.yaml:7:81: routes[2].match.headers.x-b.present: expected true or false, got \"maybe\"",
      "routes.yaml:7:95: routes[2].match.headers.x-c: expected a value or one of { present: true }, { equals: V }, { regex: R }, got a list",
      "routes.yaml:8:26: routes[3].match.methods[0]: expected an upper-case HTTP method like GET, got \"get\"",
      "routes.yaml:8:36: routes[3].match.methods[2]: duplicate method \"GET\"",
      "routes.yaml:9:7: routes[4].mach: unknown key (did you mean \"match\"?)",
      "routes.yaml:10:14: routes[5].split: the weights add up to 0: at least one must be above 0",
      "routes.yaml:11:49: routes[6].split[1].pool: pool \"web\" is already in this split (routes[6].split[0])",
      "routes.yaml:11:75: routes[6].split[2].pool: unknown pool \"nope\"",
      "routes.yaml:12:29: routes[7].split_key: only allowed with split",
      "routes.yaml:13:26: routes[8].return: a route takes one of pool, split or return, not several",
      "routes.yaml:14:25: routes[9].return.status: a redirect needs location",
      "routes.yaml:15:25: routes[10].return.status: status 204 has no body; use another status",
      "routes.yaml:16:40: routes[11].return.location: unknown variable \"{hots}\" (allowed: {host}, {path})",
      "routes.yaml:17:40: routes[12].return.location: only allowed with a 3xx or 201 status",
      "routes.yaml:18:42: routes[13].timeouts: has no effect with return (nothing is sent to a backend)",
      "routes.yaml:18:79: routes[13].headers.request: has no effect with return (nothing is sent to a backend)",
      "routes.yaml:19:42: routes[14].rewrite.path_prefix: needs match.path_prefix or match.path (the part of the path it replaces)",
      "routes.yaml:20:47: routes[15].headers.request.set.Content-Length: header \"Content-Length\" cannot be edited (ballast writes it)",
      "routes.yaml:20:73: routes[15].headers.request.set.x-a: must not contain control characters (CR, LF, ...)",
      "routes.yaml:20:96: routes[15].headers.request.remove[0]: header \"Host\" cannot be edited (ballast writes it; use rewrite.host)",
      "routes.yaml:20:102: routes[15].headers.request.remove[1]: header \"x-a\" is already edited at routes[15].headers.request.set.x-a",
      "routes.yaml:21:53: routes[16].rate_limit.requests_per_second: must be between 0.001 and 1000000",
      "routes.yaml:21:61: routes[16].rate_limit.key: expected client_ip, header:NAME, cookie:NAME or query:NAME, got \"ip\"",
      "routes.yaml:22:30: routes[17].rate_limit.requests_per_second: missing required key",
      "routes.yaml:22:39: routes[17].rate_limit.burst: must be between 1 and 1000000000",
      "routes.yaml:22:47: routes[17].rate_limit.key: expected a name after \"header:\", e.g. header:X-User",
      "routes.yaml:23:45: routes[18].retries.budget_percent: the retry budget is per pool: set it in the pool's retries",
      "routes.yaml:23:58: routes[18].retries.attempts: must be between 0 and 10",
      "routes.yaml:25:13: routes[20].name: duplicate route name \"a\" (also at routes[19])",
      "routes.yaml:26:13: routes[21].name: invalid route name \"a b\" (allowed characters: A-Z a-z 0-9 _ . -)",
      "routes.yaml:27:22: routes[22].match.path: set path or path_prefix, not both",
      "routes.yaml:28:22: routes[23].match.path: must not contain \"?\" (match query parameters with query)",
      "routes.yaml:29:39: routes[24].timeouts.connect: must be greater than 0",
      "routes.yaml:29:43: routes[24].timeouts.client_idle: unknown key",
      "routes.yaml:30:25: routes[25].allow: at least one address or CIDR block is required",
  };
  CHECK(errorsOf(yaml, "routes.yaml") == expected);
}

TEST_CASE("route config: a split weight defaults to 1", "[config][routing]") {
  const config::LoadResult r = config::loadConfigString(
      "pools: [{ name: v1, backends: [] }, { name: v2, backends: [] }]\n"
      "routes: [{ split: [{ pool: v1 }, { pool: v2, weight: 3 }] }]\n");
  REQUIRE(r.ok());
  REQUIRE(r.config->routes[0].split.size() == 2);
  CHECK(r.config->routes[0].split[0].weight == 1);
  CHECK(r.config->routes[0].split[1].weight == 3);
  CHECK(errorsOf("pools: [{ name: v1, backends: [] }]\nroutes: [{ split: [{ pool: v1, weight: 0 }] }]\n") ==
        std::vector<std::string>{"<string>:2:19: routes[0].split: the weights add up to 0: at least one must be above 0"});
}
