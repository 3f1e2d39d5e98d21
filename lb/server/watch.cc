#include "lb/server/watch.h"

#include "lb/base/file_hash.h"
#include "lb/base/log.h"

namespace ballast {

namespace {
constexpr uint64_t kDebounceMs = 200;

std::string directoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string_view baseName(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash != std::string_view::npos) path.remove_prefix(slash + 1);
  return path;
}
}  // namespace

ConfigWatch::ConfigWatch(uv_loop_t* loop, std::string path, std::function<void()> on_change)
    : loop_(loop), path_(std::move(path)), on_change_(std::move(on_change)) {
  uv_timer_init(loop, &debounce_);
  debounce_.data = this;
}

std::string ConfigWatch::hashAll() const {
  std::string h = hashFile(path_);
  for (const auto& f : extra_) {
    h += ',';
    h += hashFile(f);
  }
  return h;
}

int ConfigWatch::watchDirectoryOf(const std::string& file) {
  const std::string dir = directoryOf(file);
  for (const Dir* d : dirs_) {
    if (d->path == dir) return 0;
  }
  auto* d = new Dir{this, dir, {}};
  uv_fs_event_init(loop_, &d->event);
  d->event.data = d;
  dirs_.push_back(d);
  const int err = uv_fs_event_start(&d->event, &ConfigWatch::onEvent, dir.c_str(), 0);
  auto level = err == 0 ? LogLevel::Info : LogLevel::Error;
  auto& j = log().eventLine(level, err == 0 ? "watching" : "watch_failed");
  j.str("file", file).str("directory", dir);
  if (err != 0) j.str("error", uv_strerror(err));
  log().emit(level);
  return err;
}

void ConfigWatch::start() {
  started_ = true;
  hash_ = hashAll();
  watchDirectoryOf(path_);
  for (const auto& f : extra_) watchDirectoryOf(f);
}

void ConfigWatch::setExtraFiles(std::vector<std::string> files) {
  if (closed_) return;
  extra_ = std::move(files);
  if (!started_) return;
  for (const auto& f : extra_) watchDirectoryOf(f);
  hash_ = hashAll();
}

void ConfigWatch::close() {
  if (closed_) return;
  closed_ = true;
  for (Dir* d : dirs_) uv_close(reinterpret_cast<uv_handle_t*>(&d->event), &ConfigWatch::onDirClosed);
  dirs_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&debounce_), nullptr);
}

void ConfigWatch::onDirClosed(uv_handle_t* h) { delete static_cast<Dir*>(h->data); }

void ConfigWatch::acknowledge() { hash_ = hashAll(); }

bool ConfigWatch::watched(std::string_view name) const {
  if (name == baseName(path_)) return true;
  for (const auto& f : extra_) {
    if (name == baseName(f)) return true;
  }
  return false;
}

void ConfigWatch::onEvent(uv_fs_event_t* h, const char* filename, int, int status) {
  auto* self = static_cast<Dir*>(h->data)->owner;
  if (status < 0 || self->closed_) return;
  std::string_view name = filename ? filename : "";
  // A watched file, or Kubernetes' ..data symlink swap (ConfigMap and
  // Secret volumes), or an unnamed event (some file systems): debounce,
  // then compare bytes.
  if (!name.empty() && !self->watched(name) && name.substr(0, 2) != "..") return;
  uv_timer_start(&self->debounce_, &ConfigWatch::onDebounce, kDebounceMs, 0);
}

void ConfigWatch::onDebounce(uv_timer_t* h) {
  auto* self = static_cast<ConfigWatch*>(h->data);
  std::string hash = self->hashAll();
  if (hash == self->hash_) return;  // touched, not changed
  self->hash_ = hash;
  self->on_change_();
}

}  // namespace ballast
