// mergeMetrics and mergeStatus (lb/admin/worker_merge.h): the supervisor's
// one answer from N workers' /metrics and /status. Hand-written bodies for
// each rule, and a round trip through the real renderer checked by
// `promtool check metrics` (skipped with a message without promtool).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/admin/metrics_render.h"
#include "lb/admin/worker_merge.h"
#include "lb/base/json_read.h"
#include "lb/proxy/runtime.h"
#include "lb/stats/stats.h"
#include "lb/upstream/backend.h"
#include "lb/upstream/pool.h"

using namespace ballast;

namespace {

bool hasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::vector<WorkerDoc> docs(std::initializer_list<std::string> bodies) {
  std::vector<WorkerDoc> out;
  int i = 0;
  for (const std::string& b : bodies) {
    out.push_back(WorkerDoc{i, 1000 + i, b});
    ++i;
  }
  return out;
}

// Structural checks of an exposition: every line is a comment or a sample,
// one TYPE per family before its samples, no series twice.
void checkExposition(const std::string& text) {
  REQUIRE((text.empty() || text.back() == '\n'));
  std::set<std::string> typed;
  std::set<std::string> series;
  std::string current;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    INFO(line);
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      CHECK(typed.insert(name).second);
      current = name;
      continue;
    }
    if (line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    const std::string key = line.substr(0, sp);
    CHECK(series.insert(key).second);
    const std::string name = key.substr(0, key.find('{'));
    CHECK(name.rfind(current, 0) == 0);  // after its family's TYPE
  }
}

bool havePromtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

// promtool check metrics over `text`; its output in `out`.
bool promtoolAccepts(const std::string& text, std::string& out) {
  char path[] = "/tmp/ballast-merge-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  const std::string report = std::string(path) + ".out";
  const int rc = std::system(("promtool check metrics <" + std::string(path) + " >" + report + " 2>&1").c_str());
  std::ifstream r(report);
  out.assign(std::istreambuf_iterator<char>(r), {});
  std::remove(path);
  std::remove(report.c_str());
  return rc == 0;
}

const char* kCounters0 = R"(# HELP c_total Things done.
# TYPE c_total counter
c_total{kind="quote\"d",path="back\\slash",msg="two\nlines"} 3
c_total{kind="plain",path="",msg=""} 1
c_total 5
)";
const char* kCounters1 = R"(# HELP c_total Things done.
# TYPE c_total counter
c_total{kind="quote\"d",path="back\\slash",msg="two\nlines"} 4
c_total{kind="only-one",path="",msg=""} 7
c_total 9007199254740993
)";

}  // namespace

TEST_CASE("mergeMetrics: counters summed per label set, escapes kept, HELP/TYPE once", "[worker-merge]") {
  std::vector<std::string> problems;
  const std::string m = mergeMetrics(docs({kCounters0, kCounters1}), &problems);
  INFO(m);
  CHECK(problems.empty());
  CHECK(count(m, "# HELP c_total") == 1);
  CHECK(count(m, "# TYPE c_total") == 1);
  CHECK(hasLine(m, R"(c_total{kind="quote\"d",path="back\\slash",msg="two\nlines"} 7)"));
  CHECK(hasLine(m, R"(c_total{kind="plain",path="",msg=""} 1)"));
  CHECK(hasLine(m, R"(c_total{kind="only-one",path="",msg=""} 7)"));
  // Integers are summed exactly, beyond a double's 2^53.
  CHECK(hasLine(m, "c_total 9007199254740998"));
  CHECK(m.find("worker=") == std::string::npos);
  checkExposition(m);
  // Series in order of first appearance (worker 0's, then new ones).
  CHECK(m.find("kind=\"plain\"") < m.find("kind=\"only-one\""));
}

