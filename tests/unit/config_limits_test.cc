// The loader's bounds: inputs that made yaml-cpp 0.7 (or the loader) loop,
// allocate without bound or run for minutes now get one clear error, and a
// large valid config still loads. Times are measured only as a generous
// sanity bound; each test's assertion is the error it gets.

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "config/config_loader.h"

using ballast::config::ConfigError;
using ballast::config::kDefaultLoadLimits;
using ballast::config::LoadLimits;
using ballast::config::LoadResult;
using ballast::config::loadConfigFile;
using ballast::config::loadConfigString;

namespace {

// "Returns at all", not a timing: far above what any of these loads takes
// once bounded, even in a sanitizer build on a busy machine; before, several
// of them never returned.
constexpr std::chrono::seconds kSanityBound{30};

const char* const kOnePool =
    "pools:\n"
    "  - name: web\n"
    "    backends: [{ address: 127.0.0.1:9001 }]\n";

std::vector<std::string> formatted(const LoadResult& r) {
  std::vector<std::string> out;
  for (const ConfigError& e : r.errors) out.push_back(e.format());
  return out;
}

// Loads `yaml` and checks that it took less than kSanityBound.
LoadResult timedLoad(const std::string& yaml, const LoadLimits& limits = kDefaultLoadLimits) {
  const auto start = std::chrono::steady_clock::now();
  LoadResult r = loadConfigString(yaml, "<string>", limits);
  CHECK(std::chrono::steady_clock::now() - start < kSanityBound);
  return r;
}

std::vector<std::string> errorsOf(const std::string& yaml, const LoadLimits& limits = kDefaultLoadLimits) {
  return formatted(timedLoad(yaml, limits));
}

// A temporary file holding `text`, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    const int fd = mkstemp(path_);
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { std::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_; }

 private:
  char path_[40] = "/tmp/ballast-limits-test-XXXXXX";
};

// `n` backends with distinct addresses, one per line, in pool `name`.
std::string poolOf(const std::string& name, int n) {
  std::string out = "  - name: " + name + "\n    backends:\n";
  for (int i = 0; i < n; ++i) {
    out += "      - { address: \"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) +
           ":8080\", weight: 1 }\n";
  }
  return out;
}

}  // namespace

TEST_CASE("config limits: a token no document can start with is an error instead of an endless loop", "[config][limits]") {
  // yaml-cpp 0.7's LoadAll() loops for ever on these, adding an empty
  // document per turn until memory runs out.
  struct Case {
    const char* name;
    std::string yaml;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a lone comma", ",", "<string>:1:1: invalid YAML: unexpected \",\""},
      {"a comma and a newline", ",\n", "<string>:1:1: invalid YAML: unexpected \",\""},
      {"after a space", " ,", "<string>:1:2: invalid YAML: unexpected \",\""},
      {"two commas", ",,", "<string>:1:1: invalid YAML: unexpected \",\""},
      {"after a document marker", "--- ,", "<string>:1:5: invalid YAML: unexpected \",\""},
      {"after an anchor", "&a ,", "<string>:1:4: invalid YAML: unexpected \",\""},
      {"after a quoted root", "\"a\",", "<string>:1:4: invalid YAML: unexpected \",\""},
      {"after a root list", "- a\n,\n", "<string>:2:1: invalid YAML: unexpected \",\""},
      {"after a block scalar", "|\n a\n,\n", "<string>:3:1: invalid YAML: unexpected \",\""},
      {"after a document end", "a: b\n...\n,\n", "<string>:3:1: invalid YAML: unexpected \",\""},
      {"after a config written as one flow mapping",
       "{ pools: [{ name: web, backends: [{ address: 127.0.0.1:9001 }] }] },\n",
       "<string>:1:68: invalid YAML: unexpected \",\""},
      {"a question mark after an anchored root scalar", "&a a\n? \n", "<string>:2:1: invalid YAML: unexpected \"?\""},
      {"a question mark after a tagged root scalar", "! a\n? b\n", "<string>:2:1: invalid YAML: unexpected \"?\""},
  };
  for (const Case& c : cases) {
    SECTION(c.name) { CHECK(errorsOf(c.yaml) == std::vector<std::string>{c.error}); }
  }
}

