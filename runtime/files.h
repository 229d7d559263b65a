#pragma once
#include <string>

namespace brine {
// Writes `content` to `path` through a temporary file in the same directory
// and an atomic rename: readers see the old file or the new one, never a
// half-written one. Throws brine::Error naming the path.
void write_file_atomic(const std::string& path, const std::string& content);
// Renames tmp over path atomically (for files written by other code).
void commit_file(const std::string& tmp, const std::string& path);
std::string read_file(const std::string& path);
}  // namespace brine
