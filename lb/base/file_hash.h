// FNV-1a 64 of a file's bytes as 16 hex digits (ballast_config_hash): lets
// operators see at a glance which config each instance runs. An unreadable
// file hashes like an empty one.
#pragma once

#include <string>

namespace ballast {

std::string hashFile(const std::string& path);

}  // namespace ballast
