#include "cht/emulator/doc_store.h"

#include <openssl/sha.h>

#include <charconv>

namespace chtlink::cht::emulator {
namespace {

std::string stringField(const OrderedJson& doc, const char* key) {
  auto found = doc.find(key);
  if (found == doc.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

bool isDeleted(const OrderedJson& doc) {
  auto found = doc.find("_deleted");
  return found != doc.end() && found->is_boolean() && found->get<bool>();
}

Result<StoredDoc> rowToDoc(const store::Rows& rows, size_t i) {
  StoredDoc doc;
  doc.id = rows.text(i, 0);
  doc.rev = rows.text(i, 1);
  doc.seq = rows.integer(i, 2);
  doc.deleted = rows.integer(i, 3) != 0;
  auto body = outbound::parseOrderedJson(rows.text(i, 4));
  if (!body) return body.error().withContext("cht-sim: stored document " + doc.id + ": ");
  doc.body = std::move(body).value();
  return doc;
}

// CouchDB's winner: higher generation, then the greater revision string.
bool revWins(std::string_view candidate, std::string_view current) {
  auto a = revGeneration(candidate);
  auto b = revGeneration(current);
  if (a != b) return a > b;
  return candidate > current;
}

Result<int64_t> nextSeq(store::Transaction& tx, std::string_view db) {
  CHTLINK_TRY(
      tx.execute("INSERT INTO chtsim_seq (db, seq) VALUES (?, 0) ON CONFLICT (db) DO NOTHING",
                 {std::string(db)}));
  CHTLINK_ASSIGN_OR_RETURN(
      auto rows, tx.query("UPDATE chtsim_seq SET seq = seq + 1 WHERE db = ? RETURNING seq",
                          {std::string(db)}));
  return rows.integer(0, 0);
}

}  // namespace

int64_t revGeneration(std::string_view rev) {
  int64_t generation = 0;
  auto dash = rev.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == rev.size()) return 0;
  auto parsed = std::from_chars(rev.data(), rev.data() + dash, generation);
  if (parsed.ec != std::errc() || parsed.ptr != rev.data() + dash || generation <= 0) return 0;
  return generation;
}

DocStore::DocStore(store::Database& database, Random& random)
    : database_(database), random_(random) {}

std::span<const store::Migration> DocStore::migrations() {
  // Never deleted: no static objects with non-trivial destructors.
  static const auto* const kMigrations = new std::vector<store::Migration>{
      {"chtsim", 1, "cht-sim documents, revisions and sequences",
       "CREATE TABLE chtsim_docs ("
       " db TEXT NOT NULL,"
       " id TEXT NOT NULL,"
       " rev TEXT NOT NULL,"
       " seq BIGINT NOT NULL,"
       " deleted INTEGER NOT NULL,"
       " body TEXT NOT NULL,"
       " PRIMARY KEY (db, id));"
       "CREATE INDEX chtsim_docs_seq ON chtsim_docs (db, seq);"
       // Every revision ever stored, so a replicated (new_edits=false) revision is applied once.
       "CREATE TABLE chtsim_revs ("
       " db TEXT NOT NULL,"
       " id TEXT NOT NULL,"
       " rev TEXT NOT NULL,"
       " PRIMARY KEY (db, id, rev));"
       "CREATE TABLE chtsim_seq (db TEXT PRIMARY KEY, seq BIGINT NOT NULL)"},
  };
  return *kMigrations;
}

std::string DocStore::renderSeq(int64_t seq) { return std::to_string(seq) + "-emu"; }

Result<int64_t> DocStore::parseSeq(std::string_view seq) {
  int64_t value = 0;
  auto parsed = std::from_chars(seq.data(), seq.data() + seq.size(), value);
  if (seq.empty() || parsed.ec != std::errc() || value < 0 ||
      (parsed.ptr != seq.data() + seq.size() && *parsed.ptr != '-')) {
    return invalidArgument("invalid since sequence '" + std::string(seq) + "'", "bad_request");
  }
  return value;
}

std::string DocStore::newRevHash(const std::string& previous, const OrderedJson& doc) {
  const std::string text = previous + outbound::jsStringify(doc) + std::to_string(random_.next64());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < 16; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0x0F];
  }
  return hex;
}

Result<std::optional<StoredDoc>> DocStore::get(std::string_view db, std::string_view id) {
  std::optional<StoredDoc> out;
  CHTLINK_TRY(database_.run(store::Access::Read, [&](store::Transaction& tx) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(auto rows,
                             tx.query("SELECT id, rev, seq, deleted, body FROM chtsim_docs "
                                      "WHERE db = ? AND id = ?",
                                      {std::string(db), std::string(id)}));
    if (rows.empty()) return ok();
    CHTLINK_ASSIGN_OR_RETURN(auto doc, rowToDoc(rows, 0));
    out = std::move(doc);
    return ok();
  }));
  return out;
}

