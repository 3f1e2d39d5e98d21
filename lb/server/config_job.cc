#include "lb/server/config_job.h"

#include <csignal>
#include <cstring>

#include "config/config_loader.h"
#include "config/duration.h"
#include "lb/base/file_hash.h"
#include "lb/server/check_limits.h"

namespace ballast {

namespace {

constexpr size_t kMaxChildOutput = 64 * 1024;  // of each stream; the rest is dropped

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) out.push_back(std::move(line));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return out;
}

}  // namespace

ConfigLoadJob::ConfigLoadJob(uv_loop_t* loop, std::string exe, std::string path, Done done)
    : loop_(loop), exe_(std::move(exe)), path_(std::move(path)), done_(std::move(done)) {
  out_.job = err_.job = this;
  work_.data = this;
}

ConfigLoadJob::~ConfigLoadJob() = default;

void ConfigLoadJob::start() {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  ++open_handles_;
  for (Pipe* p : {&out_, &err_}) {
    uv_pipe_init(loop_, &p->handle, 0);
    p->handle.data = p;
    p->open = true;
    ++open_handles_;
  }
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&out_.handle);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&err_.handle);
  std::string arg0 = "ballast", arg1 = "--check", arg2 = "--config";
  char* args[] = {arg0.data(), arg1.data(), arg2.data(), path_.data(), nullptr};
  uv_process_options_t opts{};
  opts.file = exe_.c_str();
  opts.args = args;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  opts.exit_cb = &ConfigLoadJob::onExit;
  process_.data = this;
  int err = uv_spawn(loop_, &process_, &opts);
  if (err != 0) {
    exited_ = true;
    Result r;
    r.errors.push_back(path_ + ": cannot start the configuration check (" + exe_ + "): " + uv_strerror(err));
    // A failed spawn still initialised the handle: it must be closed too,
    // with the pipes and the timer nobody will use.
    ++open_handles_;
    uv_close(reinterpret_cast<uv_handle_t*>(&process_), &ConfigLoadJob::onHandleClosed);
    for (Pipe* p : {&out_, &err_}) {
      p->open = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &ConfigLoadJob::onHandleClosed);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ConfigLoadJob::onHandleClosed);
    complete(std::move(r));
    maybeClose();
    return;
  }
  spawned_ = true;
  ++open_handles_;
  for (Pipe* p : {&out_, &err_}) {
    uv_read_start(reinterpret_cast<uv_stream_t*>(&p->handle), &ConfigLoadJob::onAlloc, &ConfigLoadJob::onRead);
  }
  uv_timer_start(&timer_, &ConfigLoadJob::onTimer, kWallTimeoutMs, 0);
}

void ConfigLoadJob::cancel() {
  done_ = nullptr;
  if (spawned_ && !exited_) uv_process_kill(&process_, SIGKILL);
}

void ConfigLoadJob::onTimer(uv_timer_t* t) {
  auto* self = static_cast<ConfigLoadJob*>(t->data);
  if (self->exited_) return;
  self->timed_out_ = true;
  uv_process_kill(&self->process_, SIGKILL);
}

void ConfigLoadJob::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* p = static_cast<Pipe*>(h->data);
  buf->base = p->job->read_buf_;
  buf->len = sizeof p->job->read_buf_;
}

void ConfigLoadJob::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* p = static_cast<Pipe*>(s->data);
  if (nread > 0) {
    size_t room = kMaxChildOutput > p->data.size() ? kMaxChildOutput - p->data.size() : 0;
    p->data.append(buf->base, std::min(room, static_cast<size_t>(nread)));
    return;
  }
  if (nread == 0) return;
  // EOF or error: this stream is done.
  p->open = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &ConfigLoadJob::onHandleClosed);
  p->job->childDone();
}

void ConfigLoadJob::onExit(uv_process_t* proc, int64_t status, int signal) {
  auto* self = static_cast<ConfigLoadJob*>(proc->data);
  self->exited_ = true;
  self->exit_status_ = status;
  self->exit_signal_ = signal;
  uv_timer_stop(&self->timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(proc), &ConfigLoadJob::onHandleClosed);
  self->childDone();
}

void ConfigLoadJob::childDone() {
  // Wait for the exit status and both streams.
  if (!exited_ || out_.open || err_.open) return;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ConfigLoadJob::onHandleClosed);
  Result r;
  if (timed_out_) {
    r.errors.push_back(path_ + ": the configuration check did not finish within " +
                       config::formatDuration(config::Duration(kWallTimeoutMs)) + " and was stopped");
  } else if (exit_signal_ != 0) {
    r.errors.push_back(path_ + ": the configuration check was killed by signal " + std::to_string(exit_signal_) +
                       (exit_signal_ == SIGKILL ? " (memory or CPU limit)" : ""));
  } else if (exit_status_ == 0) {
    // "FILE: configuration OK (hash 0123456789abcdef)"
    const std::string& out = out_.data;
    const size_t at = out.rfind("(hash ");
    if (at != std::string::npos && out.size() >= at + 6 + 16) checked_hash_ = out.substr(at + 6, 16);
    if (checked_hash_.empty()) {
      r.errors.push_back(path_ + ": the configuration check passed but did not say which bytes it checked");
    } else {
      startWork();
      return;
    }
  } else {
    // One error per line, then a summary line ("ballast: N errors in FILE").
    for (auto& line : lines(err_.data)) {
      if (line.rfind("ballast: ", 0) == 0 && line.find(" error") != std::string::npos &&
          line.find(" in ") != std::string::npos && exit_status_ == 1) {
        continue;
      }
      r.errors.push_back(std::move(line));
    }
    if (r.errors.empty()) {
      r.errors.push_back(path_ + ": the configuration check failed with exit status " + std::to_string(exit_status_));
    }
  }
  complete(std::move(r));
  maybeClose();
}

void ConfigLoadJob::startWork() {
  work_queued_ = true;
  uv_queue_work(loop_, &work_, &ConfigLoadJob::onWork, &ConfigLoadJob::onWorkDone);
}

// In the thread pool: only the file, the hash and the parser; nothing of the loop.
void ConfigLoadJob::onWork(uv_work_t* w) {
  auto* self = static_cast<ConfigLoadJob*>(w->data);
  Result& r = self->work_result_;
  std::string text;
  if (auto err = config::readConfigFile(self->path_, text)) {
    r.errors.push_back(err->format());
    return;
  }
  r.hash = hashBytes(text);
  if (r.hash != self->checked_hash_) {
    r.errors.push_back(self->path_ + ": the file changed while it was being checked; reload again");
    return;
  }
  config::LoadResult loaded = config::loadConfigString(text, self->path_);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) r.errors.push_back(e.format());
    return;
  }
  r.config = std::move(loaded.config);
  r.text = std::move(text);
}

void ConfigLoadJob::onWorkDone(uv_work_t* w, int) {
  auto* self = static_cast<ConfigLoadJob*>(w->data);
  self->work_queued_ = false;
  self->complete(std::move(self->work_result_));
  self->maybeClose();
}

void ConfigLoadJob::complete(Result&& r) {
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(r));
}

void ConfigLoadJob::onHandleClosed(uv_handle_t* h) {
  ConfigLoadJob* self = nullptr;
  if (h->type == UV_NAMED_PIPE) {
    self = static_cast<Pipe*>(h->data)->job;
  } else {
    self = static_cast<ConfigLoadJob*>(h->data);
  }
  --self->open_handles_;
  self->maybeClose();
}

void ConfigLoadJob::maybeClose() { finished_ = open_handles_ == 0 && !work_queued_; }

}  // namespace ballast
