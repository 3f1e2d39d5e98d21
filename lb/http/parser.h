// llhttp settings built from a class's static callbacks, so each connection
// class (client side, backend side, admin, probe) names its callbacks once
// and none repeats the wiring. T declares the callbacks it wants, with the
// llhttp signatures, among:
//   onMessageBegin, onUrl, onStatus, onHeaderField, onHeaderValue,
//   onHeaderValueComplete, onHeadersComplete, onBody, onMessageComplete
// and befriends makeParserSettings if they are private:
//   template <class U> friend llhttp_settings_t makeParserSettings();
#pragma once

#include <llhttp.h>

namespace ballast {

template <class T>
llhttp_settings_t makeParserSettings() {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  if constexpr (requires { &T::onMessageBegin; }) s.on_message_begin = &T::onMessageBegin;
  if constexpr (requires { &T::onUrl; }) s.on_url = &T::onUrl;
  if constexpr (requires { &T::onStatus; }) s.on_status = &T::onStatus;
  if constexpr (requires { &T::onHeaderField; }) s.on_header_field = &T::onHeaderField;
  if constexpr (requires { &T::onHeaderValue; }) s.on_header_value = &T::onHeaderValue;
  if constexpr (requires { &T::onHeaderValueComplete; }) s.on_header_value_complete = &T::onHeaderValueComplete;
  if constexpr (requires { &T::onHeadersComplete; }) s.on_headers_complete = &T::onHeadersComplete;
  if constexpr (requires { &T::onBody; }) s.on_body = &T::onBody;
  if constexpr (requires { &T::onMessageComplete; }) s.on_message_complete = &T::onMessageComplete;
  return s;
}

// One settings object per T, built on first use.
template <class T>
const llhttp_settings_t* parserSettings() {
  static const llhttp_settings_t settings = makeParserSettings<T>();
  return &settings;
}

}  // namespace ballast