TEST_CASE("mergeMetrics: histograms summed bucket by bucket", "[worker-merge]") {
  const std::string h0 = R"(# HELP d_seconds Latency.
# TYPE d_seconds histogram
d_seconds_count{pool="a"} 3
d_seconds_sum{pool="a"} 0.1
d_seconds_bucket{pool="a",le="0.005"} 1
d_seconds_bucket{pool="a",le="0.1"} 2
d_seconds_bucket{pool="a",le="+Inf"} 3
)";
  const std::string h1 = R"(# HELP d_seconds Latency.
# TYPE d_seconds histogram
d_seconds_count{pool="a"} 5
d_seconds_sum{pool="a"} 0.2
d_seconds_bucket{pool="a",le="0.005"} 0
d_seconds_bucket{pool="a",le="0.1"} 4
d_seconds_bucket{pool="a",le="+Inf"} 5
)";
  std::vector<std::string> problems;
  const std::string m = mergeMetrics(docs({h0, h1}), &problems);
  INFO(m);
  CHECK(problems.empty());
  CHECK(hasLine(m, R"(d_seconds_count{pool="a"} 8)"));
  CHECK(hasLine(m, R"(d_seconds_sum{pool="a"} 0.3)"));  // 0.30000000000000004 printed as the renderer does
  CHECK(hasLine(m, R"(d_seconds_bucket{pool="a",le="0.005"} 1)"));
  CHECK(hasLine(m, R"(d_seconds_bucket{pool="a",le="0.1"} 6)"));
  CHECK(hasLine(m, R"(d_seconds_bucket{pool="a",le="+Inf"} 8)"));
  checkExposition(m);

  SECTION("buckets that differ between workers are kept per worker, never summed") {
    std::string other = h1;
    other.replace(other.find("le=\"0.1\""), 8, "le=\"0.2\"");
    problems.clear();
    const std::string k = mergeMetrics(docs({h0, other}), &problems);
    INFO(k);
    CHECK(hasLine(k, R"(d_seconds_bucket{pool="a",le="0.1",worker="0"} 2)"));
    CHECK(hasLine(k, R"(d_seconds_bucket{pool="a",le="0.2",worker="1"} 4)"));
    CHECK(hasLine(k, R"(d_seconds_count{pool="a",worker="1"} 5)"));
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("d_seconds") != std::string::npos);
    checkExposition(k);
  }
}

TEST_CASE("mergeMetrics: each gauge rule, and a gauge not in the table gets a worker label", "[worker-merge]") {
  const auto body = [](int conns, int up, double start, double failure, int mystery) {
    return "# HELP ballast_client_connections Client connections by state.\n"
           "# TYPE ballast_client_connections gauge\n"
           "ballast_client_connections{state=\"active\"} " + std::to_string(conns) + "\n"
           "# HELP ballast_backend_up Up.\n"
           "# TYPE ballast_backend_up gauge\n"
           "ballast_backend_up{pool=\"p\",backend=\"b:1\"} " + std::to_string(up) + "\n"
           "# HELP process_start_time_seconds Start.\n"
           "# TYPE process_start_time_seconds gauge\n"
           "process_start_time_seconds " + std::to_string(static_cast<long long>(start)) + "\n"
           "# HELP ballast_config_last_reload_failure_timestamp_seconds Failure.\n"
           "# TYPE ballast_config_last_reload_failure_timestamp_seconds gauge\n"
           "ballast_config_last_reload_failure_timestamp_seconds " + std::to_string(static_cast<long long>(failure)) + "\n"
           "# HELP mystery_gauge Not in the table.\n"
           "# TYPE mystery_gauge gauge\n"
           "mystery_gauge{pool=\"p\"} " + std::to_string(mystery) + "\n";
  };
  std::vector<std::string> problems;
  const std::string m = mergeMetrics(
      docs({body(2, 1, 1700000100, 0, 5), body(3, 0, 1700000000, 1700000500, 6), body(4, 0, 1700000200, 0, 7)}),
      &problems);
  INFO(m);
  CHECK(problems.empty());
  CHECK(hasLine(m, R"(ballast_client_connections{state="active"} 9)"));      // sum
  CHECK(hasLine(m, R"(ballast_backend_up{pool="p",backend="b:1"} 1)"));      // first (worker 0)
  CHECK(hasLine(m, "process_start_time_seconds 1700000000"));                // min
  CHECK(hasLine(m, "ballast_config_last_reload_failure_timestamp_seconds 1700000500"));  // max
  CHECK(hasLine(m, R"(mystery_gauge{pool="p",worker="0"} 5)"));
  CHECK(hasLine(m, R"(mystery_gauge{pool="p",worker="1"} 6)"));
  CHECK(hasLine(m, R"(mystery_gauge{pool="p",worker="2"} 7)"));
  CHECK(count(m, "mystery_gauge{") == 3);
  CHECK(count(m, "# TYPE") == 5);
  CHECK(count(m, "# HELP") == 5);
  checkExposition(m);
}

