// The one close helper for objects that own several libuv handles (a
// socket and its timer): closes each handle that is not closing yet and
// calls T::onHandlesClosed(owner) once, after the last close callback, which
// is the only place such an object may be freed (libuv's rule: a handle's
// memory lives until its close callback ran). Every handle's `data` must
// point at the owner, and the owner needs an `int pending_closes_` member
// this helper may reach (a friend declaration or a public member).
#pragma once

#include <uv.h>

#include <initializer_list>

namespace ballast {

template <class T>
void closeHandles(T* owner, std::initializer_list<uv_handle_t*> handles) {
  for (uv_handle_t* h : handles) {
    if (uv_is_closing(h)) continue;
    ++owner->pending_closes_;
    uv_close(h, [](uv_handle_t* closed) {
      T* self = static_cast<T*>(closed->data);
      if (--self->pending_closes_ == 0) T::onHandlesClosed(self);
    });
  }
}

template <class H>
uv_handle_t* asHandle(H* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}

}  // namespace ballast
