#include "lb/server/config_history.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lb/base/json.h"
#include "lb/base/json_read.h"
#include "lb/server/state_file.h"

namespace ballast {

namespace {

bool validHash(const std::string& h) {
  return !h.empty() && h.size() <= 32 &&
         std::all_of(h.begin(), h.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

ConfigHistory::ConfigHistory(std::string dir, uint32_t keep) : dir_(std::move(dir)), keep_(keep) {
  ::mkdir(dir_.c_str(), 0755);
  std::ifstream in(dir_ + "/index.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::pair<std::string, std::string>> m;
    std::string err;
    if (!parseFlatJsonObject(line, m, err)) continue;  // a damaged line is skipped, not fatal
    ConfigHistoryEntry e;
    for (const auto& [k, v] : m) {
      if (k == "time") e.time = std::strtod(v.c_str(), nullptr);
      if (k == "hash") e.hash = v;
      if (k == "trigger") e.trigger = v;
    }
    if (validHash(e.hash)) entries_.push_back(std::move(e));
  }
}

std::string ConfigHistory::writeIndex() const {
  std::string out;
  JsonWriter w;
  for (const auto& e : entries_) {
    w.clear();
    w.beginObject().dbl("time", e.time, 3).str("hash", e.hash).str("trigger", e.trigger).endObject();
    out.append(w.view());
    out.push_back('\n');
  }
  const int err = writeFileAtomically(dir_ + "/index.jsonl", out);
  return err == 0 ? std::string() : dir_ + "/index.jsonl: " + std::strerror(err);
}

std::string ConfigHistory::record(const std::string& text, const std::string& hash, const std::string& trigger,
                                  double now) {
  if (!validHash(hash)) return "not a config hash: " + hash;
  const int err = writeFileAtomically(dir_ + "/" + hash + ".yaml", text);
  if (err != 0) return dir_ + "/" + hash + ".yaml: " + std::strerror(err);
  entries_.push_back(ConfigHistoryEntry{now, hash, trigger});
  while (entries_.size() > keep_) {
    const std::string gone = entries_.front().hash;
    entries_.erase(entries_.begin());
    // The same config may be applied again later: keep its text while an
    // entry still names it.
    const bool named = std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) { return e.hash == gone; });
    if (!named) ::unlink((dir_ + "/" + gone + ".yaml").c_str());
  }
  return writeIndex();
}

std::optional<std::string> ConfigHistory::text(const std::string& hash) const {
  if (!validHash(hash)) return std::nullopt;
  const bool kept = std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) { return e.hash == hash; });
  if (!kept) return std::nullopt;
  std::ifstream in(dir_ + "/" + hash + ".yaml", std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ballast