TEST_CASE("mergeMetrics: families missing in some workers", "[worker-merge]") {
  const std::string w0 = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n";
  const std::string w1 = "# HELP b_total B.\n# TYPE b_total counter\nb_total 2\n";
  const std::string w2 = "# HELP a_total A.\n# TYPE a_total counter\na_total 4\n# HELP b_total B.\n"
                         "# TYPE b_total counter\nb_total 3\n# HELP ballast_backend_up U.\n# TYPE ballast_backend_up gauge\n"
                         "ballast_backend_up 1\n";
  std::vector<std::string> problems;
  const std::string m = mergeMetrics(docs({w0, w1, w2}), &problems);
  CHECK(problems.empty());
  CHECK(m == "# HELP a_total A.\n# TYPE a_total counter\na_total 5\n"
             "# HELP b_total B.\n# TYPE b_total counter\nb_total 5\n"
             "# HELP ballast_backend_up U.\n# TYPE ballast_backend_up gauge\nballast_backend_up 1\n");
}

TEST_CASE("mergeMetrics: a truncated body and lines that do not parse", "[worker-merge]") {
  const std::string full = std::string(kCounters0) +
                           "# HELP process_start_time_seconds Start.\n# TYPE process_start_time_seconds gauge\n"
                           "process_start_time_seconds 1700000000\n";
  SECTION("cut in the middle of a value: the partial line is never used") {
    const std::string cut = full.substr(0, full.size() - 5);  // "process_start_time_seconds 17000"
    std::vector<std::string> problems;
    const std::string m = mergeMetrics(docs({full, cut}), &problems);
    INFO(m);
    CHECK(hasLine(m, "process_start_time_seconds{worker=\"0\"} 1700000000"));
    CHECK(m.find("17000\n") == std::string::npos);
    CHECK(hasLine(m, "c_total 10"));  // the families before the cut are merged
    REQUIRE_FALSE(problems.empty());
    CHECK(problems[0].find("worker 1: body cut short") == 0);
    checkExposition(m);
  }
  SECTION("every prefix of a body merges without a crash, into a valid exposition") {
    for (size_t n = 0; n <= full.size(); ++n) {
      std::vector<std::string> problems;
      const std::string m = mergeMetrics(docs({full, full.substr(0, n)}), &problems);
      INFO(n);
      checkExposition(m);
      if (n == full.size()) CHECK(problems.empty());
    }
  }
  SECTION("a malformed sample line is dropped, counted, and its family kept per worker") {
    std::string bad = kCounters1;
    bad.erase(bad.find("only-one\"") + 8, 1);  // kind="only-one,path="" ...: a broken label set
    bad += "garbage line here\n# TYPE x_total counter\nx_total{le=} 1\nx_total abc\nx_total 2 notatimestamp\n";
    std::vector<std::string> problems;
    const std::string m = mergeMetrics(docs({kCounters0, bad}), &problems);
    INFO(m);
    size_t dropped = 0;
    for (const auto& p : problems) dropped += p.find("does not parse") != std::string::npos ? 1 : 0;
    CHECK(dropped == 5);
    CHECK(m.find("only-one") == std::string::npos);
    CHECK(hasLine(m, R"(c_total{kind="plain",path="",msg="",worker="0"} 1)"));
    checkExposition(m);
  }
  SECTION("an empty body and a body of noise") {
    std::vector<std::string> problems;
    const std::string m = mergeMetrics(docs({"", std::string("\0\xff{}\n\n#\n# TYPE\n", 15), kCounters0}), &problems);
    CHECK(hasLine(m, "c_total 5"));
    CHECK(problems.size() >= 2);
    checkExposition(m);
  }
}