TEST_CASE("config limits: the stuck comma is found by loadConfigFile too", "[config][limits]") {
  const TempFile file(",");
  const LoadResult r = loadConfigFile(file.path());
  CHECK(formatted(r) == std::vector<std::string>{file.path() + ":1:1: invalid YAML: unexpected \",\""});
}

TEST_CASE("config limits: file size", "[config][limits]") {
  const size_t max = kDefaultLoadLimits.max_file_bytes;
  REQUIRE(max == 4 * 1024 * 1024);

  SECTION("a string one byte over the limit is refused before parsing") {
    const std::string yaml = std::string(kOnePool) + "#" + std::string(max - std::string(kOnePool).size(), 'x');
    REQUIRE(yaml.size() == max + 1);
    CHECK(errorsOf(yaml) == std::vector<std::string>{"<string>: config file is 4194305 bytes; the limit is 4 MiB"});
  }
  SECTION("a file over the limit is refused without being read") {
    const std::string yaml = std::string(kOnePool) + "#" + std::string(15'000'000, 'x');
    REQUIRE(yaml.size() == 15'000'066);
    const TempFile file(yaml);
    const auto start = std::chrono::steady_clock::now();
    const LoadResult r = loadConfigFile(file.path());
    CHECK(std::chrono::steady_clock::now() - start < kSanityBound);
    CHECK(formatted(r) ==
          std::vector<std::string>{file.path() + ": config file is 15000066 bytes; the limit is 4 MiB"});
  }
  SECTION("a file exactly at the limit is parsed") {
    const std::string yaml = std::string(kOnePool) + "#" + std::string(max - 1 - std::string(kOnePool).size(), 'x');
    REQUIRE(yaml.size() == max);
    const TempFile file(yaml);
    CHECK(loadConfigFile(file.path()).ok());
  }
  SECTION("a device that never ends is read only up to the limit") {
    const LoadResult r = loadConfigFile("/dev/zero");
    CHECK(formatted(r) == std::vector<std::string>{"/dev/zero: config file is over the limit of 4 MiB"});
  }
  SECTION("a FIFO nobody writes to reads as empty instead of waiting for a writer") {
    char dir[] = "/tmp/ballast-limits-fifo-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    const std::string fifo = std::string(dir) + "/config.yaml";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    const LoadResult r = loadConfigFile(fifo);
    std::remove(fifo.c_str());
    rmdir(dir);
    CHECK(formatted(r) == std::vector<std::string>{fifo + ":1:1: config is empty"});
  }
  SECTION("a smaller limit is named as written") {
    LoadLimits limits;
    limits.max_file_bytes = 1000;
    CHECK(errorsOf(std::string(1001, '#'), limits) ==
          std::vector<std::string>{"<string>: config file is 1001 bytes; the limit is 1000 bytes"});
  }
}

TEST_CASE("config limits: key length", "[config][limits]") {
  REQUIRE(kDefaultLoadLimits.max_key_bytes == 256);
  const std::string shown = std::string(40, 'k') + "...";

  SECTION("a key over the limit is named shortened, with its length") {
    CHECK(errorsOf("? " + std::string(257, 'k') + "\n: 1\n" + kOnePool) ==
          std::vector<std::string>{"<string>:1:3: " + shown + ": key is 257 bytes; the limit is 256 bytes"});
  }
  SECTION("a key at the limit is only an unknown key") {
    const std::string key(256, 'k');
    CHECK(errorsOf(std::string(kOnePool) + "? " + key + "\n: 1\n") ==
          std::vector<std::string>{"<string>:4:3: " + key + ": unknown key"});
  }
  SECTION("inside a section, with the section's path") {
    CHECK(errorsOf("admin:\n  ? " + std::string(300, 'k') + "\n  : 1\n" + kOnePool) ==
          std::vector<std::string>{"<string>:2:5: admin." + shown + ": key is 300 bytes; the limit is 256 bytes"});
  }
  SECTION("a key written as an alias of a long string") {
    CHECK(errorsOf(std::string(kOnePool) + "routes: [&long " + std::string(300, 'k') + "]\n? *long\n: 1\n") ==
          std::vector<std::string>{"<string>:5:3: *long: key is 300 bytes; the limit is 256 bytes"});
  }
}

