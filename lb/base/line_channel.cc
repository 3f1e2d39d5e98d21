#include "lb/base/line_channel.h"

#include <unistd.h>

#include <memory>

namespace ballast {

namespace {

struct LineWrite {
  uv_write_t req;
  std::string bytes;
};

}  // namespace

LineChannel* LineChannel::open(uv_loop_t* loop, int fd, OnLine on_line, OnClose on_close) {
  auto* c = new LineChannel(std::move(on_line), std::move(on_close));
  uv_pipe_init(loop, &c->pipe_, 0);
  c->pipe_.data = c;
  if (uv_pipe_open(&c->pipe_, fd) != 0) {
    ::close(fd);
    c->closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe_),
             [](uv_handle_t* h) { delete static_cast<LineChannel*>(h->data); });
    return nullptr;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->pipe_), &LineChannel::onAlloc, &LineChannel::onRead);
  return c;
}

void LineChannel::send(std::string_view line) {
  if (closing_) return;
  auto* w = new LineWrite();
  w->bytes.reserve(line.size() + 1);
  w->bytes.append(line).push_back('\n');
  w->req.data = this;
  uv_buf_t b = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int err = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&pipe_), &b, 1, [](uv_write_t* req, int status) {
    auto* lw = reinterpret_cast<LineWrite*>(req);
    auto* self = static_cast<LineChannel*>(req->data);
    delete lw;
    // A cancelled write (close() ran) must not touch the channel: it is
    // being closed and its callback owns the object.
    if (status != 0 && status != UV_ECANCELED) self->fail();
  });
  if (err != 0) {
    delete w;
    fail();
  }
}

void LineChannel::fail() {
  if (closing_) return;
  OnClose cb = std::move(on_close_);
  on_close_ = nullptr;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe_));
  if (cb) cb();  // the owner then calls close()
}

void LineChannel::close() {
  if (closing_) return;
  // The callbacks stay: close() may be called from inside on_line_ (a
  // worker stopping on a forwarded signal), and destroying a std::function
  // while it runs is undefined. closing_ keeps them from being called again;
  // they go with the object in the close callback.
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), [](uv_handle_t* h) { delete static_cast<LineChannel*>(h->data); });
}

void LineChannel::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<LineChannel*>(h->data);
  *buf = uv_buf_init(self->buf_, sizeof self->buf_);
}

void LineChannel::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* self = static_cast<LineChannel*>(s->data);
  if (n < 0) {
    self->fail();
    return;
  }
  std::string_view data(buf->base, static_cast<size_t>(n));
  while (!data.empty() && !self->closing_) {
    const size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      self->in_.append(data);
      if (self->in_.size() > kMaxLine) self->fail();
      return;
    }
    std::string_view line = data.substr(0, nl);
    data.remove_prefix(nl + 1);
    if (!self->in_.empty()) {
      self->in_.append(line);
      std::string whole = std::move(self->in_);
      self->in_.clear();
      self->on_line_(whole);
    } else {
      self->on_line_(line);
    }
  }
}

std::string LineChannel::escapeField(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string LineChannel::unescapeField(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    out.push_back(c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c);
  }
  return out;
}

std::vector<std::string_view> LineChannel::split(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t t = line.find('\t');
    out.push_back(line.substr(0, t));
    if (t == std::string_view::npos) break;
    line.remove_prefix(t + 1);
  }
  return out;
}

}  // namespace ballast
