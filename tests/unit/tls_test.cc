// TLS without a loop: the config keys, certificate checks (chain, key
// match, expiry, names), SNI selection, and a client and a server session
// connected in memory (handshakes that succeed, fail, resume; data both
// ways; close_notify). Certificates are made at test time by
// tests/support/make_test_certs.sh; no key is committed.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "config/config_loader.h"
#include "lb/admin/metrics_render.h"
#include "lb/proxy/runtime.h"
#include "lb/stats/tls_stats.h"
#include "lb/tls/certificate.h"
#include "lb/tls/client_context.h"
#include "lb/tls/server_context.h"
#include "lb/tls/ticket_keys.h"
#include "lb/tls/tls_contexts.h"
#include "lb/tls/tls_metrics.h"
#include "lb/tls/tls_session.h"
#include "tests/support/test_certs.h"

using namespace ballast;
using config::ConfigError;
using config::loadConfigString;
using tls::TlsSession;
using ballast::test::certDir;

namespace {

// A config whose file lives in the certificate directory, so "site.pem" is
// found relative to it.
config::LoadResult load(const std::string& yaml) { return loadConfigString(yaml, certDir() + "/ballast.yaml"); }

std::vector<std::string> formatted(const std::vector<ConfigError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.format());
  return out;
}

std::string listenerYaml(const std::string& certs, const std::string& extra = "") {
  return "listen:\n  - address: 127.0.0.1:0\n    tls:\n      certificates: " + certs + "\n" + extra +
         "pools: [{ name: web, backends: [] }]\n";
}

std::shared_ptr<tls::ServerContext> serverContext(const std::string& certs, const std::string& extra = "",
                                                  std::vector<std::string>* errors_out = nullptr,
                                                  std::shared_ptr<tls::TicketKeys> keys = nullptr) {
  auto r = load(listenerYaml(certs, extra));
  REQUIRE(formatted(r.errors) == std::vector<std::string>{});
  std::vector<ConfigError> errors;
  auto ctx = tls::ServerContext::build(*r.config->listen[0].tls, r.config->source_path,
                                       static_cast<int64_t>(std::time(nullptr)), errors, std::move(keys));
  if (errors_out != nullptr) *errors_out = formatted(errors);
  return ctx;
}

std::shared_ptr<tls::ClientContext> clientContext(const std::string& sni, bool verify = true) {
  config::PoolTlsConfig cfg;
  cfg.verify = verify;
  cfg.ca_path = certDir() + "/ca.pem";
  cfg.ca = "ca.pem";
  cfg.sni = sni;
  std::vector<ConfigError> errors;
  auto ctx = tls::ClientContext::build(cfg, "test.yaml", errors);
  REQUIRE(errors.empty());
  return ctx;
}

config::Address backend(const std::string& host) {
  config::Address a;
  a.host = host;
  a.text = host + ":443";
  a.port = 443;
  return a;
}

// Moves ciphertext between the two sessions until neither has more to
// say. Returns the number of flights.
int pump(TlsSession& client, TlsSession& server) {
  int flights = 0;
  for (int i = 0; i < 20; ++i) {
    client.handshake();
    if (client.hasOutput()) {
      std::string bytes = client.takeOutput();
      server.feed(bytes.data(), bytes.size());
      ++flights;
    }
    server.handshake();
    if (!server.hasOutput()) break;
    std::string bytes = server.takeOutput();
    client.feed(bytes.data(), bytes.size());
    ++flights;
  }
  return flights;
}

// Everything `from` has to send, read as plaintext by `to`.
std::string transfer(TlsSession& from, TlsSession& to) {
  std::string bytes = from.takeOutput();
  to.feed(bytes.data(), bytes.size());
  std::string plain;
  char buf[4096];
  ssize_t n;
  while ((n = to.read(buf, sizeof buf)) > 0) plain.append(buf, static_cast<size_t>(n));
  return plain;
}

// The first subjectAltName DNS name of the certificate the client received.
std::string peerName(const TlsSession& client) {
  X509* peer = SSL_get0_peer_certificate(client.ssl());
  if (peer == nullptr) return "";
  for (const char* n : {"site.test", "api.test", "x.wild.test", "expired.test"}) {
    if (X509_check_host(peer, n, 0, 0, nullptr) == 1) return n;
  }
  return "?";
}

