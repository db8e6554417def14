#include "store/migrations.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "store/schema_migrations_internal.h"

namespace chtlink::store {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string label(const Migration& m) {
  return fmt::format("migration {} {} ({})", m.module, m.version, m.description);
}

// Checks the list and groups it by module, each group in version order.
Result<std::map<std::string, std::vector<const Migration*>>> group(
    std::span<const Migration> migrations) {
  std::map<std::string, std::vector<const Migration*>> by_module;
  for (const Migration& m : migrations) {
    if (m.module.empty() || m.version < 1) {
      return invalidArgument(
          fmt::format("{}: a migration needs a module name and a version of 1 or more", label(m)));
    }
    by_module[m.module].push_back(&m);
  }
  for (auto& [module, list] : by_module) {
    std::sort(list.begin(), list.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });
    for (size_t i = 1; i < list.size(); ++i) {
      if (list[i]->version == list[i - 1]->version) {
        return invalidArgument(
            fmt::format("migrations of module {} list version {} twice", module, list[i]->version));
      }
    }
  }
  return by_module;
}

Result<std::map<std::string, int64_t>> appliedVersions(Database& db) {
  return db.runFor<std::map<std::string, int64_t>>(
      Access::Write, [](Transaction& tx) -> Result<std::map<std::string, int64_t>> {
        CHTLINK_TRY(tx.lockUntilCommit(kMigrationsLockName));
        CHTLINK_TRY(tx.execute(kCreateSchemaMigrations));
        CHTLINK_ASSIGN_OR_RETURN(
            Rows rows,
            tx.query("SELECT module, MAX(version) FROM schema_migrations GROUP BY module"));
        std::map<std::string, int64_t> out;
        for (size_t i = 0; i < rows.size(); ++i) out[rows.text(i, 0)] = rows.integer(i, 1);
        return out;
      });
}

Status apply(Database& db, const Migration& m, const Clock& clock) {
  CHTLINK_ASSIGN_OR_RETURN(auto statements, expandMigrationSql(m.sql, db.dialect()));
  Status s = db.run(Access::Write, [&](Transaction& tx) -> Status {
    // Another process may have applied it since we looked; the check and the record are in
    // this one write transaction, under a lock other processes' migrations wait for.
    CHTLINK_TRY(tx.lockUntilCommit(kMigrationsLockName));
    CHTLINK_ASSIGN_OR_RETURN(
        Rows done, tx.query("SELECT 1 FROM schema_migrations WHERE module = ? AND version = ?",
                            {m.module, int64_t{m.version}}));
    if (!done.empty()) return ok();
    for (const std::string& statement : statements) CHTLINK_TRY(tx.execute(statement));
    CHTLINK_TRY(
        tx.execute("INSERT INTO schema_migrations (module, version, description, applied_at) "
                   "VALUES (?, ?, ?, ?)",
                   {m.module, int64_t{m.version}, m.description, toUnixMillis(clock.now())}));
    return ok();
  });
  if (!s.has_value()) return s.error().withContext("applying " + label(m));
  return ok();
}

}  // namespace

Result<std::vector<std::string>> expandMigrationSql(std::string_view sql, const Dialect& dialect) {
  std::string expanded;
  expanded.reserve(sql.size());
  size_t pos = 0;
  while (pos < sql.size()) {
    size_t open = sql.find("{{", pos);
    if (open == std::string_view::npos) {
      expanded.append(sql.substr(pos));
      break;
    }
    size_t close = sql.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return invalidArgument(
          fmt::format("migration SQL has an unclosed placeholder at offset {}", open));
    }
    std::string_view name = sql.substr(open + 2, close - open - 2);
    expanded.append(sql.substr(pos, open - pos));
    if (name == "id") {
      expanded.append(dialect.autoIdPrimaryKey());
    } else if (name == "blob") {
      expanded.append(dialect.blobType());
    } else {
      return invalidArgument(fmt::format(
          "migration SQL has an unknown placeholder {{{{{}}}}} (known: {{{{id}}}}, {{{{blob}}}})",
          name));
    }
    pos = close + 2;
  }

  std::vector<std::string> statements;
  std::string_view rest = expanded;
  while (!rest.empty()) {
    size_t semi = rest.find(';');
    std::string_view statement = trim(rest.substr(0, semi));
    if (!statement.empty()) statements.emplace_back(statement);
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  return statements;
}

Status migrate(Database& db, std::span<const Migration> migrations) {
  const SystemClock clock;
  return migrate(db, migrations, clock);
}

Status migrate(Database& db, std::span<const Migration> migrations, const Clock& clock) {
  CHTLINK_ASSIGN_OR_RETURN(auto by_module, group(migrations));
  // Every placeholder checked before anything is applied.
  for (const Migration& m : migrations) {
    auto expanded = expandMigrationSql(m.sql, db.dialect());
    if (!expanded.has_value()) return expanded.error().withContext(label(m));
  }
  CHTLINK_ASSIGN_OR_RETURN(auto applied, appliedVersions(db));

  for (const auto& [module, list] : by_module) {
    int64_t current = applied.count(module) != 0 ? applied[module] : 0;
    int known = list.back()->version;
    if (current > known) {
      return failedPrecondition(
          fmt::format("the database schema of module {} is at version {} but this chtlink "
                      "knows versions up to {}: the database was used by a newer chtlink, and "
                      "downgrading is not supported (restore a backup or run the newer version)",
                      module, current, known),
          "schema_downgrade");
    }
  }
  for (const auto& [module, list] : by_module) {
    int64_t current = applied.count(module) != 0 ? applied[module] : 0;
    for (const Migration* m : list) {
      if (m->version <= current) continue;
      CHTLINK_TRY(apply(db, *m, clock));
    }
  }
  return ok();
}

}  // namespace chtlink::store