TEST_CASE("mergeMetrics: samples without TYPE, untyped, summaries and timestamps", "[worker-merge]") {
  const std::string w0 = "loose 1\n# TYPE u untyped\nu 2\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 3\ns_count 2\n"
                         "# TYPE t_total counter\nt_total 1 1700000000000\n";
  const std::string w1 = "loose 2\n# TYPE u untyped\nu 3\n# TYPE s summary\ns{quantile=\"0.5\"} 4\ns_sum 5\ns_count 3\n"
                         "# TYPE t_total counter\nt_total 2\n";
  std::vector<std::string> problems;
  const std::string m = mergeMetrics(docs({w0, w1}), &problems);
  INFO(m);
  CHECK(hasLine(m, "loose{worker=\"0\"} 1"));
  CHECK(hasLine(m, "u{worker=\"1\"} 3"));
  CHECK(hasLine(m, "s{quantile=\"0.5\",worker=\"1\"} 4"));  // quantiles do not add
  CHECK(hasLine(m, "t_total 3"));                          // timestamps dropped
  checkExposition(m);
}

namespace {

const char* kRoundTripConfig = R"(listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
zone: z1
pools:
  - name: web
    health_check: { interval: 1s, timeout: 500ms }
    outlier_detection: {}
    zone_aware: true
    queue: { size: 10, timeout: 1s }
    backends:
      - { address: 127.0.0.1:9001, zone: z1 }
      - { address: 127.0.0.1:9002, zone: z2, backup: true }
routes:
  - { name: limited, rate_limit: { requests_per_second: 10, burst: 10 }, deny: [192.0.2.0/24], pool: web }
)";

}  // namespace