const std::string kThree = "[{ cert: site.pem, key: site.key }, { cert: api.pem, key: api.key }, "
                           "{ cert: wild.pem, key: wild.key }]";

}  // namespace

TEST_CASE("listen entries are a string or { address, tls }, with TLS defaults and paths relative to the config", "[tls][config]") {
  auto r = loadConfigString(R"(listen:
  - 127.0.0.1:8080
  - address: 127.0.0.1:8443
    tls:
      certificates:
        - { cert: certs/site.pem, key: certs/site.key }
        - { cert: /abs/api.pem, key: /abs/api.key }
pools:
  - name: web
    tls: { ca: certs/ca.pem, sni: backend.internal }
    backends: []
  - name: plain
    backends: []
routes: [{ pool: web }]
)",
                            "/etc/ballast/ballast.yaml");
  REQUIRE(formatted(r.errors) == std::vector<std::string>{});
  const config::Config& c = *r.config;
  REQUIRE(c.listen.size() == 2);
  CHECK(!c.listen[0].tls);
  CHECK(c.listen[1].text == "127.0.0.1:8443");
  REQUIRE(c.listen[1].tls);
  const auto& t = *c.listen[1].tls;
  REQUIRE(t.certificates.size() == 2);
  CHECK(t.certificates[0].cert == "certs/site.pem");
  CHECK(t.certificates[0].cert_path == "/etc/ballast/certs/site.pem");
  CHECK(t.certificates[0].key_path == "/etc/ballast/certs/site.key");
  CHECK(t.certificates[1].cert_path == "/abs/api.pem");
  CHECK(t.certificates[0].where.path == "listen[1].tls.certificates[0]");
  CHECK(t.certificates[0].where.line == 6);
  CHECK(t.min_version == config::TlsVersion::Tls12);
  CHECK(t.alpn == std::vector<std::string>{"http/1.1"});
  CHECK(t.session_tickets);
  CHECK(t.ciphers.empty());
  REQUIRE(c.pools[0].tls);
  CHECK(c.pools[0].usesTls());
  CHECK(c.pools[0].tls->verify);
  CHECK(c.pools[0].tls->ca_path == "/etc/ballast/certs/ca.pem");
  CHECK(c.pools[0].tls->sni == "backend.internal");
  CHECK(!c.pools[1].usesTls());

  auto off = loadConfigString("pools: [{ name: web, tls: { enabled: false, verify: false }, backends: [] }]\n");
  REQUIRE(off.ok());
  CHECK(!off.config->pools[0].usesTls());

  auto one = loadConfigString(R"(listen: { address: 127.0.0.1:0, tls: { certificates: [{ cert: a, key: b }],
  min_version: TLSv1.3, ciphers: "ECDHE+AESGCM", alpn: [], session_tickets: false } }
pools: [{ name: web, backends: [] }]
)");
  REQUIRE(formatted(one.errors) == std::vector<std::string>{});
  const auto& t1 = *one.config->listen[0].tls;
  CHECK(t1.min_version == config::TlsVersion::Tls13);
  CHECK(t1.ciphers == "ECDHE+AESGCM");
  CHECK(t1.alpn.empty());
  CHECK(!t1.session_tickets);
}