TEST_CASE("config limits: 40 unknown 1 MB keys are refused at once", "[config][limits]") {
  const auto unknownKeys = [](int n) {
    std::string yaml;
    for (int i = 0; i < n; ++i) yaml += "? k" + std::to_string(i) + std::string(1 << 20, 'x') + "\n: 1\n";
    return yaml + kOnePool;
  };

  SECTION("by the file size") {
    const std::string yaml = unknownKeys(40);
    const LoadResult r = timedLoad(yaml);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == "config file is " + std::to_string(yaml.size()) + " bytes; the limit is 4 MiB");
  }
  SECTION("by the key length, when the file size is allowed") {
    LoadLimits limits;
    limits.max_file_bytes = 64 << 20;
    const LoadResult r = timedLoad(unknownKeys(40), limits);
    CHECK(formatted(r) == std::vector<std::string>{"<string>:1:3: k0" + std::string(38, 'x') +
                                                   "...: key is 1048578 bytes; the limit is 256 bytes"});
  }
  SECTION("with no suggestion searched, when the key length is allowed too") {
    // Before the search was bounded, each key cost seconds: a 1M x 20
    // edit-distance table per allowed key. Only time can show that; two
    // keys keep yaml-cpp's own parsing of 1 MB scalars out of it.
    LoadLimits limits;
    limits.max_file_bytes = 64 << 20;
    limits.max_key_bytes = 2 << 20;
    const LoadResult r = timedLoad(unknownKeys(2), limits);
    REQUIRE(r.errors.size() == 2);
    for (const ConfigError& e : r.errors) CHECK(e.message == "unknown key");
  }
}

