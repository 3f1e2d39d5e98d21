// TlsTransport on a real loop over loopback, both ends in one loop: a TLS
// listener's side (server) echoes what a backend-side client (client)
// sends; reading paused on the server with plaintext already decrypted
// resumes without a socket event; a failed handshake reaches both owners;
// handshakes are counted per listener; every handle closes.
#include <catch2/catch.hpp>

#include <ctime>
#include <memory>
#include <string>

#include "config/config_loader.h"
#include "lb/base/transport.h"
#include "lb/stats/tls_stats.h"
#include "lb/tls/client_context.h"
#include "lb/tls/server_context.h"
#include "lb/tls/tls_transport.h"
#include "tests/support/loop_harness.h"
#include "tests/support/test_certs.h"

using namespace ballast;
using ballast::test::certDir;
using ballast::test::TestLoop;

namespace {

std::shared_ptr<tls::ServerContext> serverContext() {
  auto r = config::loadConfigString(
      "listen: [{ address: 127.0.0.1:0, tls: { certificates: [{ cert: site.pem, key: site.key }] } }]\n"
      "pools: [{ name: web, backends: [] }]\n",
      certDir() + "/ballast.yaml");
  REQUIRE(r.ok());
  std::vector<config::ConfigError> errors;
  auto ctx = tls::ServerContext::build(*r.config->listen[0].tls, "x", std::time(nullptr), errors);
  REQUIRE(ctx);
  return ctx;
}

std::shared_ptr<tls::ClientContext> clientContext() {
  config::PoolTlsConfig cfg;
  cfg.ca_path = certDir() + "/ca.pem";
  std::vector<config::ConfigError> errors;
  auto ctx = tls::ClientContext::build(cfg, "x", errors);
  REQUIRE(ctx);
  return ctx;
}

// The accepted side: echoes everything; optionally pauses reading after
// the first read and resumes from a timer.
struct Echo : TransportUser {
  std::unique_ptr<Transport> t;
  char buf[4096];
  std::string pending;  // the bytes being written back
  uv_timer_t resume;
  bool pause_once = false;
  bool paused = false;
  int reads = 0, closed = 0, eof = 0, errors = 0;
  std::string received;

  uv_buf_t onTransportAlloc() override { return uv_buf_init(buf, sizeof buf); }
  void onTransportRead(ssize_t n) override {
    if (n < 0) {
      (n == UV_EOF ? eof : errors)++;
      t->close();
      return;
    }
    ++reads;
    received.append(buf, static_cast<size_t>(n));
    // The TLS transport has encrypted (copied) the bytes when write()
    // returns, so the next read may reuse the buffer even while the
    // ciphertext is still being written.
    pending.assign(buf, static_cast<size_t>(n));
    uv_buf_t b = uv_buf_init(pending.data(), static_cast<unsigned>(pending.size()));
    REQUIRE(t->write(&b, 1) >= 0);
    if (pause_once && !paused) {
      paused = true;
      t->readStop();
      uv_timer_start(&resume, [](uv_timer_t* h) { static_cast<Echo*>(h->data)->t->readStart(); }, 20, 0);
    }
  }
  void onTransportWriteDone(int status) override { REQUIRE(status == 0); }
  void onTransportClosed() override { ++closed; }
};

struct Sender : TransportUser {
  std::unique_ptr<Transport> t;
  uv_connect_t req;
  std::string out;
  std::string got;
  char buf[4096];
  int handshake_status = 1, closed = 0, write_done = 0;

  uv_buf_t onTransportAlloc() override { return uv_buf_init(buf, sizeof buf); }
  void onTransportRead(ssize_t n) override {
    if (n < 0) {
      t->close();
      return;
    }
    got.append(buf, static_cast<size_t>(n));
    if (got.size() == out.size()) t->shutdown();
  }
  void onTransportWriteDone(int status) override {
    REQUIRE(status == 0);
    ++write_done;
  }
  void onTransportHandshake(int status) override {
    handshake_status = status;
    if (status != 0) {
      t->close();
      return;
    }
    REQUIRE(t->readStart() == 0);
    uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
    REQUIRE(t->write(&b, 1) >= 0);
  }
  void onTransportShutdown(int) override {}
  void onTransportClosed() override { ++closed; }
};

struct Fixture {
  TestLoop loop;
  uv_tcp_t listener;
  Echo echo;
  Sender sender;
  std::shared_ptr<tls::ServerContext> sctx = serverContext();

