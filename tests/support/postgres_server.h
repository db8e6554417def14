// PostgresServer: a real PostgreSQL from Debian's binaries (/usr/lib/postgresql/<v>/bin) in a
// directory the test owns: initdb, then pg_ctl start on a free 127.0.0.1 port chosen at run
// time, with its unix socket in that directory; pg_ctl stop -m immediate on destruction. When
// the tests run as root, initdb and the server run as an unprivileged user (postgres, or
// nobody), since PostgreSQL refuses to run as root.
//
// Tests do not start one each: freshPostgresDatabase() hands out a new empty schema on the
// server of this test run (see there), which keeps a PostgreSQL test about as fast as an
// SQLite one.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "base/result.h"
#include "store/database.h"

namespace chtlink::testing {

class PostgresServer {
 public:
  // Starts a new cluster in `dir` (created when missing; must be empty).
  static Result<std::unique_ptr<PostgresServer>> start(const std::filesystem::path& dir);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgresql://chtlink:<password>@127.0.0.1:<port>/postgres
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // pg_ctl stop -m immediate (idempotent).
  Status stop();
  // Leaves the server running after this object is gone (stopPostgresServerIn stops it).
  void leaveRunning() { stopped_ = true; }

 private:
  PostgresServer(std::filesystem::path dir, std::string url, int port)
      : dir_(std::move(dir)), url_(std::move(url)), port_(port) {}
  std::filesystem::path dir_;
  std::string url_;
  int port_;
  bool stopped_ = false;
};

// A stop command for a server started by PostgresServer::start in `dir` whose process owns it
// no longer (the ctest fixture that stops the shared server).
Status stopPostgresServerIn(const std::filesystem::path& dir);

// The URL of a new, empty schema (the URL sets search_path) on this test run's server: the
// shared one named by the file in $TEST_POSTGRES_SERVER_STATE (started once per ctest run by
// the postgres_server fixture; not CHTLINK_*, which chtlink would read as a setting), or else
// one started in a temporary directory on first use and stopped when this test program ends
// (a gtest Environment).
Result<std::string> freshPostgresDatabaseUrl();

// Which backend a parameterised store/queue/FHIR test runs on.
enum class TestBackend { Sqlite, Postgres };
std::string backendName(TestBackend backend);  // "Sqlite" / "Postgres", for test names
// INSTANTIATE_TEST_SUITE_P(Backends, FooTest, bothBackends(), backendParamName).
inline auto bothBackends() { return ::testing::Values(TestBackend::Sqlite, TestBackend::Postgres); }
std::string backendParamName(const ::testing::TestParamInfo<TestBackend>& info);

// The URL of a fresh, empty database of `backend`: sqlite:<dir>/test.db, or a new schema.
Result<std::string> freshTestDatabaseUrl(TestBackend backend, const std::filesystem::path& dir);

// A fresh, empty database of `backend`: a file in `dir`, or a new PostgreSQL schema.
Result<std::unique_ptr<store::Database>> openTestDatabase(TestBackend backend,
                                                          const std::filesystem::path& dir,
                                                          store::StoreOptions options = {});

}  // namespace chtlink::testing
