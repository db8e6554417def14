#include "postgres_server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "child_process.h"
#include "temp_dir.h"
#include "test_database.h"

namespace chtlink::testing {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPassword = "chtlink-test-secret";
constexpr int kStartAttempts = 3;

// The newest Debian PostgreSQL bin directory.
Result<fs::path> binDir() {
  fs::path best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = entry.path() / "bin";
    if (fs::exists(bin / "initdb") && (best.empty() || entry.path() > best.parent_path())) {
      best = bin;
    }
  }
  if (best.empty()) {
    return failedPrecondition(
        "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (run scripts/setup.sh, "
        "which installs the Debian package postgresql)");
  }
  return best;
}

// PostgreSQL refuses to run as root: run its programs as an unprivileged user then.
struct RunAs {
  std::vector<std::string> prefix;  // runuser -u USER -- (or nothing)
  uid_t uid = 0;
  gid_t gid = 0;
  bool change_owner = false;
};

RunAs runAs() {
  RunAs out;
  if (geteuid() != 0) return out;
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* pw = getpwnam(name)) {
      out.prefix = {"/usr/sbin/runuser", "-u", name, "--"};
      out.uid = pw->pw_uid;
      out.gid = pw->pw_gid;
      out.change_owner = true;
      return out;
    }
  }
  return out;
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

Status run(const RunAs& as, std::vector<std::string> argv, const fs::path& dir,
           const std::string& what) {
  std::vector<std::string> full = as.prefix;
  full.insert(full.end(), argv.begin(), argv.end());
  RunResult r = runCommand(full, (dir / "logs").string());
  if (r.exit_code != 0) {
    return failedPrecondition(fmt::format("{} failed (exit {}): {}", what, r.exit_code, r.output));
  }
  return ok();
}

std::string urlFor(int port) {
  return fmt::format("postgresql://chtlink:{}@127.0.0.1:{}/postgres", kPassword, port);
}

// The server this test program uses, and the connection that creates schemas on it.
struct Shared {
  std::mutex mu;
  std::unique_ptr<TempDir> dir;  // set when this program started the server
  std::unique_ptr<PostgresServer> server;
  std::string url;
  std::unique_ptr<store::Database> admin;
  std::atomic<int> counter{0};
};

Shared& shared() {
  static auto* const kShared = new Shared();  // never deleted: no static destructors
  return *kShared;
}

class PostgresEnvironment final : public ::testing::Environment {
 public:
  void TearDown() override {
    Shared& s = shared();
    std::lock_guard lock(s.mu);
    s.admin.reset();
    if (s.server) {
      Status stopped = s.server->stop();
      if (!stopped.has_value()) ADD_FAILURE() << stopped.error().message;
      s.server.reset();
    }
    s.dir.reset();
  }
};

Result<std::string> sharedServerUrl() {
  const char* state = std::getenv("TEST_POSTGRES_SERVER_STATE");
  if (state == nullptr || *state == '\0') return std::string();
  std::ifstream in(state);
  std::string url;
  if (!std::getline(in, url) || url.empty()) {
    return failedPrecondition(fmt::format(
        "TEST_POSTGRES_SERVER_STATE names {}, which holds no server URL (the postgres_server "
        "ctest fixture did not start)",
        state));
  }
  return url;
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::start(const fs::path& dir) {
  CHTLINK_ASSIGN_OR_RETURN(fs::path bin, binDir());
  const RunAs as = runAs();
  std::error_code ec;
  fs::create_directories(dir / "logs", ec);
  // The unprivileged user must reach the data directory through `dir`.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec, ec);
  const fs::path data = dir / "data";
  const fs::path socket_dir = dir / "socket";
  const fs::path pwfile = dir / "pwfile";
  fs::create_directories(data, ec);
  fs::create_directories(socket_dir, ec);
  {
    std::ofstream out(pwfile);
    out << kPassword << "\n";
  }
  fs::permissions(pwfile, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read,
                  ec);
  if (as.change_owner) {
    for (const fs::path& p : {data, socket_dir}) {
      if (chown(p.c_str(), as.uid, as.gid) != 0) {
        return failedPrecondition(fmt::format("cannot chown {} for PostgreSQL", p.string()));
      }
    }
  }
  CHTLINK_TRY(run(as,
                  {(bin / "initdb").string(), "-D", data.string(), "-U", "chtlink",
                   "--pwfile=" + pwfile.string(), "--auth-local=trust", "--auth-host=scram-sha-256",
                   "--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions"},
                  dir, "initdb"));
  // The port is free when chosen but another program may take it before the server binds;
  // then the start fails and another port is tried.
  Status started = ok();
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    int port = freePort();
    if (port == 0) return failedPrecondition("cannot find a free port for PostgreSQL");
    // Durability off: a test cluster is thrown away, and fsyncs would dominate test time.
    std::string options = fmt::format(
        "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=400 -c shared_buffers=32MB",
        port, socket_dir.string());
    started = run(as,
                  {(bin / "pg_ctl").string(), "-D", data.string(), "-l",
                   (data / "server.log").string(), "-w", "-t", "30", "-o", options, "start"},
                  dir, "pg_ctl start");
    if (started.has_value()) {
      return std::unique_ptr<PostgresServer>(new PostgresServer(dir, urlFor(port), port));
    }
  }
  return started.error();
}