Result<Written> DocStore::write(store::Transaction& tx, std::string_view db, OrderedJson& doc,
                                const std::string& rev, bool deleted) {
  const std::string id = stringField(doc, "_id");
  doc["_rev"] = rev;
  // _id and _rev first, as CouchDB returns them.
  OrderedJson ordered = OrderedJson::object();
  ordered["_id"] = id;
  ordered["_rev"] = rev;
  for (auto& [key, value] : doc.items()) {
    if (key != "_id" && key != "_rev") ordered[key] = value;
  }
  if (db == "medic" && id == "settings") ++settings_version_;
  CHTLINK_ASSIGN_OR_RETURN(int64_t seq, nextSeq(tx, db));
  CHTLINK_TRY(tx.execute(
      "INSERT INTO chtsim_docs (db, id, rev, seq, deleted, body) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (db, id) DO UPDATE SET rev = excluded.rev, seq = excluded.seq, "
      "deleted = excluded.deleted, body = excluded.body",
      {std::string(db), id, rev, seq, int64_t{deleted ? 1 : 0}, outbound::jsStringify(ordered)}));
  CHTLINK_TRY(
      tx.execute("INSERT INTO chtsim_revs (db, id, rev) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                 {std::string(db), id, rev}));
  return Written{id, rev};
}

Result<Result<Written>> DocStore::putIn(store::Transaction& tx, std::string_view db,
                                        OrderedJson& doc) {
  const std::string id = stringField(doc, "_id");
  if (id.empty()) {
    return Result<Written>(invalidArgument("Document must have an _id", "bad_request"));
  }
  const std::string given_rev = stringField(doc, "_rev");
  CHTLINK_ASSIGN_OR_RETURN(auto rows,
                           tx.query("SELECT rev, deleted FROM chtsim_docs WHERE db = ? AND id = ?",
                                    {std::string(db), id}));
  std::string previous;
  if (!rows.empty()) {
    const std::string current = rows.text(0, 0);
    const bool current_deleted = rows.integer(0, 1) != 0;
    if (given_rev != current && !(current_deleted && given_rev.empty())) {
      return Result<Written>(conflict("Document update conflict.", "conflict"));
    }
    previous = current;
  } else if (!given_rev.empty()) {
    return Result<Written>(conflict("Document update conflict.", "conflict"));
  }
  const std::string rev =
      std::to_string(revGeneration(previous) + 1) + "-" + newRevHash(previous, doc);
  CHTLINK_ASSIGN_OR_RETURN(auto written, write(tx, db, doc, rev, isDeleted(doc)));
  return Result<Written>(std::move(written));
}

Result<Result<Written>> DocStore::putVerbatimIn(store::Transaction& tx, std::string_view db,
                                                OrderedJson& doc) {
  const std::string id = stringField(doc, "_id");
  const std::string rev = stringField(doc, "_rev");
  if (id.empty()) {
    return Result<Written>(invalidArgument("Document must have an _id", "bad_request"));
  }
  if (revGeneration(rev) == 0) {
    return Result<Written>(invalidArgument("Invalid rev format", "bad_request"));
  }
  CHTLINK_ASSIGN_OR_RETURN(auto known,
                           tx.query("SELECT 1 FROM chtsim_revs WHERE db = ? AND id = ? AND rev = ?",
                                    {std::string(db), id, rev}));
  if (!known.empty()) return Result<Written>(Written{id, rev});
  CHTLINK_ASSIGN_OR_RETURN(
      auto rows,
      tx.query("SELECT rev FROM chtsim_docs WHERE db = ? AND id = ?", {std::string(db), id}));
  if (!rows.empty() && !revWins(rev, rows.text(0, 0))) {
    // A losing branch: remembered, the winner stays.
    CHTLINK_TRY(tx.execute("INSERT INTO chtsim_revs (db, id, rev) VALUES (?, ?, ?)",
                           {std::string(db), id, rev}));
    return Result<Written>(Written{id, rev});
  }
  CHTLINK_ASSIGN_OR_RETURN(auto written, write(tx, db, doc, rev, isDeleted(doc)));
  return Result<Written>(std::move(written));
}

Result<Written> DocStore::put(std::string_view db, OrderedJson doc) {
  CHTLINK_ASSIGN_OR_RETURN(auto results, putMany(db, {std::move(doc)}, true));
  return std::move(results.front());
}

Status DocStore::putVerbatim(std::string_view db, OrderedJson doc) {
  CHTLINK_ASSIGN_OR_RETURN(auto results, putMany(db, {std::move(doc)}, false));
  if (!results.front()) return results.front().error();
  return ok();
}

Result<std::vector<Result<Written>>> DocStore::putMany(std::string_view db,
                                                       std::vector<OrderedJson> docs,
                                                       bool new_edits) {
  std::vector<Result<Written>> results;
  CHTLINK_TRY(database_.run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    results.clear();  // a retried transaction starts over
    for (auto doc : docs) {
      CHTLINK_ASSIGN_OR_RETURN(auto result,
                               new_edits ? putIn(tx, db, doc) : putVerbatimIn(tx, db, doc));
      results.push_back(std::move(result));
    }
    return ok();
  }));
  return results;
}