TEST_CASE("TLS config errors name the file, line, column and key", "[tls][config]") {
  struct Case {
    const char* name;
    std::string yaml;
    std::vector<std::string> errors;
  };
  const std::string pools = "pools: [{ name: web, backends: [] }]\n";
  const std::vector<Case> cases = {
      {"unknown key in tls, with a suggestion",
       "listen: [{ address: 127.0.0.1:0, tls: { certificate: [] } }]\n" + pools,
       {"<string>:1:39: listen[0].tls.certificates: missing required key",
        "<string>:1:41: listen[0].tls.certificate: unknown key (did you mean \"certificates\"?)"}},
      {"unknown key in a listen entry",
       "listen: [{ address: 127.0.0.1:0, tsl: {} }]\n" + pools,
       {"<string>:1:34: listen[0].tsl: unknown key (did you mean \"tls\"?)"}},
      {"certificate entry: missing key, unknown key",
       "listen: [{ address: 127.0.0.1:0, tls: { certificates: [{ cert: a.pem, kye: a.key }] } }]\n" + pools,
       {"<string>:1:56: listen[0].tls.certificates[0].key: missing required key",
        "<string>:1:71: listen[0].tls.certificates[0].kye: unknown key (did you mean \"key\"?)"}},
      {"no certificates",
       "listen: [{ address: 127.0.0.1:0, tls: { certificates: [] } }]\n" + pools,
       {"<string>:1:55: listen[0].tls.certificates: at least one certificate is required"}},
      {"bad version, h2, empty ciphers, non-boolean tickets",
       "listen: [{ address: 127.0.0.1:0, tls: { certificates: [{ cert: a, key: b }], min_version: TLSv1.1, "
       "alpn: [h2], ciphers: \"\", session_tickets: yes } }]\n" + pools,
       {"<string>:1:91: listen[0].tls.min_version: unknown TLS version \"TLSv1.1\" (allowed: TLSv1.2, TLSv1.3)",
        "<string>:1:107: listen[0].tls.alpn[0]: unsupported ALPN protocol \"h2\" (allowed: http/1.1)",
        "<string>:1:121: listen[0].tls.ciphers: expected an OpenSSL cipher list, got an empty string",
        "<string>:1:142: listen[0].tls.session_tickets: expected true or false, got \"yes\""}},
      {"listen address missing",
       "listen: [{ tls: { certificates: [{ cert: a, key: b }] } }]\n" + pools,
       {"<string>:1:10: listen[0].address: missing required key"}},
      {"pool tls: unknown key, bad sni, empty ca",
       "pools: [{ name: web, tls: { verfy: false, sni: 10.0.0.1, ca: \"\" }, backends: [] }]\n",
       {"<string>:1:29: pools[0].tls.verfy: unknown key (did you mean \"verify\"?)",
        "<string>:1:48: pools[0].tls.sni: expected a DNS host name, got \"10.0.0.1\"",
        "<string>:1:62: pools[0].tls.ca: expected a file path, got an empty string"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(formatted(loadConfigString(c.yaml).errors) == c.errors);
  }
}

TEST_CASE("pickCertificate: exact name first, then a one-label wildcard, else the default", "[tls]") {
  const std::vector<std::vector<std::string>> names = {
      {"site.test", "localhost"}, {"*.wild.test"}, {"api.test"}, {"exact.wild.test"}};
  CHECK(tls::pickCertificate(names, "api.test") == 2);
  CHECK(tls::pickCertificate(names, "API.Test") == 2);
  CHECK(tls::pickCertificate(names, "exact.wild.test") == 3);  // exact beats an earlier wildcard
  CHECK(tls::pickCertificate(names, "a.wild.test") == 1);
  CHECK(tls::pickCertificate(names, "a.b.wild.test") == 0);  // one label only
  CHECK(tls::pickCertificate(names, "wild.test") == 0);
  CHECK(tls::pickCertificate(names, "unknown.test") == 0);
  CHECK(tls::pickCertificate(names, "") == 0);
}

TEST_CASE("certificates are checked at load: key match, expiry, chain, names, files, ciphers", "[tls]") {
  std::vector<std::string> errors;
  SECTION("three good certificates") {
    auto ctx = serverContext(kThree, "", &errors);
    CHECK(errors.empty());
    REQUIRE(ctx);
    REQUIRE(ctx->certificates().size() == 3);
    CHECK(ctx->certificates()[0].label == "site.pem");
    CHECK(ctx->certificates()[0].names == std::vector<std::string>{"site.test", "localhost"});
    CHECK(ctx->certificates()[2].names == std::vector<std::string>{"*.wild.test"});
    // 825 days from now, give or take the test's run time.
    CHECK(ctx->certificates()[0].not_after > std::time(nullptr) + 800 * 86400);
  }
  SECTION("a chain in order is accepted; its expiry is the earliest") {
    CHECK(serverContext("[{ cert: chain.pem, key: site.key }]", "", &errors));
    CHECK(errors.empty());
  }
  SECTION("each problem names the config place and the certificate file") {
    CHECK(!serverContext("[{ cert: api.pem, key: site.key }]", "", &errors));
    CHECK(errors == std::vector<std::string>{certDir() + "/ballast.yaml:4:22: listen[0].tls.certificates[0]: "
                                                         "api.pem: key does not match certificate (key site.key)"});
    CHECK(!serverContext("[{ cert: site.pem, key: site.key }, { cert: expired.pem, key: expired.key }]", "", &errors));
    CHECK(errors == std::vector<std::string>{certDir() + "/ballast.yaml:4:57: listen[0].tls.certificates[1]: "
                                                         "expired.pem: expired on 2021-01-01"});
    CHECK(!serverContext("[{ cert: badchain.pem, key: api.key }]", "", &errors));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("badchain.pem: chain certificate 2 did not issue certificate 1 (the chain "
                                          "must go leaf first, then each issuer)"));
    CHECK(!serverContext("[{ cert: missing.pem, key: site.key }]", "", &errors));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("missing.pem: cannot read: No such file or directory"));
    CHECK(!serverContext("[{ cert: site.key, key: site.key }]", "", &errors));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("site.key: no PEM certificate in the file"));
    CHECK(!serverContext("[{ cert: site.pem, key: site.pem }]", "", &errors));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::EndsWith("site.pem: no PEM private key in the file (or it is encrypted)"));
    CHECK(!serverContext("[{ cert: site.pem, key: site.key }]", "      ciphers: NOT-A-CIPHER\n", &errors));
    CHECK(errors == std::vector<std::string>{certDir() + "/ballast.yaml:5:16: listen[0].tls.ciphers: "
                                                         "no cipher matches \"NOT-A-CIPHER\""});
  }
  SECTION("a CA file that holds no certificate") {
    auto r = load("pools: [{ name: web, tls: { ca: site.key }, backends: [] }]\n");
    REQUIRE(r.ok());
    tls::TlsContexts out;
    std::vector<ConfigError> errs;
    CHECK(!tls::buildTlsContexts(*r.config, std::time(nullptr), errs, out));
    CHECK(formatted(errs) == std::vector<std::string>{certDir() + "/ballast.yaml:1:33: pools[0].tls.ca: site.key: "
                                                                  "cannot read a PEM CA certificate from it"});
    CHECK(out.pools.empty());
  }
}

