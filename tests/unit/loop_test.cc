// StreamWriter on a real libuv loop over 127.0.0.1, and DeadlineTimer. Each test owns its loop
// and handles, counts how often every callback ran, and ends with
// uv_loop_close() == 0 (nothing leaked, every handle closed).

#include <uv.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "lb/base/deadline_timer.h"
#include "lb/base/write_batch.h"

using ballast::StreamWriter;
using ballast::WriteBatch;

namespace {

constexpr uint64_t kTimeoutMs = 20000;

// A listener on 127.0.0.1:0, a client connected to it, and the accepted
// peer. The client writes, the peer reads. All handles live here; `data`
// points back at the fixture.
struct Loopback {
  uv_loop_t loop{};
  uv_tcp_t server{};
  uv_tcp_t client{};
  uv_tcp_t peer{};
  uv_connect_t connect_req{};
  uv_timer_t timeout{};   // fails the test instead of hanging it
  uv_timer_t resume{};    // restarts the slow reader

  int connect_cb = 0;
  int connection_cb = 0;
  int close_cb = 0;
  int handles = 0;  // opened handles, to compare with close_cb
  bool timed_out = false;
  int connect_status = 1;

  // Reader state.
  bool slow = false;           // pause after every `pause_every` bytes
  size_t pause_every = 0;
  size_t since_pause = 0;
  int pauses = 0;
  int read_cb = 0;
  int eof = 0;
  int read_error = 0;
  std::string received;
  size_t expect_bytes = 0;     // close the peer after this many, or on EOF
  char read_buf[64 * 1024];

  Loopback() {
    REQUIRE(uv_loop_init(&loop) == 0);
    loop.data = this;
    REQUIRE(uv_tcp_init(&loop, &server) == 0);
    server.data = this;
    ++handles;
    sockaddr_in addr{};
    REQUIRE(uv_ip4_addr("127.0.0.1", 0, &addr) == 0);
    REQUIRE(uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&addr), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&server), 8, &Loopback::onConnection) == 0);
    REQUIRE(uv_timer_init(&loop, &timeout) == 0);
    timeout.data = this;
    ++handles;
    REQUIRE(uv_timer_start(&timeout, &Loopback::onTimeout, kTimeoutMs, 0) == 0);
    REQUIRE(uv_timer_init(&loop, &resume) == 0);
    resume.data = this;
    ++handles;
    // AF_INET so the socket exists now and its send buffer can be sized.
    REQUIRE(uv_tcp_init_ex(&loop, &client, AF_INET) == 0);
    client.data = this;
    ++handles;
  }

  void connect() {
    sockaddr_storage ss{};
    int len = sizeof ss;
    REQUIRE(uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    connect_req.data = this;
    REQUIRE(uv_tcp_connect(&connect_req, &client, reinterpret_cast<sockaddr*>(&ss), &Loopback::onConnect) == 0);
  }

  // Runs until the client is connected and the peer accepted.
  void runUntilConnected() {
    while ((connect_cb == 0 || connection_cb == 0) && !timed_out) uv_run(&loop, UV_RUN_ONCE);
    REQUIRE(connect_status == 0);
    REQUIRE(connection_cb == 1);
  }

  uv_stream_t* clientStream() { return reinterpret_cast<uv_stream_t*>(&client); }

  void closeHandle(uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, &Loopback::onClose);
  }
  void closeAll() {
    closeHandle(reinterpret_cast<uv_handle_t*>(&client));
    if (connection_cb) closeHandle(reinterpret_cast<uv_handle_t*>(&peer));
    closeHandle(reinterpret_cast<uv_handle_t*>(&server));
    closeHandle(reinterpret_cast<uv_handle_t*>(&timeout));
    closeHandle(reinterpret_cast<uv_handle_t*>(&resume));
  }

  // Closes what is left, drains the loop and checks nothing leaked.
  void finish() {
    closeAll();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(close_cb == handles);
    CHECK(uv_loop_close(&loop) == 0);
  }

  static void onConnection(uv_stream_t* server, int status) {
    auto* self = static_cast<Loopback*>(server->data);
    ++self->connection_cb;
    REQUIRE(status == 0);
    REQUIRE(self->connection_cb == 1);
    REQUIRE(uv_tcp_init(&self->loop, &self->peer) == 0);
    self->peer.data = self;
    ++self->handles;
    REQUIRE(uv_accept(server, reinterpret_cast<uv_stream_t*>(&self->peer)) == 0);
  }
  static void onConnect(uv_connect_t* req, int status) {
    auto* self = static_cast<Loopback*>(req->data);
    ++self->connect_cb;
    self->connect_status = status;
  }
  static void onTimeout(uv_timer_t* t) {
    auto* self = static_cast<Loopback*>(t->data);
    self->timed_out = true;
    self->closeAll();
  }
  static void onClose(uv_handle_t* h) {
    auto* self = static_cast<Loopback*>(h->loop->data);
    ++self->close_cb;
  }

  void startReading() {
    REQUIRE(uv_read_start(reinterpret_cast<uv_stream_t*>(&peer), &Loopback::onAlloc, &Loopback::onRead) == 0);
  }
  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* self = static_cast<Loopback*>(h->data);
    // Small reads on purpose: the reader is the slow side.
    *buf = uv_buf_init(self->read_buf, self->slow ? 4096 : sizeof self->read_buf);
  }
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Loopback*>(s->data);
    ++self->read_cb;
    if (nread == 0) return;  // EAGAIN, not EOF
    if (nread == UV_EOF) {
      ++self->eof;
      self->closeHandle(reinterpret_cast<uv_handle_t*>(s));
      return;
    }
    if (nread < 0) {
      ++self->read_error;
      self->closeHandle(reinterpret_cast<uv_handle_t*>(s));
      return;
    }
    self->received.append(buf->base, static_cast<size_t>(nread));
    if (self->slow) {
      self->since_pause += static_cast<size_t>(nread);
      if (self->since_pause >= self->pause_every) {
        self->since_pause = 0;
        ++self->pauses;
        uv_read_stop(s);
        uv_timer_start(&self->resume, &Loopback::onResume, 2, 0);
      }
    }
  }
  static void onResume(uv_timer_t* t) {
    auto* self = static_cast<Loopback*>(t->data);
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&self->peer))) self->startReading();
  }
};

