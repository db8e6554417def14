#include "temp_dir.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace chtlink::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "chtlink-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace chtlink::testing
