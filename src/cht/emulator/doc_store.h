// DocStore: cht-sim's CouchDB-like document storage (cht.md 6.1) in chtlink's store.
//
// Databases ("medic", "medic-sentinel", "_users", "medic-vault") hold documents with
// CouchDB revisions ("<generation>-<32 hex>") and one change sequence per database: every
// write takes the next sequence, and the changes feed lists each document once, at its latest
// sequence, ascending. new_edits=false writes store the given revision verbatim; a revision
// already known is a no-op and the winner is the highest (generation, revision) as in CouchDB.
// Everything survives a restart (tables of migration module "chtsim").
//
// Calls block on the database: use them from the emulator's worker thread, never an I/O
// thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/random.h"
#include "base/result.h"
#include "cht/outbound/js_json.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::cht::emulator {

using outbound::OrderedJson;

struct StoredDoc {
  std::string id;
  std::string rev;
  int64_t seq = 0;
  bool deleted = false;
  OrderedJson body;  // with _id and _rev (and _deleted for tombstones)
};

struct Written {
  std::string id;
  std::string rev;
};

class DocStore {
 public:
  DocStore(store::Database& database, Random& random);

  static std::span<const store::Migration> migrations();

  // The current revision, tombstones included (deleted = true); nullopt if never written.
  Result<std::optional<StoredDoc>> get(std::string_view db, std::string_view id);

  // CouchDB PUT semantics: `doc` must carry the current _rev to update (Conflict otherwise,
  // message "Document update conflict."); a new or deleted id may be written without one.
  // `doc._id` must be set. `_deleted: true` writes a tombstone keeping the body.
  Result<Written> put(std::string_view db, OrderedJson doc);

  // new_edits=false: stores doc._rev verbatim (InvalidArgument if it is not "<N>-<x>").
  Status putVerbatim(std::string_view db, OrderedJson doc);

  // Many writes in one transaction (_bulk_docs): put() or, with new_edits = false,
  // putVerbatim() semantics per document, one result per document in order. A document's
  // own error (conflict, bad _id) is its result; a store failure fails the whole call.
  Result<std::vector<Result<Written>>> putMany(std::string_view db, std::vector<OrderedJson> docs,
                                               bool new_edits = true);

  // The current revisions of `ids` (tombstones included) in one read; absent ids are missing.
  Result<std::map<std::string, StoredDoc>> getMany(std::string_view db,
                                                   const std::vector<std::string>& ids);

  // Bumped by every write of medic/settings, so the emulator can cache the parsed settings.
  uint64_t settingsVersion() const { return settings_version_.load(); }

  // Documents changed after `since` (exclusive), each once at its latest sequence. Without
  // `with_bodies` the bodies are left empty (a feed without include_docs).
  Result<std::vector<StoredDoc>> changes(std::string_view db, int64_t since, int limit,
                                         bool with_bodies = true);

  // Documents by id (ascending), from `start_id` inclusive; tombstones skipped unless asked.
  Result<std::vector<StoredDoc>> all(std::string_view db, std::string_view start_id,
                                     std::string_view end_id, int limit, bool descending);

  // Number of non-deleted documents.
  Result<int64_t> count(std::string_view db);
  // The last sequence handed out in `db` (0 when empty).
  Result<int64_t> currentSeq(std::string_view db);

  // "<seq>-emu": sequences are opaque strings to clients (cht.md 6.1).
  static std::string renderSeq(int64_t seq);
  // Leading integer of a rendered or plain sequence; "now" and bad input are handled by
  // callers. InvalidArgument for text without a leading number.
  static Result<int64_t> parseSeq(std::string_view seq);

 private:
  Result<Written> write(store::Transaction& tx, std::string_view db, OrderedJson& doc,
                        const std::string& rev, bool deleted);
  // put() / putVerbatim() inside `tx`: the outer Result fails the transaction, the inner one
  // is the document's own error.
  Result<Result<Written>> putIn(store::Transaction& tx, std::string_view db, OrderedJson& doc);
  Result<Result<Written>> putVerbatimIn(store::Transaction& tx, std::string_view db,
                                        OrderedJson& doc);
  std::string newRevHash(const std::string& previous, const OrderedJson& doc);

  store::Database& database_;
  Random& random_;
  std::atomic<uint64_t> settings_version_{0};
};

// Revision generation ("3-abc" -> 3), 0 for malformed.
int64_t revGeneration(std::string_view rev);

}  // namespace chtlink::cht::emulator