// The StreamWriter owner: counts done callbacks.
struct Owner {
  Loopback* lb = nullptr;
  StreamWriter* writer = nullptr;
  int done_cb = 0;
  int done_status = 1;
  bool pending_in_cb = true;
  static void onDone(void* owner, int status) {
    auto* self = static_cast<Owner*>(owner);
    ++self->done_cb;
    self->done_status = status;
    self->pending_in_cb = self->writer->pending();
    // All bytes are in the kernel: closing now still delivers them, then EOF.
    self->lb->closeHandle(reinterpret_cast<uv_handle_t*>(&self->lb->client));
  }
};

}  // namespace

TEST_CASE("StreamWriter: 8 MiB batch to a slow reader goes pending and completes once", "[loop]") {
  Loopback lb;
  // Small kernel buffers so the write cannot finish synchronously whatever
  // the host's TCP autotuning does.
  int sndbuf = 64 * 1024;
  REQUIRE(uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(&lb.client), &sndbuf) == 0);
  lb.connect();
  lb.runUntilConnected();

  // 8 MiB as chunks borrowed from one payload, plus copied framing.
  const size_t kTotal = 8u << 20;
  const size_t kChunk = 96 * 1024 + 7;  // odd size: hex sizes and partial writes land mid-buffer
  std::string payload(kTotal, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
  WriteBatch batch;
  std::string expected;
  expected.reserve(kTotal + 4096);
  batch.addCopy("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  expected += "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < kTotal; off += kChunk) {
    size_t len = std::min(kChunk, kTotal - off);
    batch.addChunk(payload.data() + off, len);
    char hdr[32];
    std::snprintf(hdr, sizeof hdr, "%zx\r\n", len);
    expected += hdr;
    expected.append(payload, off, len);
    expected += "\r\n";
  }
  batch.addLastChunk();
  expected += "0\r\n\r\n";
  batch.finalize();
  REQUIRE(batch.bytes() == expected.size());

  Owner owner;
  owner.lb = &lb;
  StreamWriter writer(&owner, &Owner::onDone);
  owner.writer = &writer;
  CHECK_FALSE(writer.pending());

  // The reader has not started: the write must go pending.
  int r = writer.write(lb.clientStream(), batch.bufs(), batch.count());
  REQUIRE(r == 1);
  CHECK(writer.pending());
  CHECK(owner.done_cb == 0);  // never called synchronously

  lb.slow = true;
  lb.pause_every = 512 * 1024;
  lb.startReading();
  while (lb.eof == 0 && lb.read_error == 0 && !lb.timed_out) uv_run(&lb.loop, UV_RUN_ONCE);

  CHECK_FALSE(lb.timed_out);
  CHECK(owner.done_cb == 1);
  CHECK(owner.done_status == 0);
  CHECK_FALSE(owner.pending_in_cb);
  CHECK_FALSE(writer.pending());
  CHECK(lb.eof == 1);
  CHECK(lb.read_error == 0);
  CHECK(lb.pauses >= 8);  // the reader really was slow
  CHECK(lb.received.size() == expected.size());
  CHECK(lb.received == expected);

  lb.finish();
  CHECK(owner.done_cb == 1);  // still exactly once after the loop drained
}

