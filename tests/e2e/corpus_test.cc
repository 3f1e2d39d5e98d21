// The request corpus (tests/data/requests/*.http): each file is one raw
// request and the status ballast must answer it with. Smuggling vectors,
// malformed request lines, bad hosts and framing tricks are refused and
// reach no backend; what is accepted reaches the backend as exactly one
// well-formed message with unambiguous framing. New cases are new files.
//
// File format: lines starting with '#' are metadata ("# expect: 400",
// "# why: ..."); every other line is request bytes with the escapes
// backslash-r, -n, -t, -backslash and -xHH, and the file's own line breaks are
// not part of the request.
#include <catch2/catch.hpp>
#include <llhttp.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <mutex>

#include "tests/support/harness.h"

using namespace ballast::test;
using namespace std::chrono_literals;

namespace {

struct Case {
  std::string name;
  std::string why;
  int expect = 0;
  std::string bytes;
};

Case loadCase(const std::string& path) {
  Case c;
  c.name = path.substr(path.rfind('/') + 1);
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') {
      if (line.rfind("# expect: ", 0) == 0) c.expect = std::stoi(line.substr(10));
      if (line.rfind("# why: ", 0) == 0) c.why = line.substr(7);
      continue;
    }
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] != '\\' || i + 1 >= line.size()) {
        c.bytes += line[i];
        continue;
      }
      const char e = line[++i];
      if (e == 'r') {
        c.bytes += '\r';
      } else if (e == 'n') {
        c.bytes += '\n';
      } else if (e == 't') {
        c.bytes += '\t';
      } else if (e == 'x') {
        c.bytes += static_cast<char>(std::stoi(line.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        c.bytes += e;  // "\\" and anything else: the character itself
      }
    }
  }
  return c;
}

std::vector<Case> loadCorpus() {
  const std::string dir = std::string(BALLAST_SOURCE_DIR) + "/tests/data/requests";
  std::vector<Case> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.substr(n.size() - 5) == ".http") out.push_back(loadCase(dir + "/" + n));
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return out;
}

// Parses `bytes` as requests: the number of complete messages, whether any
// head carried both Content-Length and Transfer-Encoding, and whether all
// bytes were consumed without error.
struct Parsed {
  int messages = 0;
  bool error = false;
  bool cl_and_te = false;
};
Parsed parseRequests(const std::string& bytes) {
  struct State {
    int messages = 0;
    bool cl = false;
    bool te = false;
    bool cl_and_te = false;
    std::string field;
  } st;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
    static_cast<State*>(p->data)->field.append(at, len);
    return 0;
  };
  s.on_header_value_complete = [](llhttp_t* p) {
    auto* st = static_cast<State*>(p->data);
    const std::string f = toLower(st->field);
    st->cl = st->cl || f == "content-length";
    st->te = st->te || f == "transfer-encoding";
    st->field.clear();
    return 0;
  };
  s.on_headers_complete = [](llhttp_t* p) {
    auto* st = static_cast<State*>(p->data);
    st->cl_and_te = st->cl_and_te || (st->cl && st->te);
    st->cl = st->te = false;
    return 0;
  };
  s.on_message_complete = [](llhttp_t* p) {
    ++static_cast<State*>(p->data)->messages;
    return 0;
  };
  llhttp_t p;
  llhttp_init(&p, HTTP_REQUEST, &s);
  p.data = &st;
  Parsed out;
  out.error = llhttp_execute(&p, bytes.data(), bytes.size()) != HPE_OK;
  out.messages = st.messages;
  out.cl_and_te = st.cl_and_te;
  return out;
}

}  // namespace

TEST_CASE("request corpus: each request gets its status, and the backend gets nothing or one well-formed message",
          "[corpus][hardening]") {
  const std::vector<Case> corpus = loadCorpus();
  REQUIRE(corpus.size() >= 40);
  std::mutex mu;
  std::vector<FakeRequest> received;
  FakeServer backend([&](const FakeRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    received.push_back(r);
    return FakeReply::respond(200, "ok");
  });
  TempDir dir;
  Ballast lb(dir, webConfig({backend.address()}, "timeouts: { client_header: 2s }\n"));
  for (const Case& c : corpus) {
    INFO(c.name << ": " << c.why);
    REQUIRE(c.expect != 0);
    size_t before;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = received.size();
    }
    Client client(lb.port(), 5000ms);
    client.sendAll(c.bytes);
    Response r = client.readResponse();
    INFO(r.describe());
    CHECK(r.status == c.expect);
    std::vector<FakeRequest> got;
    {
      std::lock_guard<std::mutex> lock(mu);
      got.assign(received.begin() + static_cast<long>(before), received.end());
    }
    if (c.expect >= 400) {
      CHECK(got.empty());
      // A refused request closes the connection (nothing after it is read as
      // another request).
      if (c.expect != 404) CHECK(client.readUntilClose(3000ms).empty());
    } else {
      REQUIRE(got.size() == 1);
      const std::string forwarded = got[0].head + got[0].body;
      INFO("forwarded:\n" << forwarded);
      Parsed p = parseRequests(forwarded);
      CHECK_FALSE(p.error);
      CHECK(p.messages == 1);
      CHECK_FALSE(p.cl_and_te);
      CHECK(r.body == "ok");
    }
  }
}
