// Streaming: large uploads and downloads pass through intact (length and
// FNV-1a 64 on both ends) while ballast's memory stays bounded, including
// when the client reads slowly (backpressure).
#include <catch2/catch.hpp>

#include <algorithm>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kBig = 256ULL << 20;      // 256 MiB
constexpr long kBigRssLimitKb = 64 * 1024;   // ballast must stay under 64 MiB
// ... and grow by less than this over its idle size (under AddressSanitizer
// the idle process alone is ~40 MiB: the absolute bound applies outside it).
constexpr long kBigRssGrowthKb = 32 * 1024;
constexpr uint64_t kSlow = 64ULL << 20;      // slow-reader download
// Half the body: buffering it all would show. AddressSanitizer's own
// memory (quarantine, shadow) needs more room, still well under the body.
constexpr long kSlowRssLimitKb = (kSanitizerBuild ? 48 : 32) * 1024;
// What a slow reader may make the process grow by (one read per side is
// buffered; the rest is allocator and sanitizer slack).
constexpr long kSlowRssGrowthKb = (kSanitizerBuild ? 24 : 16) * 1024;

// Samples ballast's RSS every `step` bytes of progress.
struct RssSampler {
  Process& process;
  uint64_t step = 8ULL << 20;
  uint64_t next = 0;
  long max_kb = 0;
  void operator()(uint64_t progress) {
    if (progress < next) return;
    next = progress + step;
    max_kb = std::max(max_kb, process.rssKb());
  }
};

void upload(bool chunked) {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  Client c(lb.port());
  c.sendAll(request("POST", "/upload",
                    {chunked ? std::string("Transfer-Encoding: chunked") : "Content-Length: " + std::to_string(kBig)}));
  Fnv64 sent;
  const long before_kb = lb.process().rssKb();
  RssSampler rss{lb.process()};
  c.sendPatternBody(kBig, sent, chunked, std::ref(rss));
  Response r = c.readResponse();
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.headerOr("X-Body-Bytes") == std::to_string(kBig));
  CHECK(r.headerOr("X-Body-Fnv") == sent.hex());
  INFO("sampled max RSS " << rss.max_kb << " KiB, " << before_kb << " KiB before");
  if (!kSanitizerBuild) CHECK(rss.max_kb < kBigRssLimitKb);
  CHECK(rss.max_kb - before_kb < kBigRssGrowthKb);
  CHECK(lb.process().peakRssKb() - before_kb < kBigRssGrowthKb);
}

void download(bool chunked) {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  const long before_kb = lb.process().rssKb();
  RssSampler rss{lb.process()};
  ReadOptions opts;
  opts.store_body = false;
  opts.on_progress = std::ref(rss);
  Response r = fetch(lb.port(), get("/download?size=" + std::to_string(kBig) + (chunked ? "&chunked=1" : "")), opts);
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.complete);
  if (!chunked) CHECK(r.headerOr("Content-Length") == std::to_string(kBig));
  CHECK(r.body_bytes == kBig);
  CHECK(r.body_fnv.hex() == demoBodyFnv(kBig));
  INFO("sampled max RSS " << rss.max_kb << " KiB, " << before_kb << " KiB before");
  if (!kSanitizerBuild) CHECK(rss.max_kb < kBigRssLimitKb);
  CHECK(rss.max_kb - before_kb < kBigRssGrowthKb);
  CHECK(lb.process().peakRssKb() - before_kb < kBigRssGrowthKb);
}

}  // namespace

TEST_CASE("a 256 MiB upload with Content-Length streams through in bounded memory", "[streaming]") {
  upload(false);
}

TEST_CASE("a 256 MiB chunked upload streams through in bounded memory", "[streaming]") { upload(true); }

TEST_CASE("a 256 MiB download with Content-Length streams through in bounded memory", "[streaming]") {
  download(false);
}

TEST_CASE("a 256 MiB chunked download streams through in bounded memory", "[streaming]") { download(true); }

TEST_CASE("a slow reader does not make ballast buffer the response (backpressure)", "[streaming]") {
  TempDir dir;
  DemoBackend a(dir, "a");
  Ballast lb(dir, webConfig({a.address()}));

  // A small receive buffer and small, paced reads: about 30 MB/s, far slower
  // than the backend can produce.
  Client c(lb.port(), kDefaultTimeout, 64 * 1024);
  // Growth over the idle process: under AddressSanitizer the idle process
  // alone is ~40 MiB (its runtime and shadow memory), so an absolute bound
  // there measures the sanitizer, not ballast.
  const long before_kb = lb.process().rssKb();
  RssSampler rss{lb.process(), 4ULL << 20};
  ReadOptions opts;
  opts.store_body = false;
  opts.read_size = 32 * 1024;
  opts.pause_between_reads = 1ms;
  opts.on_progress = std::ref(rss);
  Response r = c.roundTrip(get("/slow?size=" + std::to_string(kSlow)), opts);
  INFO(r.describe());
  REQUIRE(r.status == 200);
  CHECK(r.complete);
  CHECK(r.body_bytes == kSlow);
  CHECK(r.body_fnv.hex() == demoBodyFnv(kSlow));
  INFO("sampled max RSS " << rss.max_kb << " KiB, " << before_kb << " KiB before");
  if (!kSanitizerBuild) CHECK(rss.max_kb < kSlowRssLimitKb);
  CHECK(rss.max_kb - before_kb < kSlowRssGrowthKb);
  CHECK(lb.process().peakRssKb() - before_kb < kSlowRssGrowthKb);
}