TEST_CASE("StreamWriter: a small batch completes synchronously with no callback", "[loop]") {
  Loopback lb;
  lb.connect();
  lb.runUntilConnected();

  const std::string body = "hello, world";
  WriteBatch batch;
  batch.addCopy("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
  batch.addBorrowed(body.data(), body.size());
  batch.finalize();
  const std::string expected = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n" + body;

  Owner owner;
  owner.lb = &lb;
  StreamWriter writer(&owner, &Owner::onDone);
  owner.writer = &writer;

  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    CHECK(writer.write(lb.clientStream(), batch.bufs(), batch.count()) == 0);
    CHECK_FALSE(writer.pending());
  }
  lb.startReading();
  while (lb.received.size() < 3 * expected.size() && !lb.timed_out) uv_run(&lb.loop, UV_RUN_ONCE);
  CHECK_FALSE(lb.timed_out);
  CHECK(lb.received == expected + expected + expected);

  lb.finish();
  CHECK(owner.done_cb == 0);
  CHECK(lb.read_error == 0);
}

TEST_CASE("StreamWriter: a write before the connection is up goes pending, then completes", "[loop]") {
  Loopback lb;
  lb.connect();  // connect_req pending: uv_try_write cannot write yet

  const std::string data = "early bytes";
  WriteBatch batch;
  batch.addBorrowed(data.data(), data.size());
  batch.finalize();

  Owner owner;
  owner.lb = &lb;
  StreamWriter writer(&owner, &Owner::onDone);
  owner.writer = &writer;
  REQUIRE(writer.write(lb.clientStream(), batch.bufs(), batch.count()) == 1);
  CHECK(writer.pending());

  lb.runUntilConnected();
  lb.startReading();
  while (lb.eof == 0 && lb.read_error == 0 && !lb.timed_out) uv_run(&lb.loop, UV_RUN_ONCE);
  CHECK_FALSE(lb.timed_out);
  CHECK(owner.done_cb == 1);
  CHECK(owner.done_status == 0);
  CHECK(lb.received == data);
  lb.finish();
}

TEST_CASE("StreamWriter: an error is returned, nothing pending, no callback", "[loop]") {
  // Writing to an unconnected TCP socket fails with EPIPE, which also raises
  // SIGPIPE (the ballast binary ignores it; this test binary must too).
  std::signal(SIGPIPE, SIG_IGN);
  Loopback lb;
  // The client never connects; its socket exists but is not connected.
  const std::string data = "x";
  WriteBatch batch;
  batch.addBorrowed(data.data(), data.size());
  batch.finalize();

  Owner owner;
  owner.lb = &lb;
  StreamWriter writer(&owner, &Owner::onDone);
  owner.writer = &writer;
  int r = writer.write(lb.clientStream(), batch.bufs(), batch.count());
  INFO("write returned " << r << " (" << (r < 0 ? uv_err_name(r) : "ok") << ")");
  CHECK(r < 0);
  CHECK_FALSE(writer.pending());
  lb.finish();
  CHECK(owner.done_cb == 0);
}

