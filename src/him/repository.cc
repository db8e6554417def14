#include "him/repository.h"

#include <fmt/format.h>

#include "him/crypto.h"

namespace chtlink::him {
namespace {

// The id column of each table; users and mediators are addressed by their key.
const char* table(Collection c) {
  switch (c) {
    case Collection::Users:
      return "him_users";
    case Collection::Clients:
      return "him_clients";
    case Collection::Channels:
      return "him_channels";
    case Collection::Mediators:
      return "him_mediators";
    case Collection::ContactGroups:
      return "him_contact_groups";
    case Collection::Roles:
      return "him_roles";
  }
  return "";
}

Result<Json> parseStored(const std::string& text) {
  auto doc = parseJson(text);
  if (!doc.has_value())
    return internalError("stored him document is not JSON: " + doc.error().message);
  return std::move(doc).value();
}

std::string keyOf(Collection c, const Json& doc) {
  auto it = doc.find(keyField(c));
  if (it == doc.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::string idOf(const Json& doc) {
  auto it = doc.find("_id");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<std::vector<StoredDoc>> rowsToDocs(const store::Rows& rows) {
  std::vector<StoredDoc> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHTLINK_ASSIGN_OR_RETURN(Json doc, parseStored(rows.text(i, 1)));
    out.push_back({rows.text(i, 0), std::move(doc)});
  }
  return out;
}

bool isUniqueViolation(const Error& e) {
  return e.message.find("UNIQUE") != std::string::npos ||
         e.message.find("unique") != std::string::npos || e.code == ErrorCode::AlreadyExists;
}

}  // namespace

std::span<const store::Migration> migrations() {
  // Never deleted: no static objects with non-trivial destructors.
  static const auto* const kMigrations = new std::vector<store::Migration>{
      {"him", 1, "users, clients, channels, mediators, contact groups, transactions",
       // seq orders documents by creation (channel tie-break, listings). key is the
       // collection's unique field; doc the whole OpenHIM-shaped JSON document.
       "CREATE TABLE him_users (seq {{id}}, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,"
       " doc TEXT NOT NULL);"
       "CREATE TABLE him_clients (seq {{id}}, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,"
       " doc TEXT NOT NULL);"
       "CREATE TABLE him_channels (seq {{id}}, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,"
       " doc TEXT NOT NULL);"
       "CREATE TABLE him_mediators (seq {{id}}, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,"
       " doc TEXT NOT NULL);"
       "CREATE TABLE him_contact_groups (seq {{id}}, id TEXT NOT NULL UNIQUE,"
       " key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);"
       // request_ts is Unix ms; the listing sorts on it, newest first.
       "CREATE TABLE him_transactions (id TEXT PRIMARY KEY, channel_id TEXT NOT NULL,"
       " client_id TEXT NOT NULL, status TEXT NOT NULL, request_ts BIGINT NOT NULL,"
       " doc TEXT NOT NULL);"
       "CREATE INDEX him_transactions_ts ON him_transactions (request_ts);"
       "CREATE INDEX him_transactions_status ON him_transactions (status, request_ts);"
       "CREATE INDEX him_transactions_channel ON him_transactions (channel_id, request_ts)"},
      {"him", 2, "roles (OpenHIM v8 role documents)",
       "CREATE TABLE him_roles (seq {{id}}, id TEXT NOT NULL UNIQUE, key TEXT NOT NULL UNIQUE,"
       " doc TEXT NOT NULL)"},
  };
  return *kMigrations;
}

const char* keyField(Collection c) {
  switch (c) {
    case Collection::Users:
      return "email";
    case Collection::Clients:
      return "clientID";
    case Collection::Channels:
      return "name";
    case Collection::Mediators:
      return "urn";
    case Collection::ContactGroups:
      return "group";
    case Collection::Roles:
      return "name";
  }
  return "";
}

const char* collectionName(Collection c) {
  switch (c) {
    case Collection::Users:
      return "Users";
    case Collection::Clients:
      return "Clients";
    case Collection::Channels:
      return "Channels";
    case Collection::Mediators:
      return "Mediators";
    case Collection::ContactGroups:
      return "ContactGroups";
    case Collection::Roles:
      return "Roles";
  }
  return "";
}

Result<std::vector<StoredDoc>> listDocs(store::Transaction& tx, Collection c) {
  CHTLINK_ASSIGN_OR_RETURN(auto rows,
                           tx.query(fmt::format("SELECT id, doc FROM {} ORDER BY seq", table(c))));
  return rowsToDocs(rows);
}

Result<std::optional<StoredDoc>> findById(store::Transaction& tx, Collection c,
                                          const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(
      auto rows, tx.query(fmt::format("SELECT id, doc FROM {} WHERE id = ?", table(c)), {id}));
  CHTLINK_ASSIGN_OR_RETURN(auto docs, rowsToDocs(rows));
  if (docs.empty()) return std::optional<StoredDoc>();
  return std::optional<StoredDoc>(std::move(docs.front()));
}

Result<std::optional<StoredDoc>> findByKey(store::Transaction& tx, Collection c,
                                           const std::string& key) {
  CHTLINK_ASSIGN_OR_RETURN(
      auto rows, tx.query(fmt::format("SELECT id, doc FROM {} WHERE key = ?", table(c)), {key}));
  CHTLINK_ASSIGN_OR_RETURN(auto docs, rowsToDocs(rows));
  if (docs.empty()) return std::optional<StoredDoc>();
  return std::optional<StoredDoc>(std::move(docs.front()));
}

Status insertDoc(store::Transaction& tx, Collection c, const Json& doc) {
  std::string key = keyOf(c, doc);
  if (key.empty()) return invalidArgument(fmt::format("{} is required", keyField(c)));
  CHTLINK_ASSIGN_OR_RETURN(auto existing, findByKey(tx, c, key));
  if (existing) {
    return alreadyExists(fmt::format("a {} document with {} '{}' already exists", collectionName(c),
                                     keyField(c), key));
  }
  auto r = tx.execute(fmt::format("INSERT INTO {} (id, key, doc) VALUES (?, ?, ?)", table(c)),
                      {idOf(doc), key, dumpJson(doc)});
  if (!r.has_value()) {
    if (isUniqueViolation(r.error()))
      return alreadyExists(fmt::format("duplicate {} '{}'", keyField(c), key));
    return r.error();
  }
  return ok();
}

Status replaceDoc(store::Transaction& tx, Collection c, const Json& doc) {
  std::string key = keyOf(c, doc);
  if (key.empty()) return invalidArgument(fmt::format("{} is required", keyField(c)));
  CHTLINK_ASSIGN_OR_RETURN(auto other, findByKey(tx, c, key));
  if (other && other->id != idOf(doc)) {
    return alreadyExists(fmt::format("a {} document with {} '{}' already exists", collectionName(c),
                                     keyField(c), key));
  }
  CHTLINK_ASSIGN_OR_RETURN(
      int64_t n, tx.execute(fmt::format("UPDATE {} SET key = ?, doc = ? WHERE id = ?", table(c)),
                            {key, dumpJson(doc), idOf(doc)}));
  if (n == 0)
    return notFound(fmt::format("no {} document with id '{}'", collectionName(c), idOf(doc)));
  return ok();
}

Result<bool> deleteById(store::Transaction& tx, Collection c, const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(int64_t n,
                           tx.execute(fmt::format("DELETE FROM {} WHERE id = ?", table(c)), {id}));
  return n > 0;
}

Status upsertTransactionRow(store::Transaction& tx, const std::string& id,
                            const std::string& channel_id, const std::string& client_id,
                            const std::string& status, int64_t request_ts_ms, std::string doc) {
  CHTLINK_TRY(tx.execute(
      "INSERT INTO him_transactions (id, channel_id, client_id, status, request_ts, doc)"
      " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
      " doc = excluded.doc",
      {id, channel_id, client_id, status, request_ts_ms, std::move(doc)}));
  return ok();
}

Status upsertTransactions(store::Transaction& tx, std::span<const Json> docs) {
  for (const Json& doc : docs) {
    int64_t ts = 0;
    if (auto t = parseClientTime(doc["request"].value("timestamp", ""))) ts = toUnixMillis(*t);
    CHTLINK_TRY(upsertTransactionRow(tx, doc.value("_id", ""), doc.value("channelID", ""),
                                     doc.value("clientID", ""), doc.value("status", ""), ts,
                                     dumpJson(doc)));
  }
  return ok();
}

Result<std::vector<Json>> listTransactions(store::Transaction& tx, const TransactionFilter& f) {
  std::string sql = "SELECT doc FROM him_transactions WHERE 1 = 1";
  std::vector<store::Value> params;
  if (f.status) {
    sql += " AND status = ?";
    params.emplace_back(*f.status);
  }
  if (f.channel_id) {
    sql += " AND channel_id = ?";
    params.emplace_back(*f.channel_id);
  }
  if (f.client_id) {
    sql += " AND client_id = ?";
    params.emplace_back(*f.client_id);
  }
  if (f.from_ms) {
    sql += " AND request_ts >= ?";
    params.emplace_back(*f.from_ms);
  }
  if (f.to_ms) {
    sql += " AND request_ts <= ?";
    params.emplace_back(*f.to_ms);
  }
  sql += " ORDER BY request_ts DESC, id DESC";
  if (f.limit > 0 && !f.matches) {
    sql += " LIMIT ? OFFSET ?";
    params.emplace_back(f.limit);
    params.emplace_back(f.limit * f.page);
  }
  CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
  std::vector<Json> out;
  // With a document condition the page is cut here, after matching.
  const int64_t skip = f.matches && f.limit > 0 ? f.limit * f.page : 0;
  int64_t matched = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHTLINK_ASSIGN_OR_RETURN(Json doc, parseStored(rows.text(i, 0)));
    if (f.matches) {
      if (!f.matches(doc)) continue;
      if (matched++ < skip) continue;
      if (f.limit > 0 && static_cast<int64_t>(out.size()) >= f.limit) break;
    }
    out.push_back(std::move(doc));
  }
  return out;
}

Result<std::optional<Json>> findTransaction(store::Transaction& tx, const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(auto rows,
                           tx.query("SELECT doc FROM him_transactions WHERE id = ?", {id}));
  if (rows.empty()) return std::optional<Json>();
  CHTLINK_ASSIGN_OR_RETURN(Json doc, parseStored(rows.text(0, 0)));
  return std::optional<Json>(std::move(doc));
}

Result<int64_t> failInterruptedTransactions(store::Transaction& tx, const std::string& now_iso) {
  CHTLINK_ASSIGN_OR_RETURN(
      auto rows, tx.query("SELECT doc FROM him_transactions WHERE status = 'Processing'"));
  std::vector<Json> changed;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHTLINK_ASSIGN_OR_RETURN(Json doc, parseStored(rows.text(i, 0)));
    if (doc.contains("response") || doc.contains("error")) continue;
    doc["status"] = "Failed";
    doc["error"] = {{"message", "chtlink stopped while still waiting for a response"},
                    {"stack", ""},
                    {"timestamp", now_iso}};
    changed.push_back(std::move(doc));
  }
  CHTLINK_TRY(upsertTransactions(tx, changed));
  return static_cast<int64_t>(changed.size());
}

Result<bool> channelHasTransactions(store::Transaction& tx, const std::string& channel_id) {
  CHTLINK_ASSIGN_OR_RETURN(
      auto rows,
      tx.query("SELECT 1 FROM him_transactions WHERE channel_id = ? LIMIT 1", {channel_id}));
  return rows.size() > 0;
}

}  // namespace chtlink::him