  Fixture() {
    uv_tcp_init(loop.get(), &listener);
    listener.data = this;
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", 0, &a);
    REQUIRE(uv_tcp_bind(&listener, reinterpret_cast<sockaddr*>(&a), 0) == 0);
    REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener), 8, [](uv_stream_t* s, int status) {
              REQUIRE(status == 0);
              auto* f = static_cast<Fixture*>(s->data);
              f->echo.t = std::make_unique<tls::TlsTransport>(s->loop, f->echo, f->sctx, "test-listener");
              REQUIRE(uv_accept(s, f->echo.t->stream()) == 0);
              REQUIRE(f->echo.t->readStart() == 0);
            }) == 0);
    uv_timer_init(loop.get(), &echo.resume);
    echo.resume.data = &echo;
    tlsListenerStats()["test-listener"] = TlsListenerStats{};
  }
  ~Fixture() { tlsListenerStats().erase("test-listener"); }

  void connect(std::shared_ptr<tls::ClientContext> cctx, const std::string& host) {
    config::Address backend;
    backend.host = host;
    backend.text = host + ":443";
    sender.t = std::make_unique<tls::TlsTransport>(loop.get(), sender, std::move(cctx), backend);
    sockaddr_storage a{};
    int len = sizeof a;
    uv_tcp_getsockname(&listener, reinterpret_cast<sockaddr*>(&a), &len);
    sender.req.data = &sender;
    REQUIRE(uv_tcp_connect(&sender.req, sender.t->tcp(), reinterpret_cast<sockaddr*>(&a), [](uv_connect_t* r, int st) {
              REQUIRE(st == 0);
              auto* s = static_cast<Sender*>(r->data);
              REQUIRE(s->t->connected() == 1);
            }) == 0);
  }

  void closeAll() {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&echo.resume), nullptr);
  }
};

}  // namespace

TEST_CASE("TlsTransport: a client and a server transport echo 300 KB, and a paused reader resumes", "[tls][loop]") {
  Fixture f;
  f.echo.pause_once = GENERATE(false, true);
  f.sender.out.resize(300000);
  for (size_t i = 0; i < f.sender.out.size(); ++i) f.sender.out[i] = static_cast<char>('a' + i % 26);
  f.connect(clientContext(), "127.0.0.1");  // verified as an IP address (the site certificate has it)
  REQUIRE(f.loop.runUntil([&] { return f.echo.closed == 1 && f.sender.closed == 1; }));
  CHECK(f.sender.handshake_status == 0);
  CHECK(f.sender.got == f.sender.out);
  CHECK(f.echo.received == f.sender.out);
  CHECK(f.echo.eof == 1);  // close_notify then FIN from the client
  CHECK(f.echo.errors == 0);
  CHECK(f.echo.paused == f.echo.pause_once);
  const TlsListenerStats& st = tlsListenerStats()["test-listener"];
  CHECK(st.handshakes[static_cast<size_t>(HandshakeResult::Success)] == 1);
  CHECK(st.handshake_duration.count() == 1);
  f.closeAll();
  CHECK(f.loop.finish() == 0);
}

TEST_CASE("TlsTransport: a failed handshake reaches both owners and is counted", "[tls][loop]") {
  Fixture f;
  config::PoolTlsConfig cfg;
  cfg.ca_path = certDir() + "/ca.pem";
  cfg.sni = "nobody.test";  // the server's default certificate does not have this name
  std::vector<config::ConfigError> errors;
  f.connect(tls::ClientContext::build(cfg, "x", errors), "127.0.0.1");
  REQUIRE(f.loop.runUntil([&] { return f.echo.closed == 1 && f.sender.closed == 1; }));
  CHECK(f.sender.handshake_status < 0);
  CHECK(f.sender.t->error().find("certificate verify failed") != std::string::npos);
  CHECK(f.echo.reads == 0);
  CHECK(f.echo.errors + f.echo.eof == 1);
  const TlsListenerStats& st = tlsListenerStats()["test-listener"];
  CHECK(st.handshakes[static_cast<size_t>(HandshakeResult::Failure)] +
            st.handshakes[static_cast<size_t>(HandshakeResult::Closed)] ==
        1);
  CHECK(st.handshakes[static_cast<size_t>(HandshakeResult::Success)] == 0);
  f.closeAll();
  CHECK(f.loop.finish() == 0);
}
