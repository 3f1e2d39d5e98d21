#include "tests/fuzz/http_reference.h"

#include <cstdio>
#include <cstdlib>

namespace ballast::fuzz {

namespace {

struct Recorder {
  llhttp_t parser;
  ParsedStream* out = nullptr;
  const char* base = nullptr;  // start of the stream (offsets)
  const std::vector<int>* methods = nullptr;
  size_t final_responses = 0;  // responses that used up a request
  std::string field, value;
  bool in_value = false;

  HttpMessage& cur() { return out->messages.back(); }
  void flushHeader() {
    if (!field.empty() || in_value) cur().headers.emplace_back(field, value);
    field.clear();
    value.clear();
    in_value = false;
  }
};

Recorder* rec(llhttp_t* p) { return static_cast<Recorder*>(p->data); }

int onMessageBegin(llhttp_t* p) {
  Recorder* r = rec(p);
  r->out->messages.emplace_back();
  r->field.clear();
  r->value.clear();
  r->in_value = false;
  return 0;
}
int onUrl(llhttp_t* p, const char* at, size_t len) {
  rec(p)->cur().url.append(at, len);
  return 0;
}
int onHeaderField(llhttp_t* p, const char* at, size_t len) {
  Recorder* r = rec(p);
  if (r->cur().head_complete) r->cur().has_trailers = true;
  if (r->in_value) r->flushHeader();
  r->field.append(at, len);
  return 0;
}
int onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Recorder* r = rec(p);
  r->in_value = true;
  r->value.append(at, len);
  return 0;
}
int onHeadersComplete(llhttp_t* p) {
  Recorder* r = rec(p);
  r->flushHeader();
  HttpMessage& m = r->cur();
  m.head_complete = true;
  m.http_major = p->http_major;
  m.http_minor = p->http_minor;
  m.chunked = (p->flags & F_CHUNKED) != 0;
  m.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
  m.content_length = m.has_content_length ? p->content_length : 0;
  m.keep_alive = llhttp_should_keep_alive(p) != 0;
  if (p->type == HTTP_REQUEST) {
    m.method = p->method;
    // As ballast does: an Upgrade offer is declined, the stream stays HTTP.
    if (p->method != HTTP_CONNECT) p->upgrade = 0;
    return 0;
  }
  m.status = p->status_code;
  if (m.isInterim()) return 1;  // no body; the final answer follows
  int method = HTTP_GET;
  if (r->methods != nullptr && r->final_responses < r->methods->size()) method = (*r->methods)[r->final_responses];
  ++r->final_responses;
  if (m.status == 101) return 0;  // the rest is a tunnel (HPE_PAUSED_UPGRADE)
  if (method == HTTP_HEAD || m.status == 204 || m.status == 304) return 1;
  return 0;
}
int onBody(llhttp_t* p, const char* at, size_t len) {
  rec(p)->cur().body.append(at, len);
  return 0;
}
int onMessageComplete(llhttp_t* p) {
  Recorder* r = rec(p);
  r->cur().complete = true;
  return HPE_PAUSED;  // to note where the message ends
}

llhttp_settings_t settings() {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = onMessageBegin;
  s.on_url = onUrl;
  s.on_header_field = onHeaderField;
  s.on_header_value = onHeaderValue;
  s.on_headers_complete = onHeadersComplete;
  s.on_body = onBody;
  s.on_message_complete = onMessageComplete;
  return s;
}

ParsedStream parse(llhttp_type_t type, std::string_view bytes, const std::vector<int>* methods, bool at_eof) {
  static const llhttp_settings_t s = settings();
  ParsedStream out;
  Recorder r;
  llhttp_init(&r.parser, type, &s);
  r.parser.data = &r;
  r.out = &out;
  r.base = bytes.data();
  r.methods = methods;
  size_t pos = 0;
  size_t msg_begin = 0;
  bool at_boundary = bytes.empty();  // the last byte ended a message
  for (;;) {
    const size_t before = out.messages.size();
    llhttp_errno_t e = llhttp_execute(&r.parser, bytes.data() + pos, bytes.size() - pos);
    if (out.messages.size() > before) out.messages.back().begin = msg_begin;
    if (e == HPE_PAUSED) {
      pos = static_cast<size_t>(llhttp_get_error_pos(&r.parser) - bytes.data());
      out.messages.back().end = pos;
      msg_begin = pos;
      llhttp_resume(&r.parser);
      if (pos == bytes.size()) {
        at_boundary = true;
        break;
      }
      continue;
    }
    if (e == HPE_PAUSED_UPGRADE) {
      // A 101 (or CONNECT): the rest is not HTTP. The head is complete.
      if (!out.messages.empty()) {
        out.messages.back().complete = true;
        pos = static_cast<size_t>(llhttp_get_error_pos(&r.parser) - bytes.data());
        out.messages.back().end = pos;
      }
      return out;
    }
    if (e != HPE_OK) {
      out.error = e;
      out.reason = llhttp_get_error_reason(&r.parser) ? llhttp_get_error_reason(&r.parser) : "";
      out.error_pos = static_cast<size_t>(llhttp_get_error_pos(&r.parser) - bytes.data());
      return out;
    }
    break;
  }
  // (At a boundary llhttp_finish would see the state of the callback we
  // paused in, not the one after it: nothing is pending there anyway.)
  if (at_eof && !at_boundary) {
    llhttp_errno_t e = llhttp_finish(&r.parser);
    if (e == HPE_PAUSED) {
      if (!out.messages.empty()) out.messages.back().end = bytes.size();
    } else if (e != HPE_OK) {
      out.error = e;
      out.reason = llhttp_get_error_reason(&r.parser) ? llhttp_get_error_reason(&r.parser) : "";
      out.error_pos = bytes.size();
    }
  }
  return out;
}

}  // namespace

std::vector<std::string_view> HttpMessage::all(std::string_view name) const {
  std::vector<std::string_view> v;
  for (const auto& [n, val] : headers) {
    if (iequal(n, name)) v.push_back(val);
  }
  return v;
}

bool HttpMessage::get(std::string_view name, std::string* value) const {
  for (const auto& [n, val] : headers) {
    if (iequal(n, name)) {
      *value = val;
      return true;
    }
  }
  value->clear();
  return false;
}

ParsedStream parseRequests(std::string_view bytes, bool at_eof) { return parse(HTTP_REQUEST, bytes, nullptr, at_eof); }

ParsedStream parseResponses(std::string_view bytes, const std::vector<int>& request_methods, bool at_eof) {
  return parse(HTTP_RESPONSE, bytes, &request_methods, at_eof);
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (iequal(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string printable(std::string_view bytes, size_t max) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n\n";
    } else if (c < 32 || c >= 127 || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (bytes.size() > max) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

void violation(const std::string& what, std::string_view input) {
  std::fprintf(stderr, "\n==== INVARIANT VIOLATED: %s\n---- input:\n%s\n----\n", what.c_str(),
               printable(input).c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ballast::fuzz
