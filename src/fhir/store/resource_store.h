// ResourceStore: versions, history, search indexes and searches of FHIR resources, on a
// store::Transaction (so a change and the jobs it causes commit together). Callers run it on
// the database pool. Thread-safe: the only mutable state is the last issued timestamp.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "fhir/search/indexer.h"
#include "fhir/search/search_query.h"
#include "store/database.h"

namespace chtlink::fhir {

struct StoredVersion {
  int64_t pk = 0;
  std::string type;
  std::string id;
  int64_t version = 0;
  int64_t last_updated = 0;  // epoch ms
  bool deleted = false;
  std::string json;    // the resource as stored, meta included; empty for a deletion
  std::string method;  // history only: POST, PUT, PATCH, DELETE
  // Hash of the content without meta.versionId/lastUpdated (current rows only), so an
  // update can tell "nothing changed" without parsing the stored JSON.
  std::string content_hash;
  bool unchanged = false;  // write() found the content identical and stored nothing
};

// One page of a search, and what is needed to fetch the next one.
struct SearchPage {
  std::optional<int64_t> total;
  std::vector<StoredVersion> matches;
  std::vector<StoredVersion> included;
  bool has_more = false;
  int64_t snapshot = 0;  // highest pk visible to this search (new resources stay out)
  int64_t after = 0;     // pk of the last match (keyset paging for the default order)
};

struct PageCursor {
  int64_t snapshot = 0;  // 0: first page, take the current maximum
  int64_t after = 0;     // default order: continue after this pk
  int64_t offset = 0;    // with _sort: rows to skip
};

struct HistoryQuery {
  std::string type;              // empty: system history
  std::string id;                // empty: type history
  std::optional<int64_t> since;  // versions at or after (epoch ms)
  int count = 20;
  int64_t snapshot = 0;  // highest history seq visible (0: current)
  int64_t offset = 0;
};

struct HistoryPage {
  int64_t total = 0;
  std::vector<StoredVersion> versions;  // newest first
  int64_t snapshot = 0;
  bool has_more = false;
};

class ResourceStore {
 public:
  ResourceStore(const search::Indexer& indexer, const Clock& clock);

  // Current row of type/id, tombstones included; nullopt when it never existed.
  Result<std::optional<StoredVersion>> readCurrent(store::Transaction& tx, std::string_view type,
                                                   std::string_view id) const;
  Result<std::optional<StoredVersion>> readVersion(store::Transaction& tx, std::string_view type,
                                                   std::string_view id, int64_t version) const;

  // Writes `resource` as the next version of type/id after `current` (nullopt: first
  // version). Sets id, meta.versionId and meta.lastUpdated; keeps the rest of meta. With
  // `keep_unchanged`, content equal to a live `current` stores nothing and returns `current`
  // marked unchanged (HAPI suppressUpdatesWithNoChange). `indexed`, when given, receives the
  // search index rows written (Subscription matching reuses them instead of indexing again).
  Result<StoredVersion> write(store::Transaction& tx, const std::string& type,
                              const std::string& id, Json resource,
                              const std::optional<StoredVersion>& current, std::string_view method,
                              bool keep_unchanged = false, search::IndexRows* indexed = nullptr);
  // Records a deletion version of `current` (which must not be deleted already).
  Result<StoredVersion> remove(store::Transaction& tx, const StoredVersion& current);

  Result<SearchPage> search(store::Transaction& tx, const search::SearchQuery& query,
                            const PageCursor& cursor, int count, int max_includes) const;
  // Resources of `query.type` matching every clause (no paging), at most `limit` of them.
  Result<std::vector<StoredVersion>> match(store::Transaction& tx, const search::SearchQuery& query,
                                           int limit) const;

  Result<HistoryPage> history(store::Transaction& tx, const HistoryQuery& query) const;

 private:
  int64_t nextTimestamp(store::Transaction& tx);
  Status writeIndexes(store::Transaction& tx, int64_t pk, const std::string& type,
                      const search::IndexRows& rows);

  const search::Indexer& indexer_;
  const Clock& clock_;
  std::mutex mu_;
  int64_t last_issued_ = -1;  // -1: not read from the database yet
};

}  // namespace chtlink::fhir
