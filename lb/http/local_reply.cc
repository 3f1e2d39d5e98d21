#include "lb/http/local_reply.h"

#include <charconv>

#include "lb/http/http_message.h"
#include "lb/http/reason_phrase.h"

namespace ballast {

void buildLocalReply(std::string& out, const LocalReply& r) {
  const std::string_view reason = reasonPhrase(r.status);
  char num[12];
  auto [np, nec] = std::to_chars(num, num + sizeof num, r.status);
  (void)nec;
  const std::string_view code(num, static_cast<size_t>(np - num));
  // Body: "502 Bad Gateway: backend refused the connection\n"
  const size_t body_len =
      r.custom_body ? r.body.size() : code.size() + 1 + reason.size() + 2 + r.detail.size() + 1;
  out.clear();
  out.append("HTTP/1.1 ").append(code).append(" ").append(reason);
  out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  appendNumber(out, body_len);
  if (!r.location.empty()) out.append("\r\nLocation: ").append(r.location);
  if (!r.request_id.empty()) out.append("\r\nX-Request-Id: ").append(r.request_id);
  int retry_after = r.retry_after != 0 ? r.retry_after : (r.status == 503 ? 1 : 0);
  if (retry_after > 0) {
    out.append("\r\nRetry-After: ");
    appendNumber(out, static_cast<uint64_t>(retry_after));
  }
  if (r.close) {
    out.append("\r\nConnection: close");
  } else if (r.keep_alive_10) {
    out.append("\r\nConnection: keep-alive");
  }
  out.append("\r\n\r\n");
  if (r.head) return;
  if (r.custom_body) {
    out.append(r.body);
    return;
  }
  out.append(code).append(" ").append(reason).append(": ").append(r.detail).append("\n");
}

}  // namespace ballast