TEST_CASE("config limits: nesting depth", "[config][limits]") {
  REQUIRE(kDefaultLoadLimits.max_depth == 64);

  SECTION("block mappings 65 deep") {
    std::string yaml;
    std::string path = "a";
    for (int i = 0; i < 65; ++i) yaml += std::string(static_cast<size_t>(i), ' ') + "a:\n";
    yaml += std::string(65, ' ') + "b: 1\n";
    for (int i = 2; i < 65; ++i) path += ".a";
    CHECK(errorsOf(yaml) == std::vector<std::string>{"<string>:65:65: " + path + ": nested 65 levels deep; the limit is 64"});
  }
  SECTION("flow lists 100 deep") {
    const std::string yaml = std::string(100, '[') + std::string(100, ']');
    std::string path;
    for (int i = 0; i < 64; ++i) path += "[0]";
    CHECK(errorsOf(yaml) == std::vector<std::string>{"<string>:1:65: " + path + ": nested 65 levels deep; the limit is 64"});
  }
  SECTION("100,000 unclosed brackets") {
    // yaml-cpp reads each unclosed "[" as a list holding a one-pair mapping,
    // so the 33rd is the one 65 levels deep.
    const LoadResult r = timedLoad(std::string(100'000, '['));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 1);
    CHECK(r.errors[0].column == 33);
    CHECK(r.errors[0].message == "nested 65 levels deep; the limit is 64");
  }
  SECTION("64 deep is allowed (the schema then rejects it)") {
    const std::string yaml = std::string(kOnePool) + "x: " + std::string(63, '[') + std::string(63, ']') + "\n";
    CHECK(errorsOf(yaml) == std::vector<std::string>{"<string>:4:1: x: unknown key"});
  }
}

TEST_CASE("config limits: aliases", "[config][limits]") {
  REQUIRE(kDefaultLoadLimits.max_alias_nodes == 100'000);

  SECTION("billion laughs") {
    std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    // a<i>: &a<i> [*a<i-1>, ... ten times]
    for (int i = 1; i < 10; ++i) {
      // (Appended rather than "a" + std::to_string(i): g++ 12 warns wrongly on that, -Wrestrict.)
      const std::string name = std::string("a").append(std::to_string(i));
      const std::string prev = std::string("*a").append(std::to_string(i - 1));
      yaml.append(name).append(": &").append(name).append(" [").append(prev);
      for (int j = 1; j < 10; ++j) yaml.append(", ").append(prev);
      yaml += "]\n";
    }
    // a4 = 10 * a3 (1111 nodes each): the 90th alias crosses 100,000.
    CHECK(errorsOf(yaml) ==
          std::vector<std::string>{"<string>:5:45: a4[7]: aliases expand to more than 100000 nodes; the limit is 100000"});
  }
  SECTION("pools times backends, the shape the loader walks") {
    // 400 aliases of a pool holding 400 aliases of one backend: 160,000
    // backends for the loader to resolve and compare.
    std::string yaml = "x: &b { address: 127.0.0.1:9001 }\ny: &p { name: web, backends: [*b";
    for (int i = 1; i < 400; ++i) yaml += ", *b";
    yaml += "] }\npools: [*p";
    for (int i = 1; i < 400; ++i) yaml += ", *p";
    yaml += "]\n";
    const LoadResult r = timedLoad(yaml);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].message == "aliases expand to more than 100000 nodes; the limit is 100000");
    CHECK(r.errors[0].path.rfind("pools[", 0) == 0);
  }
  SECTION("an alias inside its own anchor") {
    CHECK(errorsOf("pools: &a [*a]\n") ==
          std::vector<std::string>{
              "<string>:1:12: pools[0]: alias *a is inside the node it refers to (recursive structures are not allowed)"});
  }
  SECTION("a few aliases of a shared block load") {
    const LoadResult r = timedLoad(
        "x: &hc { type: tcp, interval: 1s }\n"
        "pools:\n"
        "  - { name: a, health_check: *hc, backends: [{ address: 127.0.0.1:9001 }] }\n"
        "  - { name: b, health_check: *hc, backends: [{ address: 127.0.0.1:9002 }] }\n"
        "routes: [{ pool: a }]\n");
    // The anchor's holder is an unknown key; the aliases themselves are fine.
    CHECK(formatted(r) == std::vector<std::string>{"<string>:1:1: x: unknown key"});
  }
}

TEST_CASE("config limits: node count", "[config][limits]") {
  REQUIRE(kDefaultLoadLimits.max_nodes == 500'000);
  std::string yaml = "listen:\n";
  yaml.reserve(3'000'000);
  for (int i = 0; i < 500'000; ++i) yaml += "- a\n";
  // The mapping, its key and the list come first: item 499,997 is node 500,001.
  const LoadResult r = timedLoad(yaml);
  CHECK(formatted(r) ==
        std::vector<std::string>{"<string>:499999:3: listen[499997]: more than 500000 YAML nodes; the limit is 500000"});
}

TEST_CASE("config limits: long values are shortened in messages", "[config][limits]") {
  const std::string value(100'000, 'v');
  CHECK(errorsOf("log: { level: " + value + " }\n" + kOnePool) ==
        std::vector<std::string>{"<string>:1:15: log.level: unknown log level \"" + std::string(100, 'v') +
                                 "...\" (allowed: trace, debug, info, warn, error)"});
}

TEST_CASE("config limits: a token file that never ends is read only up to its limit", "[config][limits]") {
  CHECK(errorsOf("admin: { token_file: /dev/zero }\n" + std::string(kOnePool)) ==
        std::vector<std::string>{"<string>:1:22: admin.token_file: token file \"/dev/zero\" is over the limit of 64 KiB"});
}

TEST_CASE("config limits: large valid configs still load", "[config][limits]") {
  SECTION("2,000 backends") {
    const LoadResult r = timedLoad("pools:\n" + poolOf("web", 2000));
    INFO(Catch::Detail::stringify(formatted(r)));
    REQUIRE(r.ok());
    REQUIRE(r.config->pools.size() == 1);
    CHECK(r.config->pools[0].backends.size() == 2000);
  }
  SECTION("20,000 backends in one pool, and a duplicate among them is still found") {
    // Duplicate addresses are found with a map: comparing every pair took
    // minutes for a pool of 300,000.
    std::string yaml = "pools:\n" + poolOf("web", 20'000);
    CHECK(timedLoad(yaml).ok());
    yaml += "      - { address: \"10.0.0.1:8080\" }\n";
    CHECK(errorsOf(yaml) ==
          std::vector<std::string>{"<string>:20004:20: pools[0].backends[20000].address: duplicate backend address "
                                   "(same as pools[0].backends[0])"});
  }
}
