// --watch: calls back when the config file's bytes change. Watches the
// file's directory, so an editor's atomic rename or a Kubernetes ConfigMap
// `..data` symlink swap is seen; events are debounced, and the callback
// runs only when the bytes really changed (a touch is ignored). Extra files
// (certificates, keys, CA files) are watched the same way: a change of any
// of them is a change.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

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
  // Also watch these files (replacing the previous extra list). A
  // directory once watched stays watched until close().
  void setExtraFiles(std::vector<std::string> files);

 private:
  // One watched directory; freed by close() after its close callback.
  struct Dir {
    ConfigWatch* owner;
    std::string path;
    uv_fs_event_t event;
  };
  static void onEvent(uv_fs_event_t* h, const char* filename, int events, int status);
  static void onDebounce(uv_timer_t* h);
  static void onDirClosed(uv_handle_t* h);
  // Watches `file`'s directory unless it already is; false on failure.
  int watchDirectoryOf(const std::string& file);
  std::string hashAll() const;
  bool watched(std::string_view name) const;

  uv_loop_t* loop_;
  std::string path_;
  std::vector<std::string> extra_;
  std::function<void()> on_change_;
  std::vector<Dir*> dirs_;  // owned; deleted in onDirClosed
  uv_timer_t debounce_;
  std::string hash_;
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace ballast
