// `chtlink store migrate` and `chtlink store copy`: bring a database's schema up to date, and
// copy a whole database (a sandbox's SQLite file) into another (a production PostgreSQL).
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cht/cht_service.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "fhir/rest/fhir_service.h"
#include "him/him.h"
#include "mediator/mediator.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::cli {
namespace {

// Rows per INSERT statement: 200 rows of up to 13 columns stays far below both engines'
// parameter limits (SQLite 32766, PostgreSQL 65535).
constexpr size_t kRowsPerInsert = 200;
// Rows read from the source per query.
constexpr int64_t kRowsPerPage = 2'000;
constexpr std::string_view kMigrationsTable = "schema_migrations";

struct StoreArgs {
  ConfigArgs config;
  std::string from;
  std::string to;
  bool force = false;
};

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("chtlink",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Every module's migrations, in the order `serve` applies them.
Status migrateAll(store::Database& db) {
  CHTLINK_TRY(store::migrate(db, queue::migrations()));
  CHTLINK_TRY(store::migrate(db, him::migrations()));
  CHTLINK_TRY(store::migrate(db, fhir::FhirService::migrations()));
  CHTLINK_TRY(store::migrate(db, mediator::Mediator::migrations()));
  return cht::ChtService::migrate(db);
}

Result<std::unique_ptr<store::Database>> openMigrated(const config::Config& config,
                                                      const std::string& url) {
  store::StoreOptions options = config.store;
  options.url = url;
  CHTLINK_ASSIGN_OR_RETURN(auto db, store::openDatabase(options, quietLogger()));
  Status migrated = migrateAll(*db);
  if (!migrated.has_value()) return migrated.error().withContext("migrating " + db->describe());
  return db;
}

Result<std::map<std::string, int64_t>> schemaVersions(store::Transaction& tx) {
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("SELECT module, MAX(version) FROM schema_migrations GROUP BY module"));
  std::map<std::string, int64_t> out;
  for (size_t i = 0; i < rows.size(); ++i) out[rows.text(i, 0)] = rows.integer(i, 1);
  return out;
}

Result<std::vector<std::string>> tables(store::Transaction& tx) {
  CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, tx.query(tx.dialect().listTables()));
  std::vector<std::string> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows.text(i, 0) != kMigrationsTable) out.push_back(rows.text(i, 0));
  }
  return out;
}

Result<int64_t> countRows(store::Transaction& tx, const std::string& table) {
  CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, tx.query("SELECT COUNT(*) FROM " + table));
  return rows.integer(0, 0);
}

Status insertRows(store::Transaction& tx, const std::string& table,
                  const std::vector<std::string>& columns,
                  const std::vector<std::vector<store::Value>>& rows) {
  std::string head = "INSERT INTO " + table + " (";
  std::string one_row = "(";
  for (size_t c = 0; c < columns.size(); ++c) {
    head += (c == 0 ? "" : ", ") + columns[c];
    one_row += c == 0 ? "?" : ", ?";
  }
  head += ") VALUES ";
  one_row += ")";
  for (size_t start = 0; start < rows.size(); start += kRowsPerInsert) {
    const size_t end = std::min(rows.size(), start + kRowsPerInsert);
    std::string sql = head;
    std::vector<store::Value> params;
    params.reserve((end - start) * columns.size());
    for (size_t r = start; r < end; ++r) {
      sql += (r == start ? "" : ", ") + one_row;
      params.insert(params.end(), rows[r].begin(), rows[r].end());
    }
    CHTLINK_TRY(tx.execute(sql, std::span<const store::Value>(params)));
  }
  return ok();
}

// Copies `table` page by page, the source read in `source` (one snapshot), the target
// written in `target` (one transaction). Returns the rows copied.
Result<int64_t> copyTable(store::Transaction& source, store::Transaction& target,
                          const std::string& table) {
  const std::string order(source.dialect().physicalRowOrder());
  int64_t copied = 0;
  std::optional<store::Value> last;
  for (;;) {
    std::string sql = fmt::format("SELECT {} AS chtlink_row_order, * FROM {}", order, table);
    std::vector<store::Value> params;
    if (last) {
      sql += fmt::format(" WHERE {} > ?", order);
      params.push_back(*last);
    }
    sql += fmt::format(" ORDER BY {} LIMIT ?", order);
    params.emplace_back(kRowsPerPage);
    CHTLINK_ASSIGN_OR_RETURN(store::Rows page,
                             source.query(sql, std::span<const store::Value>(params)));
    if (page.empty()) break;
    std::vector<std::string> columns(page.columns().begin() + 1, page.columns().end());
    std::vector<std::vector<store::Value>> rows;
    rows.reserve(page.size());
    for (size_t i = 0; i < page.size(); ++i) {
      rows.emplace_back(page.row(i).begin() + 1, page.row(i).end());
    }
    CHTLINK_TRY(insertRows(target, table, columns, rows));
    copied += static_cast<int64_t>(page.size());
    last = page.row(page.size() - 1)[0];
    if (static_cast<int64_t>(page.size()) < kRowsPerPage) break;
  }
  return copied;
}

Status resetIdentities(store::Transaction& target) {
  const std::string_view list = target.dialect().identityColumns();
  if (list.empty()) return ok();
  CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, target.query(list));
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string sql = target.dialect().resetIdentity(rows.text(i, 0), rows.text(i, 1));
    CHTLINK_TRY(target.query(sql));
  }
  return ok();
}

