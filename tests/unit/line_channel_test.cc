// LineChannel (lb/base/line_channel.h): the supervisor's channel to its
// workers. Lines in order, split across reads; close() from inside the
// line callback (a worker stopping on a forwarded signal); the peer hanging
// up; fields that hold tabs and newlines.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lb/base/line_channel.h"

using ballast::LineChannel;

namespace {

struct Pair {
  int ours = -1;
  int peer = -1;
  Pair() {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ours = sv[0];
    peer = sv[1];
  }
  ~Pair() {
    if (peer >= 0) ::close(peer);
  }
  void write(const std::string& s) const { REQUIRE(::write(peer, s.data(), s.size()) == static_cast<ssize_t>(s.size())); }
};

}  // namespace

TEST_CASE("LineChannel: lines split across writes arrive whole and in order, and close() inside the line callback stops it",
          "[line-channel]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Pair p;
  std::vector<std::string> lines;
  LineChannel* ch = nullptr;
  ch = LineChannel::open(
      &loop, p.ours,
      [&](std::string_view line) {
        lines.emplace_back(line);
        if (lines.size() == 2) ch->close();  // from inside: the rest is not delivered
      },
      [] { FAIL("on_close after close()"); });
  REQUIRE(ch != nullptr);
  p.write("one\ntw");
  p.write("o\nthree\nfour\n");
  uv_run(&loop, UV_RUN_DEFAULT);  // ends once the closed channel deleted itself
  CHECK(lines == std::vector<std::string>{"one", "two"});
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("LineChannel: the peer hanging up calls on_close once", "[line-channel]") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Pair p;
  int closes = 0;
  LineChannel* ch = nullptr;
  ch = LineChannel::open(
      &loop, p.ours, [](std::string_view) {},
      [&] {
        ++closes;
        ch->close();
      });
  REQUIRE(ch != nullptr);
  ch->send("hello");
  ::close(p.peer);
  p.peer = -1;
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(closes == 1);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("LineChannel: fields with tabs, newlines and backslashes round-trip", "[line-channel]") {
  const std::string field = "a\tb\nc\\d\re";
  const std::string escaped = LineChannel::escapeField(field);
  CHECK(escaped.find('\t') == std::string::npos);
  CHECK(escaped.find('\n') == std::string::npos);
  CHECK(LineChannel::unescapeField(escaped) == field);
  const std::string line = "health\t" + escaped + "\t2";
  const auto f = LineChannel::split(line);
  REQUIRE(f.size() == 3);
  CHECK(LineChannel::unescapeField(f[1]) == field);
  CHECK(f[2] == "2");
}