Result<std::map<std::string, StoredDoc>> DocStore::getMany(std::string_view db,
                                                           const std::vector<std::string>& ids) {
  std::map<std::string, StoredDoc> out;
  constexpr size_t kChunk = 500;
  CHTLINK_TRY(database_.run(store::Access::Read, [&](store::Transaction& tx) -> Status {
    out.clear();
    for (size_t first = 0; first < ids.size(); first += kChunk) {
      const size_t last = std::min(ids.size(), first + kChunk);
      std::string sql =
          "SELECT id, rev, seq, deleted, body FROM chtsim_docs WHERE db = ? AND id IN (";
      std::vector<store::Value> params{std::string(db)};
      for (size_t i = first; i < last; ++i) {
        sql += i == first ? "?" : ", ?";
        params.emplace_back(ids[i]);
      }
      sql += ")";
      CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
      for (size_t i = 0; i < rows.size(); ++i) {
        CHTLINK_ASSIGN_OR_RETURN(auto doc, rowToDoc(rows, i));
        std::string id = doc.id;
        out.emplace(std::move(id), std::move(doc));
      }
    }
    return ok();
  }));
  return out;
}

Result<std::vector<StoredDoc>> DocStore::changes(std::string_view db, int64_t since, int limit,
                                                 bool with_bodies) {
  std::vector<StoredDoc> out;
  CHTLINK_TRY(database_.run(store::Access::Read, [&](store::Transaction& tx) -> Status {
    out.clear();
    CHTLINK_ASSIGN_OR_RETURN(
        auto rows, tx.query(with_bodies ? "SELECT id, rev, seq, deleted, body FROM chtsim_docs "
                                          "WHERE db = ? AND seq > ? ORDER BY seq LIMIT ?"
                                        : "SELECT id, rev, seq, deleted FROM chtsim_docs "
                                          "WHERE db = ? AND seq > ? ORDER BY seq LIMIT ?",
                            {std::string(db), since, int64_t{limit}}));
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!with_bodies) {
        StoredDoc doc;
        doc.id = rows.text(i, 0);
        doc.rev = rows.text(i, 1);
        doc.seq = rows.integer(i, 2);
        doc.deleted = rows.integer(i, 3) != 0;
        out.push_back(std::move(doc));
        continue;
      }
      CHTLINK_ASSIGN_OR_RETURN(auto doc, rowToDoc(rows, i));
      out.push_back(std::move(doc));
    }
    return ok();
  }));
  return out;
}

Result<std::vector<StoredDoc>> DocStore::all(std::string_view db, std::string_view start_id,
                                             std::string_view end_id, int limit, bool descending) {
  std::vector<StoredDoc> out;
  CHTLINK_TRY(database_.run(store::Access::Read, [&](store::Transaction& tx) -> Status {
    std::string sql =
        "SELECT id, rev, seq, deleted, body FROM chtsim_docs WHERE db = ? "
        "AND deleted = 0";
    std::vector<store::Value> params{std::string(db)};
    if (!start_id.empty()) {
      sql += descending ? " AND id <= ?" : " AND id >= ?";
      params.emplace_back(std::string(start_id));
    }
    if (!end_id.empty()) {
      sql += descending ? " AND id >= ?" : " AND id <= ?";
      params.emplace_back(std::string(end_id));
    }
    sql += descending ? " ORDER BY id DESC LIMIT ?" : " ORDER BY id LIMIT ?";
    params.emplace_back(int64_t{limit});
    CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
    for (size_t i = 0; i < rows.size(); ++i) {
      CHTLINK_ASSIGN_OR_RETURN(auto doc, rowToDoc(rows, i));
      out.push_back(std::move(doc));
    }
    return ok();
  }));
  return out;
}

Result<int64_t> DocStore::count(std::string_view db) {
  return database_.runFor<int64_t>(
      store::Access::Read, [&](store::Transaction& tx) -> Result<int64_t> {
        CHTLINK_ASSIGN_OR_RETURN(
            auto rows, tx.query("SELECT COUNT(*) FROM chtsim_docs WHERE db = ? AND deleted = 0",
                                {std::string(db)}));
        return rows.integer(0, 0);
      });
}

Result<int64_t> DocStore::currentSeq(std::string_view db) {
  return database_.runFor<int64_t>(
      store::Access::Read, [&](store::Transaction& tx) -> Result<int64_t> {
        CHTLINK_ASSIGN_OR_RETURN(
            auto rows, tx.query("SELECT seq FROM chtsim_seq WHERE db = ?", {std::string(db)}));
        return rows.empty() ? int64_t{0} : rows.integer(0, 0);
      });
}

}  // namespace chtlink::cht::emulator
