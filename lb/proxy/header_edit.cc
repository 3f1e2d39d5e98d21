#include "lb/proxy/header_edit.h"

#include <string_view>

#include "lb/http/http_message.h"

namespace ballast {

HeaderEdits::HeaderEdits(const config::HeaderEditConfig& c) {
  drop_ = c.remove;
  for (const auto& [name, value] : c.set) {
    std::string lower = name;
    for (char& ch : lower) ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch + 32) : ch;
    drop_.push_back(std::move(lower));
  }
  for (const auto* list : {&c.set, &c.add}) {
    for (const auto& [name, value] : *list) append_.append(name).append(": ").append(value).append("\r\n");
  }
}

void HeaderEdits::apply(std::string& msg, std::string& scratch) const {
  if (empty()) return;
  const std::string_view in(msg);
  size_t line_end = in.find("\r\n");
  if (line_end == std::string_view::npos) return;  // not a head: nothing to edit
  scratch.clear();
  scratch.append(in.substr(0, line_end + 2));  // start line
  size_t pos = line_end + 2;
  while (pos < in.size()) {
    line_end = in.find("\r\n", pos);
    if (line_end == std::string_view::npos) return;  // unterminated head: leave it alone
    if (line_end == pos) break;                      // the empty line ending the head
    const std::string_view line = in.substr(pos, line_end - pos);
    const std::string_view name = line.substr(0, line.find(':'));
    bool dropped = false;
    for (const std::string& d : drop_) {
      if (iequals(name, d)) {
        dropped = true;
        break;
      }
    }
    if (!dropped) scratch.append(line).append("\r\n");
    pos = line_end + 2;
  }
  scratch.append(append_);
  scratch.append(in.substr(pos));  // the empty line, then any body bytes
  msg.swap(scratch);
}

}  // namespace ballast
