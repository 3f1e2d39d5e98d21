// --watch: calls back when the config file's bytes change. Watches the
// file's directory, so an editor's atomic rename or a Kubernetes ConfigMap
// `..data` symlink swap is seen; events are debounced, and the callback
// runs only when the bytes really changed (a touch is ignored).
#pragma once

#include <uv.h>

#include <functional>
#include <string>

namespace ballast {

class ConfigWatch {
 public:
  ConfigWatch(uv_loop_t* loop, std::string path, std::function<void()> on_change);
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  // Starts watching; logs `watching` (or `watch_failed`).
  void start();
  // Closes both handles (idempotent); the object may be destroyed once the
  // loop has run their close callbacks.
  void close();
  // The file now has these bytes (the caller re-read it): no callback for them.
  void acknowledge();

 private:
  static void onEvent(uv_fs_event_t* h, const char* filename, int events, int status);
  static void onDebounce(uv_timer_t* h);

  std::string path_;
  std::function<void()> on_change_;
  uv_fs_event_t event_;
  uv_timer_t debounce_;
  std::string hash_;
  bool closed_ = false;
};

}  // namespace ballast