TEST_CASE("a client and a server session in memory: SNI picks the certificate, data flows both ways", "[tls]") {
  auto server_ctx = serverContext(kThree);
  REQUIRE(server_ctx);
  struct Case {
    const char* sni;  // "" = none
    const char* served;
  };
  for (const Case c : {Case{"api.test", "api.test"}, Case{"x.wild.test", "x.wild.test"},
                       Case{"site.test", "site.test"}, Case{"", "site.test"}, Case{"nobody.test", "site.test"}}) {
    INFO(c.sni);
    // Verification on (against the test CA) where the served name is what
    // the client asked for; the default is checked by name below.
    auto client_ctx = clientContext(c.sni, /*verify=*/std::string(c.sni) == c.served);
    TlsSession client(client_ctx->newSsl(backend(c.sni[0] ? c.sni : "127.0.0.1")));
    TlsSession server(server_ctx->newSsl());
    pump(client, server);
    REQUIRE(client.state() == TlsSession::State::Open);
    REQUIRE(server.state() == TlsSession::State::Open);
    CHECK(peerName(client) == c.served);
    CHECK(server.serverName() == c.sni);
    CHECK(server.alpn() == "http/1.1");
    CHECK(client.alpn() == "http/1.1");
    CHECK(server.protocol() == "TLSv1.3");
    CHECK(!server.cipher().empty());
    CHECK(!server.resumed());

    REQUIRE(client.write("GET / HTTP/1.1\r\n\r\n", 18));
    CHECK(transfer(client, server) == "GET / HTTP/1.1\r\n\r\n");
    const std::string big(100000, 'x');  // several records
    REQUIRE(server.write(big.data(), big.size()));
    CHECK(transfer(server, client) == big);

    // close_notify: the peer's read reports Closed.
    server.shutdown();
    CHECK(server.hasOutput());
    CHECK(transfer(server, client).empty());
    CHECK(client.state() == TlsSession::State::Closed);
  }
}