PostgresServer::~PostgresServer() {
  Status s = stop();
  (void)s;  // a destructor cannot report; stop() explicitly to see errors
}

Status PostgresServer::stop() {
  if (stopped_) return ok();
  stopped_ = true;
  return stopPostgresServerIn(dir_);
}

Status stopPostgresServerIn(const fs::path& dir) {
  CHTLINK_ASSIGN_OR_RETURN(fs::path bin, binDir());
  if (!fs::exists(dir / "data" / "postmaster.pid")) return ok();
  return run(
      runAs(),
      {(bin / "pg_ctl").string(), "-D", (dir / "data").string(), "-m", "immediate", "-w", "stop"},
      dir, "pg_ctl stop");
}

Result<std::string> freshPostgresDatabaseUrl() {
  Shared& s = shared();
  std::lock_guard lock(s.mu);
  if (s.url.empty()) {
    CHTLINK_ASSIGN_OR_RETURN(s.url, sharedServerUrl());
    if (s.url.empty()) {
      ::testing::AddGlobalTestEnvironment(new PostgresEnvironment());
      s.dir = std::make_unique<TempDir>();
      auto server = PostgresServer::start(s.dir->path());
      if (!server.has_value()) {
        s.dir.reset();
        return std::move(server).error();
      }
      s.server = std::move(server).value();
      s.url = s.server->url();
    }
  }
  if (!s.admin) {
    store::StoreOptions options;
    options.url = s.url;
    options.read_connections = 1;
    options.write_connections = 1;
    CHTLINK_ASSIGN_OR_RETURN(s.admin, store::openDatabase(options, nullLogger()));
  }
  const std::string schema = fmt::format("t_{}_{}", getpid(), ++s.counter);
  Status created = s.admin->run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("CREATE SCHEMA " + schema));
    return ok();
  });
  if (!created.has_value()) return created.error();
  return fmt::format("{}?options=-csearch_path%3D{}", s.url, schema);
}

std::string backendName(TestBackend backend) {
  return backend == TestBackend::Sqlite ? "Sqlite" : "Postgres";
}

Result<std::string> freshTestDatabaseUrl(TestBackend backend, const fs::path& dir) {
  if (backend == TestBackend::Sqlite) return "sqlite:" + (dir / "test.db").string();
  return freshPostgresDatabaseUrl();
}

std::string backendParamName(const ::testing::TestParamInfo<TestBackend>& info) {
  return backendName(info.param);
}

Result<std::unique_ptr<store::Database>> openTestDatabase(TestBackend backend, const fs::path& dir,
                                                          store::StoreOptions options) {
  CHTLINK_ASSIGN_OR_RETURN(options.url, freshTestDatabaseUrl(backend, dir));
  if (backend == TestBackend::Postgres) {
    options.write_connections = std::min(options.write_connections, 2);
  }
  return store::openDatabase(options, nullLogger());
}

}  // namespace chtlink::testing
