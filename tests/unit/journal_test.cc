// The journal (lb/base/journal.h): lines whole and flushed per event,
// rotation by size keeping N files, write errors counted; the event log
// copying its info-and-above lines into it with the open incident's id;
// and the journal/incidents config sections.

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/base/journal.h"
#include "lb/base/log.h"

using ballast::Journal;

namespace {

std::string tempDir() {
  char tmpl[] = "/tmp/ballast-journal-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  return tmpl;
}

std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

uint64_t fileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

void removeAll(const std::string& dir) {
  const std::string cmd = "rm -rf '" + dir + "'";
  CHECK(std::system(cmd.c_str()) == 0);
}

}  // namespace

TEST_CASE("journal: each line reaches the file at once, whole", "[journal]") {
  const std::string dir = tempDir();
  const std::string path = dir + "/j.jsonl";
  {
    Journal j;
    std::string err;
    REQUIRE(j.open(path, 1 << 20, 5, &err));
    j.append(R"({"event":"a"})");
    // No flush call exists: the line is in the file before append returns.
    CHECK(readLines(path) == std::vector<std::string>{R"({"event":"a"})"});
    j.append(R"({"event":"b"})");
    CHECK(readLines(path).size() == 2);
    CHECK(j.lines() == 2);
    CHECK(j.writeErrors() == 0);
  }
  // Reopening appends after what is there.
  Journal j2;
  REQUIRE(j2.open(path, 1 << 20, 5, nullptr));
  j2.append(R"({"event":"c"})");
  CHECK(readLines(path).size() == 3);
  removeAll(dir);
}

TEST_CASE("journal: rotated by size, keeping `keep` older files", "[journal]") {
  const std::string dir = tempDir();
  const std::string path = dir + "/j.jsonl";
  Journal j;
  REQUIRE(j.open(path, 4096, 2, nullptr));
  const std::string line = R"({"event":"x","pad":")" + std::string(200, 'p') + "\"}";  // 221 bytes + newline
  const int n = 100;                                                                   // ~22 KiB: five files' worth
  for (int i = 0; i < n; ++i) j.append(line);
  CHECK(j.lines() == static_cast<uint64_t>(n));
  CHECK(j.rotations() >= 4);
  CHECK(exists(path));
  CHECK(exists(path + ".1"));
  CHECK(exists(path + ".2"));
  CHECK_FALSE(exists(path + ".3"));
  for (const std::string& p : {path, path + ".1", path + ".2"}) {
    CHECK(fileSize(p) <= 4096);
    for (const std::string& l : readLines(p)) CHECK(l == line);
  }
  // The rotated files are full (18 lines of 222 bytes fit in 4096).
  CHECK(readLines(path + ".1").size() == 18);
  CHECK(readLines(path).size() == static_cast<size_t>(n % 18 == 0 ? 18 : n % 18));
  removeAll(dir);
}

TEST_CASE("journal: a write error drops the line, is counted, and the next line is tried", "[journal]") {
  // /dev/full accepts the open and fails every write with ENOSPC.
  Journal j;
  REQUIRE(j.open("/dev/full", 0, 0, nullptr));
  j.append(R"({"event":"a"})");
  j.append(R"({"event":"b"})");
  CHECK(j.writeErrors() == 2);
  CHECK(j.lines() == 0);
}

TEST_CASE("journal: an unopenable path is an error and keeps the previous file", "[journal]") {
  const std::string dir = tempDir();
  Journal j;
  REQUIRE(j.open(dir + "/a.jsonl", 1 << 20, 1, nullptr));
  std::string err;
  CHECK_FALSE(j.open(dir + "/missing/dir/b.jsonl", 1 << 20, 1, &err));
  CHECK(err.find("cannot open journal") != std::string::npos);
  CHECK(j.path() == dir + "/a.jsonl");
  j.append("{}");
  CHECK(readLines(dir + "/a.jsonl").size() == 1);
  removeAll(dir);
}

TEST_CASE("journal: the event log copies info and above, with the open incident's id", "[journal]") {
  const std::string dir = tempDir();
  const std::string path = dir + "/j.jsonl";
  Journal& j = ballast::journal();
  REQUIRE(j.open(path, 1 << 20, 1, nullptr));
  ballast::Log& l = ballast::log();
  l.setJournal(&j);
  ballast::logEvent(ballast::LogLevel::Debug, "not_journaled");
  ballast::logEvent(ballast::LogLevel::Info, "journaled", "m");
  l.setIncidentTag("inc-1");
  ballast::logEvent(ballast::LogLevel::Warn, "inside");
  l.setIncidentTag("");
  l.setJournal(nullptr);
  j.close();
  const auto lines = readLines(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].find(R"("event":"journaled","message":"m")") != std::string::npos);
  CHECK(lines[0].find("incident") == std::string::npos);
  CHECK(lines[1].find(R"("event":"inside","incident":"inc-1")") != std::string::npos);
  removeAll(dir);
}

TEST_CASE("config: journal and incidents sections", "[config][journal]") {
  const std::string pools = "pools:\n  - name: web\n    backends: [{ address: 127.0.0.1:9001 }]\n";
  {
    auto r = ballast::config::loadConfigString(pools);
    REQUIRE(r.ok());
    CHECK(r.config->journal.path.empty());
    CHECK(r.config->incidents.threshold_percent == 50);
    CHECK(r.config->incidents.settle.count() == 30000);
  }
  {
    auto r = ballast::config::loadConfigString(
        "journal: { path: /var/lib/ballast/journal.jsonl, max_size: 1MiB, keep: 3 }\n"
        "incidents: { threshold: 75%, settle: 2s }\n" + pools);
    REQUIRE(r.ok());
    CHECK(r.config->journal.path == "/var/lib/ballast/journal.jsonl");
    CHECK(r.config->journal.max_size == 1024 * 1024);
    CHECK(r.config->journal.keep == 3);
    CHECK(r.config->incidents.threshold_percent == 75);
    CHECK(r.config->incidents.settle.count() == 2000);
  }
  const auto firstError = [&](const std::string& yaml) {
    auto r = ballast::config::loadConfigString(yaml + pools);
    REQUIRE_FALSE(r.errors.empty());
    return r.errors.front().format();
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(firstError("journal: { max_size: 1MiB }\n"), Contains("path"));
  CHECK_THAT(firstError("journal: { path: j, max_size: 10 }\n"), Contains("must be between 4096"));
  CHECK_THAT(firstError("journal: { path: j, rotate: 1 }\n"), Contains("rotate"));
  CHECK_THAT(firstError("incidents: { threshold: 50 }\n"), Contains("expected a percentage"));
  CHECK_THAT(firstError("incidents: { settle: 0s }\n"), Contains("greater than 0"));
}
