#include "lb/server/admin_fetch.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace ballast {

struct AdminFetcher::Call {
  AdminFetcher* owner;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t connect;
  uv_write_t write;
  std::string request;
  std::string answer;
  Done done;
  uint64_t timeout_ms = 0;
  int closes = 0;
  bool finished = false;

  void closeHandles() {
    closes = 2;
    auto cb = [](uv_handle_t* h) {
      auto* c = static_cast<Call*>(h->data);
      if (--c->closes == 0) delete c;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), cb);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), cb);
  }
};

AdminFetcher::~AdminFetcher() { closeAll(); }

void AdminFetcher::closeAll() {
  std::vector<Call*> calls;
  calls.swap(live_);
  for (Call* c : calls) {
    c->finished = true;
    c->closeHandles();
  }
}

void AdminFetcher::finish(Call* c, AdminFetchResult r) {
  if (c->finished) return;
  c->finished = true;
  live_.erase(std::remove(live_.begin(), live_.end(), c), live_.end());
  Done done = std::move(c->done);
  c->closeHandles();
  if (done) done(std::move(r));
}

void AdminFetcher::fetch(int port, std::string request, uint64_t timeout_ms, Done done) {
  auto* c = new Call();
  c->owner = this;
  c->request = std::move(request);
  c->done = std::move(done);
  c->timeout_ms = timeout_ms;
  uv_tcp_init(loop_, &c->tcp);
  uv_timer_init(loop_, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->connect.data = c;
  c->write.data = c;
  live_.push_back(c);
  uv_timer_start(
      &c->timer,
      [](uv_timer_t* t) {
        auto* call = static_cast<Call*>(t->data);
        AdminFetchResult r;
        r.error = "no answer within " + std::to_string(call->timeout_ms / 1000) + " s";
        call->owner->finish(call, std::move(r));
      },
      timeout_ms, 0);
  sockaddr_in sa{};
  uv_ip4_addr("127.0.0.1", port, &sa);
  int err = uv_tcp_connect(&c->connect, &c->tcp, reinterpret_cast<const sockaddr*>(&sa), [](uv_connect_t* req, int status) {
    auto* call = static_cast<Call*>(req->data);
    if (call->finished) return;
    if (status != 0) {
      AdminFetchResult r;
      r.error = std::string("connect: ") + uv_strerror(status);
      call->owner->finish(call, std::move(r));
      return;
    }
    uv_buf_t b = uv_buf_init(call->request.data(), static_cast<unsigned>(call->request.size()));
    uv_write(&call->write, reinterpret_cast<uv_stream_t*>(&call->tcp), &b, 1, [](uv_write_t* w, int st) {
      auto* x = static_cast<Call*>(w->data);
      if (st != 0 && !x->finished) {
        AdminFetchResult r;
        r.error = std::string("write: ") + uv_strerror(st);
        x->owner->finish(x, std::move(r));
      }
    });
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&call->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* x = static_cast<Call*>(h->data);
          const size_t old = x->answer.size();
          x->answer.resize(old + 65536);
          *buf = uv_buf_init(x->answer.data() + old, 65536);
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
          auto* x = static_cast<Call*>(s->data);
          // The buffer was appended in full by the alloc callback: keep what was read.
          x->answer.resize(x->answer.size() - 65536 + static_cast<size_t>(std::max<ssize_t>(n, 0)));
          if (x->finished) return;
          if (n == UV_EOF) {
            x->owner->finish(x, parse(x->answer));
          } else if (n < 0) {
            AdminFetchResult r;
            r.error = std::string("read: ") + uv_strerror(static_cast<int>(n));
            x->owner->finish(x, std::move(r));
          } else if (x->answer.size() > kMaxAnswerBytes) {
            AdminFetchResult r;
            r.error = "answer larger than " + std::to_string(kMaxAnswerBytes >> 20) + " MiB";
            x->owner->finish(x, std::move(r));
          }
        });
  });
  if (err != 0) {
    // Reported from the loop, never from inside fetch().
    c->request = std::string("connect: ") + uv_strerror(err);
    uv_timer_start(
        &c->timer,
        [](uv_timer_t* t) {
          auto* call = static_cast<Call*>(t->data);
          AdminFetchResult r;
          r.error = call->request;
          call->owner->finish(call, std::move(r));
        },
        0, 0);
  }
}

AdminFetchResult AdminFetcher::parse(const std::string& bytes) {
  AdminFetchResult r;
  const size_t end = bytes.find("\r\n\r\n");
  if (bytes.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos || bytes.size() < 12) {
    r.error = bytes.empty() ? "closed without an answer" : "not an HTTP/1.1 answer";
    return r;
  }
  r.status = std::atoi(bytes.substr(9, 3).c_str());
  std::string_view head(bytes.data(), end);
  size_t content_length = std::string::npos;
  size_t pos = head.find("\r\n") + 2;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (lower == "content-length") {
      content_length = static_cast<size_t>(std::strtoull(std::string(value).c_str(), nullptr, 10));
    } else if (lower == "content-type") {
      r.content_type = std::string(value);
    } else if (lower != "connection" && lower != "date" && lower != "server" && lower != "transfer-encoding") {
      r.headers.emplace_back(std::move(name), std::string(value));
    }
  }
  r.body = bytes.substr(end + 4);
  if (content_length != std::string::npos) {
    if (r.body.size() < content_length) {
      r.status = 0;
      r.error = "answer cut short: " + std::to_string(r.body.size()) + " of " + std::to_string(content_length) +
                " body bytes";
      r.body.clear();
      return r;
    }
    r.body.resize(content_length);
  }
  return r;
}

}  // namespace ballast
