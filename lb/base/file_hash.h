// FNV-1a 64 of a file's bytes as 16 hex digits (ballast_config_hash): lets
// operators see at a glance which config each instance runs. An unreadable
// file hashes like an empty one.
#pragma once

#include <string>
#include <string_view>

namespace ballast {

std::string hashFile(const std::string& path);
// The same hash of bytes in memory.
std::string hashBytes(std::string_view bytes);

}  // namespace ballast