TEST_CASE("mergeMetrics: two real renders merge into a valid exposition (promtool)", "[worker-merge]") {
  auto r = config::loadConfigString(kRoundTripConfig);
  REQUIRE(r.ok());
  auto rt0 = Runtime::build(*r.config, 0);
  auto rt1 = Runtime::build(*r.config, 0);
  Backend& b0 = *rt0->pools[0]->backends()[0];
  Backend& b1 = *rt1->pools[0]->backends()[0];
  b0.stats().responses[200] += 2;
  b1.stats().responses[200] += 3;
  b1.stats().responses[503] += 1;
  b0.stats().response_duration.observe(0.003);
  b1.stats().response_duration.observe(0.003);
  b1.stats().response_duration.observe(2.0);
  rt0->pools[0]->stats().request_duration.observe(0.2);
  rt1->pools[0]->stats().tunnels_active = 2;
  rt0->pools[0]->stats().tunnels_active = 1;

  const std::string t0 = renderMetrics(*rt0, 1700000100.0);
  const std::string t1 = renderMetrics(*rt1, 1700000000.0);
  std::vector<std::string> problems;
  const std::string m = mergeMetrics({WorkerDoc{0, 100, t0}, WorkerDoc{1, 101, t1}}, &problems);
  if (std::getenv("DUMP_METRICS")) std::fputs(m.c_str(), stdout);
  INFO(m);
  for (const auto& p : problems) UNSCOPED_INFO(p);
  CHECK(problems.empty());
  // Every gauge the renderer wrote is in the table: no worker label anywhere.
  CHECK(m.find("worker=\"") == std::string::npos);
  CHECK(hasLine(m, R"(ballast_requests_total{pool="web",backend="127.0.0.1:9001",code="200"} 5)"));
  CHECK(hasLine(m, R"(ballast_requests_total{pool="web",backend="127.0.0.1:9001",code="503"} 1)"));
  CHECK(hasLine(m, R"(ballast_backend_response_duration_seconds_count{pool="web",backend="127.0.0.1:9001"} 3)"));
  CHECK(hasLine(m, R"(ballast_backend_response_duration_seconds_bucket{pool="web",backend="127.0.0.1:9001",le="+Inf"} 3)"));
  CHECK(hasLine(m, R"(ballast_tunnels_active{pool="web"} 3)"));
  CHECK(hasLine(m, "process_start_time_seconds 1700000000"));
  CHECK(hasLine(m, R"(ballast_backend_up{pool="web",backend="127.0.0.1:9001"} 0)"));
  CHECK(count(m, "# TYPE ballast_requests_total ") == 1);
  // The same families in the same order as one worker's render.
  std::vector<std::string> types0;
  std::vector<std::string> typesm;
  const std::regex type_line("# TYPE ([a-z_:]+) ");
  for (auto [text, out] : {std::pair{&t0, &types0}, std::pair{&m, &typesm}}) {
    for (std::sregex_iterator it(text->begin(), text->end(), type_line), end; it != end; ++it) {
      out->push_back((*it)[1]);
    }
  }
  CHECK(types0 == typesm);
  checkExposition(m);

  // A single worker's render comes out unchanged.
  CHECK(mergeMetrics({WorkerDoc{0, 100, t0}}) == t0);

  if (!havePromtool()) {
    WARN("promtool not found (Debian package 'prometheus'): the merged exposition was not checked by promtool");
    return;
  }
  std::string report;
  CHECK(promtoolAccepts(t0, report));  // the renderer's own output, as a baseline
  INFO(report);
  CHECK(promtoolAccepts(m, report));
  // And with a worker-labelled family and a worker cut short.
  const std::string cut = t1.substr(0, t1.find("ballast_requests_total{") + 10);  // mid-line
  const std::string k = mergeMetrics({WorkerDoc{0, 100, t0}, WorkerDoc{1, 101, cut}, WorkerDoc{2, 102, t1}});
  CHECK(k.find("worker=\"") != std::string::npos);
  checkExposition(k);
  CHECK(promtoolAccepts(k, report));
}

TEST_CASE("mergeMetrics: every gauge family the admin layer renders is in the rule table", "[worker-merge]") {
  // Names of families built with MetricType::Gauge in lb/admin (the statement
  // from the name to its ';'), so a new gauge cannot silently fall back to
  // per-worker labels.
  std::vector<std::string> gauges;
  for (const char* file : {"metrics_render.cc", "route_metrics.cc", "journal_metrics.cc"}) {
    std::ifstream in(std::string(BALLAST_SOURCE_DIR) + "/lb/admin/" + file);
    REQUIRE(in);
    const std::string src((std::istreambuf_iterator<char>(in)), {});
    const std::regex name_re("\"((ballast|process)_[a-z_]+)\"");
    for (std::sregex_iterator it(src.begin(), src.end(), name_re), end; it != end; ++it) {
      const size_t at = static_cast<size_t>(it->position(0));
      const std::string stmt = src.substr(at, src.find(';', at) - at);
      const std::string before = src.substr(at >= 40 ? at - 40 : 0, std::min<size_t>(at, 40));
      if (stmt.find("MetricType::Gauge") != std::string::npos || before.find("BuildGauge") != std::string::npos) {
        gauges.push_back((*it)[1]);
      }
    }
  }
  CHECK(gauges.size() >= 25);
  for (const std::string& g : gauges) {
    INFO(g);
    const std::string body = "# TYPE " + g + " gauge\n" + g + " 1\n";
    const std::string m = mergeMetrics(docs({body, body}));
    CHECK(m.find("worker=") == std::string::npos);
  }
}