TEST_CASE("StreamWriter: a pending write is cancelled when the stream closes", "[loop]") {
  Loopback lb;
  int sndbuf = 64 * 1024;
  REQUIRE(uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(&lb.client), &sndbuf) == 0);
  lb.connect();
  lb.runUntilConnected();

  std::string big(4u << 20, 'q');
  WriteBatch batch;
  batch.addBorrowed(big.data(), big.size());
  batch.finalize();

  struct Canceller {
    StreamWriter* writer = nullptr;
    int done_cb = 0;
    int status = 1;
    bool pending_in_cb = true;
    static void onDone(void* owner, int status) {
      auto* self = static_cast<Canceller*>(owner);
      ++self->done_cb;
      self->status = status;
      self->pending_in_cb = self->writer->pending();
    }
  } owner;
  StreamWriter writer(&owner, &Canceller::onDone);
  owner.writer = &writer;
  REQUIRE(writer.write(lb.clientStream(), batch.bufs(), batch.count()) == 1);

  // Nobody reads; closing the client cancels the queued write before the
  // close callback (libuv contract).
  lb.closeHandle(reinterpret_cast<uv_handle_t*>(&lb.client));
  lb.finish();
  CHECK(owner.done_cb == 1);
  CHECK(owner.status == UV_ECANCELED);
  CHECK_FALSE(owner.pending_in_cb);
  CHECK_FALSE(writer.pending());
}

// ---- DeadlineTimer (lb/base/deadline_timer.h) ----

namespace {

struct DeadlineFixture {
  uv_loop_t loop{};
  ballast::DeadlineTimer timer;
  uint64_t started = 0;
  std::vector<uint64_t> fired;  // loop time of each callback, minus `started`
  int closed = 0;

  DeadlineFixture() {
    uv_loop_init(&loop);
    timer.init(&loop, this, [](uv_timer_t* t) {
      auto* self = static_cast<DeadlineFixture*>(t->data);
      self->fired.push_back(uv_now(&self->loop) - self->started);
    });
    uv_update_time(&loop);
    started = uv_now(&loop);
  }
  // Runs the loop for about `ms`.
  void runFor(uint64_t ms) {
    uv_timer_t stop{};
    uv_timer_init(&loop, &stop);
    uv_timer_start(&stop, [](uv_timer_t*) {}, ms, 0);
    while (uv_is_active(reinterpret_cast<uv_handle_t*>(&stop))) uv_run(&loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop), nullptr);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  ~DeadlineFixture() {
    uv_close(timer.handle(), [](uv_handle_t* h) { ++static_cast<DeadlineFixture*>(h->data)->closed; });
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(closed == 1);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

}  // namespace

TEST_CASE("DeadlineTimer: a deadline moved later fires once, at the later time", "[loop]") {
  DeadlineFixture f;
  f.timer.start(30);
  f.timer.start(120);  // later: the libuv timer stays at 30 and re-arms there
  f.runFor(200);
  REQUIRE(f.fired.size() == 1);
  CHECK(f.fired[0] >= 120);
}

TEST_CASE("DeadlineTimer: a deadline moved earlier fires at the earlier time", "[loop]") {
  DeadlineFixture f;
  f.timer.start(300);
  f.timer.start(30);
  f.runFor(200);
  REQUIRE(f.fired.size() == 1);  // at 30, not at 300
  CHECK(f.fired[0] >= 30);
}

TEST_CASE("DeadlineTimer: stopped, it never fires, and restarted, it fires on time", "[loop]") {
  DeadlineFixture f;
  f.timer.start(30);
  f.timer.stop();
  CHECK_FALSE(f.timer.active());
  f.runFor(80);
  CHECK(f.fired.empty());
  f.timer.start(40);
  const uint64_t restarted = uv_now(&f.loop) - f.started;
  f.runFor(120);
  REQUIRE(f.fired.size() == 1);
  CHECK(f.fired[0] >= restarted + 40);
}