TEST_CASE("failed handshakes: wrong name, protocol floor, no shared ALPN, garbage, early EOF", "[tls]") {
  auto server_ctx = serverContext(kThree);
  SECTION("the client verifies a name the certificate does not have") {
    auto client_ctx = clientContext("other.test");  // SNI other.test -> default cert (site.test)
    TlsSession client(client_ctx->newSsl(backend("other.test")));
    TlsSession server(server_ctx->newSsl());
    pump(client, server);
    CHECK(client.state() == TlsSession::State::Failed);
    CHECK_THAT(client.error(), Catch::Contains("certificate verify failed"));
    CHECK(server.state() == TlsSession::State::Failed);
  }
  SECTION("TLS 1.3 only against a TLS 1.2 client") {
    auto strict = serverContext("[{ cert: site.pem, key: site.key }]", "      min_version: TLSv1.3\n");
    auto client_ctx = clientContext("site.test");
    tls::SslPtr ssl = client_ctx->newSsl(backend("site.test"));
    SSL_set_max_proto_version(ssl.get(), TLS1_2_VERSION);
    TlsSession client(std::move(ssl));
    TlsSession server(strict->newSsl());
    pump(client, server);
    CHECK(server.state() == TlsSession::State::Failed);
    CHECK_THAT(server.error(), Catch::Contains("unsupported protocol"));
    CHECK(client.state() == TlsSession::State::Failed);
  }
  SECTION("a client that speaks only h2") {
    auto client_ctx = clientContext("site.test");
    tls::SslPtr ssl = client_ctx->newSsl(backend("site.test"));
    static const unsigned char kH2[] = "\x02h2";
    SSL_set_alpn_protos(ssl.get(), kH2, 3);
    TlsSession client(std::move(ssl));
    TlsSession server(server_ctx->newSsl());
    pump(client, server);
    CHECK(server.state() == TlsSession::State::Failed);
    CHECK_THAT(client.error(), Catch::Contains("no application protocol"));
  }
  SECTION("plain HTTP sent to a TLS listener") {
    TlsSession server(server_ctx->newSsl());
    const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    server.feed(get.data(), get.size());
    CHECK(server.handshake() == TlsSession::State::Failed);
    CHECK(!server.error().empty());
    TlsListenerStats st;
    tls::recordHandshake(st, server, 0.001);
    CHECK(st.handshakes[static_cast<size_t>(HandshakeResult::Failure)] == 1);
    CHECK(st.handshake_duration.count() == 0);
  }
  SECTION("the client leaves in the middle of the handshake") {
    TlsSession server(server_ctx->newSsl());
    auto client_ctx = clientContext("site.test");
    TlsSession client(client_ctx->newSsl(backend("site.test")));
    client.handshake();
    std::string hello = client.takeOutput();
    server.feed(hello.data(), hello.size() / 2);
    CHECK(server.handshake() == TlsSession::State::Handshaking);
    server.feedEof();
    CHECK(server.handshake() == TlsSession::State::Failed);
  }
}

TEST_CASE("session tickets: a second connection resumes, across a rebuilt context with the same keys", "[tls]") {
  auto server_ctx = serverContext(kThree);
  auto client_ctx = clientContext("api.test");
  const auto connect = [&](const std::shared_ptr<tls::ServerContext>& sctx) {
    TlsSession client(client_ctx->newSsl(backend("api.test")));
    TlsSession server(sctx->newSsl());
    pump(client, server);
    REQUIRE(server.state() == TlsSession::State::Open);
    // TLS 1.3 tickets arrive after the handshake: the client reads them.
    REQUIRE(server.write("ok", 2));
    CHECK(transfer(server, client) == "ok");
    return std::pair{client.resumed(), server.resumed()};
  };
  CHECK(connect(server_ctx) == std::pair{false, false});
  CHECK(client_ctx->cachedSessions() == 1);
  CHECK(connect(server_ctx) == std::pair{true, true});

  TlsListenerStats st;
  {
    TlsSession client(client_ctx->newSsl(backend("api.test")));
    TlsSession server(server_ctx->newSsl());
    pump(client, server);
    tls::recordHandshake(st, server, 0.002);
  }
  CHECK(st.handshakes[static_cast<size_t>(HandshakeResult::Resumed)] == 1);
  CHECK(st.handshake_duration.count() == 1);
  REQUIRE(st.negotiated.size() == 1);
  CHECK(st.negotiated.begin()->first.first == "TLSv1.3");

  // A reload keeps the ticket keys: resumption goes on.
  auto reloaded = serverContext(kThree, "", nullptr, server_ctx->ticketKeys());
  CHECK(connect(reloaded) == std::pair{true, true});
  // A new ring (a restart) cannot decrypt old tickets: a full handshake.
  auto restarted = serverContext(kThree);
  CHECK(connect(restarted).second == false);
  // Tickets off: never resumed.
  auto off = serverContext(kThree, "      session_tickets: false\n");
  CHECK(connect(off).second == false);
  CHECK(connect(off).second == false);
}

