// `chtlink cht backfill`: runs pull mode over a CHT's changes feed from a sequence (0 = the
// beginning) until it is caught up, enqueuing delivery jobs in chtlink's store, with progress
// on the terminal. The jobs are delivered by `chtlink serve` (or inspected with `jobs list`).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>

#include "cht/client/cht_client.h"
#include "cht/feed/pull_follower.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "net/event_loop.h"
#include "queue/queue.h"
#include "script/engine.h"
#include "script/platform.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::cli {
namespace {

class ArgCredentials final : public cht::outbound::CredentialStore {
 public:
  std::map<std::string, std::string> values;
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto found = values.find(std::string(key));
    if (found == values.end()) return std::optional<std::string>();
    return std::optional<std::string>(found->second);
  }
};

}  // namespace

int chtBackfillCommand(const ChtBackfillArgs& args) {
  auto config = loadConfigOrReport(args.config);
  if (!config) return kExitUsage;
  ArgCredentials credentials;
  for (const auto& item : args.credentials) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "chtlink: --credential expects KEY=SECRET, got '" << item << "'\n";
      return kExitUsage;
    }
    credentials.values[item.substr(0, eq)] = item.substr(eq + 1);
  }
  auto logger = std::make_shared<spdlog::logger>("backfill",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  SystemClock clock;
  auto db = store::openDatabase(config->store, logger);
  if (!db) {
    std::cerr << "chtlink: " << db.error().message << "\n";
    return kExitFailure;
  }
  for (auto migrations : {queue::migrations(), cht::feed::PullFollower::migrations()}) {
    if (Status s = store::migrate(**db, migrations); !s) {
      std::cerr << "chtlink: database migration failed: " << s.error().message << "\n";
      return kExitFailure;
    }
  }
  // The process-wide JavaScript state, owned by this command.
  auto platform = script::Platform::initialize();
  if (!platform) {
    std::cerr << "chtlink: " << platform.error().message << "\n";
    return kExitFailure;
  }
  auto engine = script::Engine::create(**platform, script::EngineOptions{}, logger);
  if (!engine) {
    std::cerr << "chtlink: " << engine.error().message << "\n";
    return kExitFailure;
  }
  net::EventLoop loop(1, logger);
  loop.start();
  auto http = net::makeBeastHttpClient(loop, config->client);
  auto finish = [&](int code) {
    http.reset();
    loop.stop();
    return code;
  };
  auto client = cht::ChtClient::create(
      *http, cht::ChtClientOptions{args.cht_url, args.user, args.password, {}});
  if (!client) {
    std::cerr << "chtlink: " << client.error().message << "\n";
    return finish(kExitUsage);
  }
  cht::feed::PullOptions options;
  options.batch = args.batch;
  cht::feed::PullFollower follower(**db, *client, **engine, credentials, clock, config->queue,
                                   options, logger);
  if (!args.since.empty()) {
    if (Status s = follower.setCheckpoint(args.since); !s) {
      std::cerr << "chtlink: " << s.error().message << "\n";
      return finish(kExitFailure);
    }
  }
  const bool tty = isatty(fileno(stderr)) != 0;
  const auto started = clock.steadyNow();
  size_t done = 0, enqueued = 0, skipped = 0, errors = 0;
  for (;;) {
    auto page = follower.pollOnce(false);
    if (!page) {
      std::cerr << (tty ? "\n" : "") << "chtlink: " << page.error().message << "\n";
      return finish(kExitFailure);
    }
    done += page->changes;
    enqueued += page->enqueued;
    skipped += page->skipped;
    errors += page->errors;
    const double seconds = std::chrono::duration<double>(clock.steadyNow() - started).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%zu changes, %.0f docs/s, %zu jobs enqueued, %zu unchanged, %zu errors", done,
                  rate, enqueued, skipped, errors);
    std::cerr << (tty ? "\r" : "") << line << (tty ? "" : "\n") << std::flush;
    if (page->changes == 0) break;
  }
  std::cerr << (tty ? "\n" : "") << "caught up at " << *follower.checkpoint() << "\n";
  return finish(errors > 0 ? kExitFailure : kExitOk);
}

}  // namespace chtlink::cli