namespace {

std::string statusDoc(int pid, bool ready, int active, int idle, int req1m, const std::string& p99) {
  return R"({"version":"0.1.0","pid":)" + std::to_string(pid) +
         R"(,"uptime_seconds":12.5,"ready":)" + (ready ? "true" : "false") +
         R"(,"ready_reason":")" + (ready ? "ready" : "not ready: waiting for the first health check round") +
         R"(","stopping":false,"admin":{"address":"127.0.0.1:9100"},"listeners":[{"address":"0.0.0.0:80"}],)"
         R"("routes":[{"name":"r","pool":"web"}],)"
         R"("pools":[{"name":"web","available":1,"size":2,"tunnels_active":1,)"
         R"("charts":{"slot_seconds":10,"requests":[1,2,3],"errors":[0,1,0],"p99_ms":[null,)" + p99 + R"(,1.5]},)"
         R"("queue":{"length":2,"size":10,"timeout_ms":1000,"timeouts":1,"full":0},"spill_ratio":0.250,)"
         R"("backends":[{"address":"10.0.0.1:80","weight":1,"weight_factor":1.000,"state":"healthy","health":"healthy",)"
         R"("active_requests":)" + std::to_string(active) + R"(,"active_connections":3,"idle_connections":)" +
         std::to_string(idle) + R"(,"requests_1m":)" + std::to_string(req1m) +
         R"(,"requests_15m":[5,6],"errors_1m":1,"label":"q\"uote\\ \u00e9"},)"
         R"({"address":"10.0.0.2:80","state":"unhealthy","active_requests":0,"active_connections":0,)"
         R"("idle_connections":0,"requests_1m":0,"errors_1m":0}]}]})"
         "\n";
}

JsonValue parsed(const std::string& text) {
  JsonValue v;
  std::string error;
  INFO(text);
  REQUIRE(parseJson(text, v, error));
  return v;
}

}  // namespace

TEST_CASE("mergeStatus: worker 0 is the base, per-process numbers are summed, workers listed", "[worker-merge]") {
  const std::string s0 = statusDoc(100, true, 2, 4, 10, "7.5");
  const std::string s1 = statusDoc(101, true, 5, 1, 20, "9.0");
  const std::string out = mergeStatus({WorkerDoc{0, 100, s0}, WorkerDoc{1, 101, s1}}, R"({"pid": 99, "workers": 2})");
  INFO(out);
  REQUIRE(out.back() == '\n');
  const JsonValue v = parsed(out);
  CHECK(v.find("pid")->text == "100");
  CHECK(v.find("ready")->text == "true");
  CHECK(v.find("uptime_seconds")->text == "12.5");
  const JsonValue& pool = v.find("pools")->items.at(0);
  CHECK(pool.find("tunnels_active")->text == "2");
  CHECK(pool.find("available")->text == "1");  // shared state: worker 0's
  CHECK(pool.find("size")->text == "2");
  CHECK(pool.find("spill_ratio")->text == "0.250");
  CHECK(pool.find("queue")->find("length")->text == "4");
  CHECK(pool.find("queue")->find("timeouts")->text == "2");
  CHECK(pool.find("queue")->find("size")->text == "10");
  const JsonValue& charts = *pool.find("charts");
  CHECK(charts.find("requests")->items.at(2).text == "6");
  CHECK(charts.find("errors")->items.at(1).text == "2");
  CHECK(charts.find("p99_ms")->items.at(0).kind == JsonValue::Kind::Null);
  CHECK(charts.find("p99_ms")->items.at(1).text == "9.0");  // the highest worker's
  const JsonValue& b = pool.find("backends")->items.at(0);
  CHECK(b.find("active_requests")->text == "7");
  CHECK(b.find("active_connections")->text == "6");
  CHECK(b.find("idle_connections")->text == "5");
  CHECK(b.find("requests_1m")->text == "30");
  CHECK(b.find("errors_1m")->text == "2");
  CHECK(b.find("requests_15m")->items.at(1).text == "12");
  CHECK(b.find("weight_factor")->text == "1.000");
  CHECK(b.find("label")->text == "q\"uote\\ \xc3\xa9");
  const JsonValue& workers = *v.find("workers");
  REQUIRE(workers.items.size() == 2);
  CHECK(workers.items[1].find("index")->text == "1");
  CHECK(workers.items[1].find("pid")->text == "101");
  CHECK(workers.items[1].find("active_requests")->text == "5");
  CHECK(workers.items[1].find("requests_1m")->text == "20");
  CHECK(workers.items[1].find("tunnels_active")->text == "1");
  CHECK(workers.items[1].find("queue_length")->text == "2");
  CHECK(workers.items[0].find("ready")->text == "true");
  CHECK(v.find("supervisor")->find("pid")->text == "99");
  // The per-worker documents are not changed by merging into a copy.
  CHECK(mergeStatus({WorkerDoc{0, 100, s0}}, "") == mergeStatus({WorkerDoc{0, 100, s0}}, ""));
  CHECK(parsed(mergeStatus({WorkerDoc{0, 100, s0}}, "")).find("supervisor") == nullptr);
}

