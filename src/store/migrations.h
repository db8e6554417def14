// Versioned schema migrations. Each module declares its own list (queue/schema.cc, ...);
// migrate() applies, in one transaction each, those not yet recorded in schema_migrations.
//
// Migration SQL is portable; two placeholders expand per backend: {{id}} (an auto-assigned
// 64-bit primary key column type) and {{blob}}. Statements are split on ';', so a statement
// must not contain a semicolon inside a string literal or a comment (none of ours do).
// Use BIGINT, not INTEGER, for 64-bit values (timestamps): INTEGER is 32-bit in PostgreSQL.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "store/database.h"

namespace chtlink::store {

struct Migration {
  std::string module;  // "queue"
  int version;         // 1, 2, ... per module, applied in order
  std::string description;
  std::string sql;  // one or more statements separated by ';'
};

// Applies missing migrations. Fails when the database holds a version of a module newer
// than this binary knows (a downgrade), naming the module and both versions.
// applied_at is read from `clock`; the overload without one uses the system clock.
Status migrate(Database& db, std::span<const Migration> migrations);
Status migrate(Database& db, std::span<const Migration> migrations, const Clock& clock);

// `sql` with {{id}} and {{blob}} replaced for `dialect`, split into statements (empty ones
// dropped). InvalidArgument names any other {{placeholder}}.
Result<std::vector<std::string>> expandMigrationSql(std::string_view sql, const Dialect& dialect);

}  // namespace chtlink::store
