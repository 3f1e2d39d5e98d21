// What upstream connections need from their surroundings: the loop, the
// list of live connections (closed all at once when the process stops) and
// whether released connections may still be pooled. The server owns one;
// a loop test builds one on a bare loop.
#pragma once

#include <uv.h>

#include "lb/base/intrusive_list.h"

namespace ballast {

class UpstreamConnection;

struct UpstreamEnv {
  uv_loop_t* loop = nullptr;
  IntrusiveList<UpstreamConnection> live;
  bool keep_idle = true;  // false once draining: released connections close

  // Closes every live connection (their requests see an error). Objects
  // unlink themselves from their close callbacks.
  void closeAll();
};

}  // namespace ballast
