// Heap held by an idle server-side SSL, set up as lb/tls/server_context.cc
// does (SSL_MODE_RELEASE_BUFFERS, session cache off, tickets on or off),
// after a TLS 1.3 handshake with an in-memory client, one request read and
// one response written. Every OpenSSL allocation is tracked
// (CRYPTO_set_mem_functions); those made while the server side ran and
// still live once the connection is idle are summed per connection, by
// stage, by size and by OpenSSL source line. Not part of the build:
//   sh tests/support/make_test_certs.sh /tmp/certs ec
//   g++ -O1 -std=c++17 bench/ssl_idle_heap.cc -o /tmp/ssl_idle_heap -lssl -lcrypto
//   /tmp/ssl_idle_heap /tmp/certs/site.pem /tmp/certs/site.key [tickets 0|1]
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

static int stage = 0;  // 0 = not counted (client side, setup)
struct Info { size_t size; int stage; const char* file; int line; };
static std::unordered_map<void*, Info>* live;
static bool in_hook = false;
static void* m(size_t n, const char* file, int line) {
  void* p = malloc(n);
  if (!in_hook && stage) { in_hook = true; (*live)[p] = {n, stage, file, line}; in_hook = false; }
  return p;
}
static void* r(void* old, size_t n, const char* file, int line) {
  if (!in_hook && old) { in_hook = true; live->erase(old); in_hook = false; }
  void* p = realloc(old, n);
  if (!in_hook && stage) { in_hook = true; (*live)[p] = {n, stage, file, line}; in_hook = false; }
  return p;
}
static void f(void* p, const char*, int) {
  if (!in_hook && p) { in_hook = true; live->erase(p); in_hook = false; }
  free(p);
}

struct Pipe { std::string buf; };
static BIO_METHOD* meth;
static int bw(BIO* b, const char* d, int n) { BIO_clear_retry_flags(b); ((Pipe*)BIO_get_data(b))[1].buf.append(d, n); return n; }
static int br(BIO* b, char* d, int n) {
  BIO_clear_retry_flags(b);
  auto& in = ((Pipe*)BIO_get_data(b))[0].buf;
  if (in.empty()) { BIO_set_retry_read(b); return -1; }
  int k = std::min<int>(n, in.size()); memcpy(d, in.data(), k); in.erase(0, k); return k;
}
static long bc(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
static int bcreate(BIO* b) { BIO_set_init(b, 1); return 1; }

int main(int argc, char** argv) {
  live = new std::unordered_map<void*, Info>();
  live->reserve(1 << 20);
  CRYPTO_set_mem_functions(m, r, f);
  if (argc < 3) {
    fprintf(stderr, "usage: %s CERT KEY [tickets 0|1]\n", argv[0]);
    return 2;
  }
  const bool tickets = argc <= 3 || atoi(argv[3]) != 0;
  const int n = 500;
  meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pipe");
  BIO_meth_set_write(meth, bw); BIO_meth_set_read(meth, br); BIO_meth_set_ctrl(meth, bc); BIO_meth_set_create(meth, bcreate);
  SSL_CTX* sc = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
  SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
  if (!tickets) { SSL_CTX_set_options(sc, SSL_OP_NO_TICKET); SSL_CTX_set_num_tickets(sc, 0); }
  if (SSL_CTX_use_certificate_chain_file(sc, argv[1]) != 1 || SSL_CTX_use_PrivateKey_file(sc, argv[2], SSL_FILETYPE_PEM) != 1) { ERR_print_errors_fp(stderr); return 1; }
  SSL_CTX* cc = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_OFF);
  std::vector<SSL*> servers;
  std::vector<Pipe*> pipes;
  for (int i = 0; i < n; ++i) {
    Pipe* sp = new Pipe[2]; Pipe* cp = new Pipe[2];  // [0] in, [1] out
    pipes.push_back(sp);
    stage = 1;
    SSL* s = SSL_new(sc);
    BIO* sb = BIO_new(meth); BIO_set_data(sb, sp); SSL_set_bio(s, sb, sb);
    SSL_set_accept_state(s);
    stage = 0;
    SSL* c = SSL_new(cc);
    BIO* cb = BIO_new(meth); BIO_set_data(cb, cp); SSL_set_bio(c, cb, cb);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, "site.test");
    for (int k = 0; k < 10; ++k) {
      SSL_do_handshake(c);
      sp[0].buf += cp[1].buf; cp[1].buf.clear();
      stage = 2; SSL_do_handshake(s); stage = 0;
      cp[0].buf += sp[1].buf; sp[1].buf.clear();
    }
    if (!SSL_is_init_finished(s) || !SSL_is_init_finished(c)) { fprintf(stderr, "handshake did not finish\n"); return 1; }
    const char req[] = "GET / HTTP/1.1\r\nHost: rss\r\n\r\n";
    SSL_write(c, req, sizeof req - 1);
    sp[0].buf += cp[1].buf; cp[1].buf.clear();
    char buf[16384];
    stage = 3; int got = SSL_read(s, buf, sizeof buf); stage = 0;
    if (got <= 0) { fprintf(stderr, "server read failed\n"); return 1; }
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    stage = 4; SSL_write(s, resp, sizeof resp - 1); stage = 0;
    cp[0].buf += sp[1].buf; sp[1].buf.clear();
    SSL_read(c, buf, sizeof buf);  // tickets and response
    stage = 5; SSL_read(s, buf, sizeof buf); stage = 0;  // nothing: what an idle read costs
    SSL_free(c);
    delete[] cp;
    std::string().swap(sp[0].buf); std::string().swap(sp[1].buf);
    servers.push_back(s);
  }
  const char* names[] = {"", "SSL_new", "handshake", "first read", "first write", "idle read"};
  size_t by_stage[6] = {0};
  size_t count_stage[6] = {0};
  std::map<size_t, size_t> sizes;
  for (auto& [p, inf] : *live) { by_stage[inf.stage] += inf.size; ++count_stage[inf.stage]; sizes[inf.size] += 1; }
  size_t total = 0;
  for (int s = 1; s < 6; ++s) { total += by_stage[s]; printf("%-12s %7.0f B in %5.1f allocations per connection\n", names[s], (double)by_stage[s] / n, (double)count_stage[s] / n); }
  printf("total        %7.0f B per idle server SSL (tickets %s), OpenSSL %s\n", (double)total / n, tickets ? "on" : "off", OpenSSL_version(OPENSSL_VERSION));
  printf("largest live allocation sizes (bytes x count per connection):\n");
  std::vector<std::pair<size_t, size_t>> v;
  for (auto& [sz, c] : sizes) v.push_back({sz * c, sz});
  std::sort(v.rbegin(), v.rend());
  for (size_t i = 0; i < 14 && i < v.size(); ++i) printf("  %6zu B x %.2f = %6.0f B\n", v[i].second, (double)sizes[v[i].second] / n, (double)v[i].first / n);
  std::map<std::string, std::pair<size_t, size_t>> sites;
  for (auto& [p, inf] : *live) { auto& e = sites[std::string(inf.file ? inf.file : "?") + ":" + std::to_string(inf.line) + " (" + names[inf.stage] + ")"]; e.first += inf.size; e.second++; }
  std::vector<std::pair<size_t, std::string>> sv;
  for (auto& [k, e] : sites) sv.push_back({e.first, k});
  std::sort(sv.rbegin(), sv.rend());
  printf("live bytes by allocation site (OpenSSL source file:line), per connection:\n");
  for (size_t i = 0; i < 20 && i < sv.size(); ++i) printf("  %6.0f B  %s\n", (double)sv[i].first / n, sv[i].second.c_str());
  return 0;
}
