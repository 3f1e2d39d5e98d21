#include "lb/server/watch.h"

#include "lb/base/file_hash.h"
#include "lb/base/log.h"

namespace ballast {

namespace {
constexpr uint64_t kDebounceMs = 200;
}

ConfigWatch::ConfigWatch(uv_loop_t* loop, std::string path, std::function<void()> on_change)
    : path_(std::move(path)), on_change_(std::move(on_change)) {
  uv_fs_event_init(loop, &event_);
  uv_timer_init(loop, &debounce_);
  event_.data = this;
  debounce_.data = this;
}

void ConfigWatch::start() {
  hash_ = hashFile(path_);
  std::string dir = path_;
  size_t slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  int err = uv_fs_event_start(&event_, &ConfigWatch::onEvent, dir.c_str(), 0);
  auto level = err == 0 ? LogLevel::Info : LogLevel::Error;
  auto& j = log().eventLine(level, err == 0 ? "watching" : "watch_failed");
  j.str("file", path_).str("directory", dir);
  if (err != 0) j.str("error", uv_strerror(err));
  log().emit(level);
}

void ConfigWatch::close() {
  if (closed_) return;
  closed_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&event_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&debounce_), nullptr);
}

void ConfigWatch::acknowledge() { hash_ = hashFile(path_); }

void ConfigWatch::onEvent(uv_fs_event_t* h, const char* filename, int, int status) {
  auto* self = static_cast<ConfigWatch*>(h->data);
  if (status < 0 || self->closed_) return;
  std::string_view name = filename ? filename : "";
  std::string_view base = self->path_;
  size_t slash = base.rfind('/');
  if (slash != std::string_view::npos) base.remove_prefix(slash + 1);
  // The file itself, or Kubernetes' ..data symlink swap (ConfigMap volumes),
  // or an unnamed event (some file systems): debounce, then compare bytes.
  if (!name.empty() && name != base && name.substr(0, 2) != "..") return;
  uv_timer_start(&self->debounce_, &ConfigWatch::onDebounce, kDebounceMs, 0);
}

void ConfigWatch::onDebounce(uv_timer_t* h) {
  auto* self = static_cast<ConfigWatch*>(h->data);
  std::string hash = hashFile(self->path_);
  if (hash == self->hash_) return;  // touched, not changed
  self->hash_ = hash;
  self->on_change_();
}

}  // namespace ballast