TEST_CASE("ticket keys rotate: the newest encrypts, older ones still decrypt, the oldest falls off", "[tls]") {
  tls::TicketKeys keys(100);
  const tls::TicketKeys::Key first = keys.current(1000);
  CHECK(keys.current(1099).name == first.name);  // not due yet
  const tls::TicketKeys::Key second = keys.current(1100);
  CHECK(second.name != first.name);
  bool is_current = true;
  REQUIRE(keys.find(first.name.data(), is_current) != nullptr);
  CHECK(!is_current);
  REQUIRE(keys.find(second.name.data(), is_current) != nullptr);
  CHECK(is_current);
  keys.current(1200);
  keys.current(1300);
  CHECK(keys.size() == tls::TicketKeys::kKeys);
  CHECK(keys.find(first.name.data(), is_current) == nullptr);
  CHECK(keys.find(second.name.data(), is_current) != nullptr);
}

TEST_CASE("an idle session holds no ciphertext buffer", "[tls]") {
  auto server_ctx = serverContext(kThree);
  auto client_ctx = clientContext("site.test");
  TlsSession client(client_ctx->newSsl(backend("site.test")));
  TlsSession server(server_ctx->newSsl());
  pump(client, server);
  REQUIRE(client.write("ping", 4));
  CHECK(transfer(client, server) == "ping");
  CHECK(!server.hasOutput());
  CHECK(SSL_get_mode(server.ssl()) & SSL_MODE_RELEASE_BUFFERS);
  // Bytes fed but not yet taken are kept; once taken, the buffer is freed.
  CHECK(BIO_ctrl_pending(SSL_get_rbio(server.ssl())) == 0);
}

TEST_CASE("TLS metrics: handshakes by result, duration, protocol and cipher, certificate expiry", "[tls][metrics]") {
  auto r = loadConfigString("listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\npools: [{ name: web, backends: [] }]\n");
  REQUIRE(r.ok());
  auto rt = Runtime::build(*r.config, 0);
  TlsListenerStats& st = tlsListenerStats()["127.0.0.1:8443"];
  st = TlsListenerStats{};
  ++st.handshakes[static_cast<size_t>(HandshakeResult::Success)];
  ++st.handshakes[static_cast<size_t>(HandshakeResult::Timeout)];
  st.handshake_duration.observe(0.003);
  st.recordNegotiated("TLSv1.3", "TLS_AES_256_GCM_SHA384");
  st.certificates = {{"certs/site.pem", 1800000000}};
  const std::string text = renderMetrics(*rt, 0);
  tlsListenerStats().clear();
  for (const char* line : {
           R"(ballast_tls_handshakes_total{listener="127.0.0.1:8443",result="success"} 1)",
           R"(ballast_tls_handshakes_total{listener="127.0.0.1:8443",result="timeout"} 1)",
           R"(ballast_tls_handshakes_total{listener="127.0.0.1:8443",result="failure"} 0)",
           R"(ballast_tls_handshake_duration_seconds_bucket{listener="127.0.0.1:8443",le="0.005"} 1)",
           R"(ballast_tls_negotiated_total{listener="127.0.0.1:8443",protocol="TLSv1.3",cipher="TLS_AES_256_GCM_SHA384"} 1)",
           R"(ballast_tls_certificate_expiry_timestamp_seconds{listener="127.0.0.1:8443",cert="certs/site.pem"} 1800000000)",
       }) {
    INFO(line);
    CHECK(text.find(std::string("\n") + line + "\n") != std::string::npos);
  }
}
