// Versioned schema migrations. Each module declares its own list (queue/schema.cc, ...);
// migrate() applies, in one transaction each, those not yet recorded in schema_migrations.
//
// Migration SQL is portable; two placeholders expand per backend: {{id}} (an auto-assigned
// 64-bit primary key column type) and {{blob}}.
#pragma once

#include <span>
#include <string>

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
Status migrate(Database& db, std::span<const Migration> migrations);

}  // namespace chtlink::store
