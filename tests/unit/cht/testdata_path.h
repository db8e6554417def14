// Where the unit tests of src/cht find their data files.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace chtlink::cht::testing {

inline std::string readTestData(const std::string& name) {
  std::ifstream in(std::string(CHT_TESTDATA_DIR) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace chtlink::cht::testing