TEST_CASE("mergeStatus: a worker that is not ready, cut short or missing", "[worker-merge]") {
  const std::string s0 = statusDoc(100, true, 2, 4, 10, "7.5");
  const std::string s1 = statusDoc(101, false, 5, 1, 20, "9.0");
  SECTION("ready only when every worker is") {
    const JsonValue v = parsed(mergeStatus({WorkerDoc{0, 100, s0}, WorkerDoc{1, 101, s1}}, ""));
    CHECK(v.find("ready")->text == "false");
    CHECK(v.find("ready_reason")->text == "not ready: worker 1: waiting for the first health check round");
  }
  SECTION("a truncated worker is reported and skipped") {
    const JsonValue v = parsed(mergeStatus({WorkerDoc{0, 100, s0}, WorkerDoc{1, 101, s0.substr(0, 300)}}, ""));
    const JsonValue& w1 = v.find("workers")->items.at(1);
    CHECK(w1.find("pid")->text == "101");
    CHECK(w1.find("error")->text.find("does not parse") != std::string::npos);
    CHECK(w1.find("active_requests") == nullptr);
    CHECK(v.find("pools")->items.at(0).find("backends")->items.at(0).find("active_requests")->text == "2");
    CHECK(v.find("ready")->text == "false");
  }
  SECTION("worker 0 unreadable: the next worker is the base") {
    const JsonValue v = parsed(mergeStatus({WorkerDoc{0, 100, "{\"pools\": ["}, WorkerDoc{1, 101, s0}}, "not json"));
    CHECK(v.find("pid")->text == "100");  // worker 1's document (same text as s0)
    CHECK(v.find("workers")->items.at(0).find("error") != nullptr);
    CHECK(v.find("supervisor")->find("error") != nullptr);
  }
  SECTION("no worker readable, or none at all: still a valid document") {
    for (const auto& ws : {std::vector<WorkerDoc>{}, std::vector<WorkerDoc>{WorkerDoc{0, 1, ""}, WorkerDoc{1, 2, "[]"}}}) {
      const JsonValue v = parsed(mergeStatus(ws, "{}"));
      CHECK(v.find("ready")->text == "false");
      CHECK(v.find("workers")->items.size() == ws.size());
    }
  }
  SECTION("every prefix of a document merges without a crash") {
    for (size_t n = 0; n <= s1.size(); n += 7) {
      parsed(mergeStatus({WorkerDoc{0, 100, s0}, WorkerDoc{1, 101, s1.substr(0, n)}}, ""));
      parsed(mergeStatus({WorkerDoc{0, 100, s1.substr(0, n)}, WorkerDoc{1, 101, s0}}, ""));
    }
  }
}
