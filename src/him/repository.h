// Repository: him's documents in the store, one table per collection.
//
// Each document is stored whole as JSON (the OpenHIM shape, so the API returns what it
// was given) beside the few columns that are looked up or filtered on. Functions run inside
// a store::Transaction the caller got from Database::post/run; none blocks an I/O thread.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::him {

// Migrations of module "him".
std::span<const store::Migration> migrations();

// Roles: OpenHIM v8 role documents ({name, permissions}); see admin_api/roles.cc for how they
// combine with the ≤7.1 roles derived from channel.allow and client.roles.
enum class Collection { Users, Clients, Channels, Mediators, ContactGroups, Roles };

// The unique key a collection is addressed and upserted by: users `email`, clients
// `clientID`, channels `name`, mediators `urn`, contact groups `group`, roles `name`.
const char* keyField(Collection c);
const char* collectionName(Collection c);  // "Users", as /metadata names them

struct StoredDoc {
  std::string id;
  Json doc;  // carries "_id"
};

// All documents, in creation order.
Result<std::vector<StoredDoc>> listDocs(store::Transaction& tx, Collection c);
// By `_id` (mediators and users: by key; they have no separate id column).
Result<std::optional<StoredDoc>> findById(store::Transaction& tx, Collection c,
                                          const std::string& id);
Result<std::optional<StoredDoc>> findByKey(store::Transaction& tx, Collection c,
                                           const std::string& key);
// Inserts; AlreadyExists when the key is taken. `doc` must carry `_id` and the key field.
Status insertDoc(store::Transaction& tx, Collection c, const Json& doc);
// Replaces the document with the same `_id`; NotFound when there is none, AlreadyExists
// when the new key belongs to another document.
Status replaceDoc(store::Transaction& tx, Collection c, const Json& doc);
// Returns whether a document was deleted.
Result<bool> deleteById(store::Transaction& tx, Collection c, const std::string& id);

// Transactions (the router's log).
struct TransactionFilter {
  std::optional<std::string> status;
  std::optional<std::string> channel_id;
  std::optional<std::string> client_id;
  std::optional<int64_t> from_ms;  // request timestamp >=
  std::optional<int64_t> to_ms;    // request timestamp <=
  int64_t limit = 0;               // 0 = no limit
  int64_t page = 0;
  // Conditions on the document itself (path regex, response status class, properties):
  // checked on each row the columns above select, before paging.
  std::function<bool(const Json&)> matches;
};
// Inserts or replaces transaction `id`: its indexed columns and its document's JSON text.
Status upsertTransactionRow(store::Transaction& tx, const std::string& id,
                            const std::string& channel_id, const std::string& client_id,
                            const std::string& status, int64_t request_ts_ms, std::string doc);
Status upsertTransactions(store::Transaction& tx, std::span<const Json> docs);
Result<std::vector<Json>> listTransactions(store::Transaction& tx, const TransactionFilter& f);
Result<std::optional<Json>> findTransaction(store::Transaction& tx, const std::string& id);
// True when a stored transaction names channel `channel_id` (its deletion is then soft).
Result<bool> channelHasTransactions(store::Transaction& tx, const std::string& channel_id);
// Transactions still Processing with no response: marked Failed (a crash interrupted them).
Result<int64_t> failInterruptedTransactions(store::Transaction& tx, const std::string& now_iso);

}  // namespace chtlink::him