int migrateCommand(const StoreArgs& args) {
  auto config = loadConfigOrReport(args.config);
  if (!config) return kExitUsage;
  auto db = openMigrated(*config, config->store.url);
  if (!db.has_value()) {
    std::cerr << "chtlink: " << db.error().message << "\n";
    return kExitFailure;
  }
  auto versions =
      (*db)->runFor<std::map<std::string, int64_t>>(store::Access::Read, schemaVersions);
  if (!versions.has_value()) {
    std::cerr << "chtlink: " << versions.error().message << "\n";
    return kExitFailure;
  }
  std::cout << "schema of " << (*db)->describe() << " is up to date:\n";
  for (const auto& [module, version] : *versions) {
    std::cout << fmt::format("  {:<18} version {}\n", module, version);
  }
  return kExitOk;
}

int copyCommand(const StoreArgs& args) {
  auto config = loadConfigOrReport(args.config);
  if (!config) return kExitUsage;
  if (args.from == args.to) {
    std::cerr << "chtlink: store copy: --from and --to name the same database\n";
    return kExitUsage;
  }
  auto source = openMigrated(*config, args.from);
  if (!source.has_value()) {
    std::cerr << "chtlink: store copy: source: " << source.error().message << "\n";
    return kExitFailure;
  }
  auto target = openMigrated(*config, args.to);
  if (!target.has_value()) {
    std::cerr << "chtlink: store copy: target: " << target.error().message << "\n";
    return kExitFailure;
  }
  std::vector<std::pair<std::string, int64_t>> counts;
  // One read transaction on the source (a consistent snapshot while it is still in use) and
  // one write transaction on the target (all or nothing, so a failed copy can be run again).
  Status copied = (*source)->run(store::Access::Read, [&](store::Transaction& src) -> Status {
    counts.clear();
    CHTLINK_ASSIGN_OR_RETURN(auto source_versions, schemaVersions(src));
    CHTLINK_ASSIGN_OR_RETURN(std::vector<std::string> names, tables(src));
    return (*target)->run(store::Access::Write, [&](store::Transaction& dst) -> Status {
      counts.clear();
      CHTLINK_ASSIGN_OR_RETURN(auto target_versions, schemaVersions(dst));
      if (source_versions != target_versions) {
        return failedPrecondition(
            "the source holds schema versions this chtlink does not know; copy with the "
            "chtlink version that last used it",
            "schema_mismatch");
      }
      CHTLINK_ASSIGN_OR_RETURN(std::vector<std::string> target_names, tables(dst));
      const std::set<std::string> known(target_names.begin(), target_names.end());
      for (const std::string& table : names) {
        if (known.count(table) == 0) {
          return failedPrecondition(
              fmt::format("table {} of the source has no counterpart in the target", table),
              "schema_mismatch");
        }
      }
      for (const std::string& table : names) {
        CHTLINK_ASSIGN_OR_RETURN(int64_t existing, countRows(dst, table));
        if (existing == 0) continue;
        if (!args.force) {
          return failedPrecondition(
              fmt::format("the target is not empty (table {} holds {} rows); copy into an "
                          "empty database, or pass --force to replace its contents",
                          table, existing),
              "target_not_empty");
        }
        CHTLINK_TRY(dst.execute("DELETE FROM " + table));
      }
      for (const std::string& table : names) {
        CHTLINK_ASSIGN_OR_RETURN(int64_t n, copyTable(src, dst, table));
        CHTLINK_ASSIGN_OR_RETURN(int64_t there, countRows(dst, table));
        if (there != n) {
          return internalError(
              fmt::format("table {}: copied {} rows but the target holds {}", table, n, there));
        }
        counts.emplace_back(table, n);
      }
      return resetIdentities(dst);
    });
  });
  if (!copied.has_value()) {
    std::cerr << "chtlink: store copy: " << copied.error().message << "\n";
    return kExitFailure;
  }
  int64_t total = 0;
  std::cout << fmt::format("copied {} -> {}\n", (*source)->describe(), (*target)->describe());
  for (const auto& [table, n] : counts) {
    std::cout << fmt::format("  {:<24} {:>10} rows\n", table, n);
    total += n;
  }
  std::cout << fmt::format("  {:<24} {:>10} rows\n", "total", total);
  return kExitOk;
}

}  // namespace

void addStoreCommand(CLI::App& app, int& exit_code) {
  auto* store_cmd = app.add_subcommand("store", "Database schema and copies");
  store_cmd->require_subcommand(1);

  // Owned by the subcommands' callbacks, which run while `app` parses.
  auto migrate_args = std::make_shared<StoreArgs>();
  auto* migrate_cmd = store_cmd->add_subcommand(
      "migrate", "Create or upgrade the schema of store.url (serve does this too) and print it");
  addConfigOptions(migrate_cmd, migrate_args->config);
  migrate_cmd->callback([&exit_code, migrate_args] { exit_code = migrateCommand(*migrate_args); });

  auto copy_args = std::make_shared<StoreArgs>();
  auto* copy_cmd = store_cmd->add_subcommand(
      "copy",
      "Copy every table of one database into another (e.g. a sandbox's SQLite file into "
      "PostgreSQL), in one transaction; refuses a non-empty target unless --force");
  addConfigOptions(copy_cmd, copy_args->config);
  copy_cmd->add_option("--from", copy_args->from, "Source store URL, e.g. sqlite:chtlink.db")
      ->required();
  copy_cmd
      ->add_option("--to", copy_args->to,
                   "Target store URL, e.g. postgresql://user:pass@host:5432/chtlink")
      ->required();
  copy_cmd->add_flag("--force", copy_args->force,
                     "Replace what the target holds (deleted in the same transaction)");
  copy_cmd->callback([&exit_code, copy_args] { exit_code = copyCommand(*copy_args); });
}

}  // namespace chtlink::cli
