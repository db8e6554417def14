// postgres_test_server start|stop STATE_FILE: the ctest fixture that runs one PostgreSQL for a
// whole test run, so each PostgreSQL test only creates a schema (freshPostgresDatabaseUrl).
// start writes the server's URL and directory to STATE_FILE; stop stops it and removes both.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "postgres_server.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 3) {
    std::fprintf(stderr, "usage: postgres_test_server start|stop STATE_FILE\n");
    return 2;
  }
  const std::string command = argv[1];
  const fs::path state = argv[2];
  // A server a crashed earlier run left behind goes first.
  if (std::ifstream in(state); in) {
    std::string url, dir;
    std::getline(in, url);
    std::getline(in, dir);
    in.close();
    if (!dir.empty()) {
      auto stopped = chtlink::testing::stopPostgresServerIn(dir);
      if (!stopped.has_value()) std::fprintf(stderr, "%s\n", stopped.error().message.c_str());
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
    fs::remove(state);
  }
  if (command == "stop") return 0;
  if (command != "start") {
    std::fprintf(stderr, "unknown command %s\n", command.c_str());
    return 2;
  }
  std::string pattern = (fs::temp_directory_path() / "chtlink-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  auto server = chtlink::testing::PostgresServer::start(pattern);
  if (!server.has_value()) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return 1;
  }
  (*server)->leaveRunning();
  fs::create_directories(state.parent_path());
  std::ofstream out(state);
  out << (*server)->url() << "\n" << pattern << "\n";
  std::printf("PostgreSQL running on port %d in %s\n", (*server)->port(), pattern.c_str());
  return 0;
}
