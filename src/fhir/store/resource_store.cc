#include "fhir/store/resource_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "fhir/search/date_range.h"
#include "fhir/search/sql_builder.h"

namespace chtlink::fhir {
namespace {

using store::Value;

constexpr std::string_view kColumns =
    "r.pk, r.type, r.id, r.version, r.last_updated, r.deleted, r.json";

StoredVersion rowAt(const store::Rows& rows, size_t i) {
  StoredVersion v;
  v.pk = rows.integer(i, 0);
  v.type = rows.text(i, 1);
  v.id = rows.text(i, 2);
  v.version = rows.integer(i, 3);
  v.last_updated = rows.integer(i, 4);
  v.deleted = rows.integer(i, 5) != 0;
  v.json = rows.text(i, 6);
  if (rows.columns().size() > 7) v.method = rows.text(i, 7);
  return v;
}

Result<std::vector<StoredVersion>> runRows(store::Transaction& tx, const std::string& sql,
                                           const std::vector<Value>& params) {
  CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, tx.query(sql, std::span<const Value>(params)));
  std::vector<StoredVersion> out;
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) out.push_back(rowAt(rows, i));
  return out;
}

// "r.type = ? AND " (or IN for a system search with _type), unless an index-table condition
// of `where` already limits the type (see SqlPart::index_driven) or every type is searched.
std::string typeFilter(const search::SearchQuery& query, const search::SqlPart& where,
                       std::vector<Value>& params) {
  if (where.index_driven) return "";
  if (!query.type.empty()) {
    params.emplace_back(query.type);
    return "r.type = ? AND ";
  }
  if (query.types.empty()) return "";
  std::string sql = "r.type IN (";
  for (size_t i = 0; i < query.types.size(); ++i) {
    sql += i == 0 ? "?" : ", ?";
    params.emplace_back(query.types[i]);
  }
  return sql + ") AND ";
}

// FNV-1a, 64 bits, as 16 hex digits: stable across platforms and builds (unlike std::hash).
std::string fnv1a64(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<size_t>(i)] = kHex[h & 15];
  return out;
}

}  // namespace

ResourceStore::ResourceStore(const search::Indexer& indexer, const Clock& clock)
    : indexer_(indexer), clock_(clock) {}

Result<std::optional<StoredVersion>> ResourceStore::readCurrent(store::Transaction& tx,
                                                                std::string_view type,
                                                                std::string_view id) const {
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("SELECT r.pk, r.type, r.id, r.version, r.last_updated, r.deleted, r.json, "
               "r.content_hash FROM fhir_resource r WHERE r.type = ? AND r.id = ?",
               {std::string(type), std::string(id)}));
  if (rows.empty()) return std::optional<StoredVersion>();
  StoredVersion v = rowAt(rows, 0);
  v.content_hash = std::move(v.method);
  v.method.clear();
  return std::optional<StoredVersion>(std::move(v));
}

Result<std::optional<StoredVersion>> ResourceStore::readVersion(store::Transaction& tx,
                                                                std::string_view type,
                                                                std::string_view id,
                                                                int64_t version) const {
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("SELECT h.pk, h.type, h.id, h.version, h.last_updated, h.deleted, h.json, h.method "
               "FROM fhir_history h WHERE h.type = ? AND h.id = ? AND h.version = ?",
               {std::string(type), std::string(id), version}));
  if (rows.empty()) return std::optional<StoredVersion>();
  return std::optional<StoredVersion>(rowAt(rows, 0));
}

// Strictly increasing across commits so `_lastUpdated=gt<t>` pollers never miss a write
// made in the same millisecond as their last poll (fhir.md section 1).
int64_t ResourceStore::nextTimestamp(store::Transaction& tx) {
  std::lock_guard lock(mu_);
  if (last_issued_ < 0) {
    auto rows = tx.query("SELECT MAX(last_updated) FROM fhir_history");
    last_issued_ = rows.has_value() && !rows->empty() ? rows->integer(0, 0) : 0;
  }
  int64_t now = toUnixMillis(clock_.now());
  last_issued_ = std::max(now, last_issued_ + 1);
  return last_issued_;
}

Status ResourceStore::writeIndexes(store::Transaction& tx, int64_t pk, const std::string& type,
                                   const search::IndexRows& rows) {
  for (const auto& e : rows.strings) {
    CHTLINK_TRY(tx.execute(
        "INSERT INTO fhir_idx_string (pk, type, param, normalized, exact) VALUES (?, ?, ?, ?, ?)",
        {pk, type, e.param, e.normalized, e.exact}));
  }
  for (const auto& e : rows.tokens) {
    CHTLINK_TRY(
        tx.execute("INSERT INTO fhir_idx_token (pk, type, param, has_system, system, code, "
                   "text) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   {pk, type, e.param, int64_t{e.has_system ? 1 : 0}, e.system, e.code, e.text}));
  }
  for (const auto& e : rows.references) {
    CHTLINK_TRY(
        tx.execute("INSERT INTO fhir_idx_reference (pk, type, param, target_type, "
                   "target_id, url) VALUES (?, ?, ?, ?, ?, ?)",
                   {pk, type, e.param, e.target_type, e.target_id, e.url}));
  }
  for (const auto& e : rows.dates) {
    CHTLINK_TRY(
        tx.execute("INSERT INTO fhir_idx_date (pk, type, param, low, high) VALUES (?, ?, ?, ?, ?)",
                   {pk, type, e.param, e.low, e.high}));
  }
  for (const auto& e : rows.numbers) {
    CHTLINK_TRY(
        tx.execute("INSERT INTO fhir_idx_number (pk, type, param, low, high, system, "
                   "code, unit) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   {pk, type, e.param, e.low, e.high, e.system, e.code, e.unit}));
  }
  for (const auto& e : rows.uris) {
    CHTLINK_TRY(tx.execute("INSERT INTO fhir_idx_uri (pk, type, param, value) VALUES (?, ?, ?, ?)",
                           {pk, type, e.param, e.value}));
  }
  return ok();
}

namespace {
// Another transaction (another chtlink instance on PostgreSQL) wrote the resource after
// `read_version` was read in this one.
Error concurrentWrite(const std::string& type, const std::string& id, int64_t read_version) {
  return conflict("version conflict on " + type + "/" + id + ": version " +
                      std::to_string(read_version) +
                      " was replaced by a concurrent write; read it again and retry",
                  "version_conflict");
}

Status clearIndexes(store::Transaction& tx, int64_t pk) {
  for (const char* table : {"fhir_idx_string", "fhir_idx_token", "fhir_idx_reference",
                            "fhir_idx_date", "fhir_idx_number", "fhir_idx_uri"}) {
    CHTLINK_TRY(tx.execute(std::string("DELETE FROM ") + table + " WHERE pk = ?", {pk}));
  }
  return ok();
}
}  // namespace

Result<StoredVersion> ResourceStore::write(store::Transaction& tx, const std::string& type,
                                           const std::string& id, Json resource,
                                           const std::optional<StoredVersion>& current,
                                           std::string_view method, bool keep_unchanged,
                                           search::IndexRows* indexed) {
  resource["resourceType"] = type;
  resource["id"] = id;
  if (auto m = resource.find("meta"); m != resource.end() && m->is_object()) {
    m->erase("versionId");
    m->erase("lastUpdated");
    if (m->empty()) resource.erase("meta");
  }
  std::string hash = fnv1a64(dumpJson(resource));
  if (keep_unchanged && current && !current->deleted && current->content_hash == hash) {
    StoredVersion same = *current;
    same.unchanged = true;
    return same;
  }
  StoredVersion v;
  v.content_hash = hash;
  v.type = type;
  v.id = id;
  v.version = current ? current->version + 1 : 1;
  v.last_updated = nextTimestamp(tx);
  v.method = std::string(method);
  Json& meta = resource["meta"];
  if (!meta.is_object()) meta = Json::object();
  meta["versionId"] = std::to_string(v.version);
  meta["lastUpdated"] = search::formatInstant(v.last_updated);
  v.json = dumpJson(resource);
  if (current) {
    v.pk = current->pk;
    CHTLINK_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.execute("UPDATE fhir_resource SET version = ?, last_updated = ?, deleted = 0, "
                   "json = ?, content_hash = ? WHERE pk = ? AND version = ?",
                   {v.version, v.last_updated, v.json, hash, v.pk, current->version}));
    if (changed == 0) return concurrentWrite(type, id, current->version);
    CHTLINK_TRY(clearIndexes(tx, v.pk));
  } else {
    CHTLINK_ASSIGN_OR_RETURN(
        store::Rows rows,
        tx.query("INSERT INTO fhir_resource (type, id, version, last_updated, deleted, json, "
                 "content_hash) VALUES (?, ?, ?, ?, 0, ?, ?) RETURNING pk",
                 {type, id, v.version, v.last_updated, v.json, hash}));
    v.pk = rows.integer(0, 0);
  }
  CHTLINK_TRY(
      tx.execute("INSERT INTO fhir_history (pk, type, id, version, last_updated, deleted, "
                 "method, json) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                 {v.pk, type, id, v.version, v.last_updated, v.method, v.json}));
  search::IndexRows rows = indexer_.index(resource, type);
  CHTLINK_TRY(writeIndexes(tx, v.pk, type, rows));
  if (indexed) *indexed = std::move(rows);
  return v;
}

Result<StoredVersion> ResourceStore::remove(store::Transaction& tx, const StoredVersion& current) {
  StoredVersion v = current;
  v.version = current.version + 1;
  v.last_updated = nextTimestamp(tx);
  v.deleted = true;
  v.json.clear();
  v.method = "DELETE";
  CHTLINK_ASSIGN_OR_RETURN(
      int64_t changed,
      tx.execute("UPDATE fhir_resource SET version = ?, last_updated = ?, deleted = 1, json = '', "
                 "content_hash = '' WHERE pk = ? AND version = ?",
                 {v.version, v.last_updated, v.pk, current.version}));
  if (changed == 0) return concurrentWrite(v.type, v.id, current.version);
  CHTLINK_TRY(
      tx.execute("INSERT INTO fhir_history (pk, type, id, version, last_updated, deleted, "
                 "method, json) VALUES (?, ?, ?, ?, ?, 1, 'DELETE', '')",
                 {v.pk, v.type, v.id, v.version, v.last_updated}));
  CHTLINK_TRY(clearIndexes(tx, v.pk));
  return v;
}

Result<std::vector<StoredVersion>> ResourceStore::match(store::Transaction& tx,
                                                        const search::SearchQuery& query,
                                                        int limit) const {
  CHTLINK_ASSIGN_OR_RETURN(search::SqlPart where,
                           search::buildConditions(query, "r", toUnixMillis(clock_.now())));
  std::vector<Value> params;
  std::string type_sql = typeFilter(query, where, params);
  params.insert(params.end(), where.params.begin(), where.params.end());
  params.emplace_back(int64_t{limit});
  return runRows(tx,
                 "SELECT " + std::string(kColumns) + " FROM fhir_resource r WHERE " + type_sql +
                     "r.deleted = 0" + where.sql + " ORDER BY r.pk LIMIT ?",
                 params);
}

namespace {

struct Ref {
  int64_t pk;
  std::string type;
  std::string id;
};

std::string placeholders(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// Resources that `sources` (all of inc.source_type) point at through inc's parameter.
Result<std::vector<StoredVersion>> forwardInclude(store::Transaction& tx,
                                                  const search::Include& inc,
                                                  const std::vector<const Ref*>& sources,
                                                  int limit) {
  std::vector<Value> p;
  for (const Ref* s : sources) p.emplace_back(s->pk);
  // The reference rows of the sources first, then each target by its (type, id) key: the
  // plan never walks the resource table.
  std::string sql = "SELECT " + std::string(kColumns) +
                    " FROM (SELECT DISTINCT x.target_type AS tt, x.target_id AS ti FROM "
                    "fhir_idx_reference x WHERE x.pk IN (" +
                    placeholders(sources.size()) + ") AND x.target_type <> ''";
  if (inc.def) {
    sql += " AND x.param = ?";
    p.emplace_back(inc.def->code);
  }
  if (!inc.target_type.empty()) {
    sql += " AND x.target_type = ?";
    p.emplace_back(inc.target_type);
  }
  sql +=
      ") t JOIN fhir_resource r ON r.type = t.tt AND r.id = t.ti WHERE r.deleted = 0 "
      "ORDER BY r.pk LIMIT ?";
  p.emplace_back(int64_t{limit});
  return runRows(tx, sql, p);
}

// Resources of inc.source_type whose inc parameter points at one of `targets` (all of
// `target_type`).
Result<std::vector<StoredVersion>> reverseInclude(store::Transaction& tx,
                                                  const search::Include& inc,
                                                  const std::string& target_type,
                                                  const std::vector<const Ref*>& targets,
                                                  int limit) {
  std::vector<Value> p{inc.source_type, target_type};
  for (const Ref* t : targets) p.emplace_back(t->id);
  std::string sql = "SELECT " + std::string(kColumns) +
                    " FROM fhir_resource r WHERE r.deleted = 0 AND r.pk IN (SELECT x.pk FROM "
                    "fhir_idx_reference x WHERE x.type = ? AND x.target_type = ? AND "
                    "x.target_id IN (" +
                    placeholders(targets.size()) + ")";
  if (inc.def) {
    sql += " AND x.param = ?";
    p.emplace_back(inc.def->code);
  }
  sql += ") ORDER BY r.pk LIMIT ?";
  p.emplace_back(int64_t{limit});
  return runRows(tx, sql, p);
}

// _include and _revinclude over the page's matches; the :iterate ones again over what
// each round added, until a round adds nothing or max_includes is reached.
Status addIncludes(store::Transaction& tx, const search::SearchQuery& query, SearchPage& page,
                   int max_includes) {
  if (query.includes.empty() || page.matches.empty()) return ok();
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Ref> frontier;
  for (const auto& m : page.matches) {
    seen.emplace(m.type, m.id);
    frontier.push_back({m.pk, m.type, m.id});
  }
  // Bounded besides by max_includes: each round must add a resource not seen before.
  constexpr int kMaxRounds = 16;
  for (int round = 0; round < kMaxRounds && !frontier.empty(); ++round) {
    std::vector<Ref> added;
    for (const auto& inc : query.includes) {
      if (round > 0 && !inc.iterate) continue;
      int room = max_includes - static_cast<int>(page.included.size());
      if (room <= 0) break;
      std::vector<std::vector<StoredVersion>> found;
      if (!inc.reverse) {
        std::vector<const Ref*> sources;
        for (const auto& f : frontier)
          if (f.type == inc.source_type) sources.push_back(&f);
        if (sources.empty()) continue;
        CHTLINK_ASSIGN_OR_RETURN(auto rows, forwardInclude(tx, inc, sources, room));
        found.push_back(std::move(rows));
      } else {
        std::map<std::string, std::vector<const Ref*>> by_type;
        for (const auto& f : frontier)
          if (inc.target_type.empty() || f.type == inc.target_type) by_type[f.type].push_back(&f);
        for (const auto& [target_type, targets] : by_type) {
          CHTLINK_ASSIGN_OR_RETURN(auto rows, reverseInclude(tx, inc, target_type, targets, room));
          found.push_back(std::move(rows));
        }
      }
      for (auto& rows : found) {
        for (auto& f : rows) {
          if (static_cast<int>(page.included.size()) >= max_includes) break;
          if (!seen.emplace(f.type, f.id).second) continue;
          added.push_back({f.pk, f.type, f.id});
          page.included.push_back(std::move(f));
        }
      }
    }
    frontier = std::move(added);
  }
  return ok();
}

}  // namespace

Result<SearchPage> ResourceStore::search(store::Transaction& tx, const search::SearchQuery& query,
                                         const PageCursor& cursor, int count,
                                         int max_includes) const {
  SearchPage page;
  page.snapshot = cursor.snapshot;
  if (page.snapshot == 0) {
    CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, tx.query("SELECT MAX(pk) FROM fhir_resource"));
    page.snapshot = rows.empty() ? 0 : rows.integer(0, 0);
  }
  CHTLINK_ASSIGN_OR_RETURN(search::SqlPart where,
                           search::buildConditions(query, "r", toUnixMillis(clock_.now())));
  std::vector<Value> params;
  std::string from = " FROM fhir_resource r WHERE " + typeFilter(query, where, params) +
                     "r.deleted = 0 AND r.pk <= ?";
  params.emplace_back(page.snapshot);
  params.insert(params.end(), where.params.begin(), where.params.end());

  if (query.total != "none") {
    CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, tx.query("SELECT COUNT(*)" + from + where.sql,
                                                        std::span<const Value>(params)));
    page.total = rows.integer(0, 0);
  }
  if (count <= 0) return page;

  search::SqlPart order = search::buildOrderBy(query, "r");
  std::string sql = "SELECT " + std::string(kColumns) + from + where.sql;
  std::vector<Value> page_params = params;
  bool keyset = query.sort.empty();
  if (keyset) {
    sql += " AND r.pk > ?";
    page_params.emplace_back(cursor.after);
  }
  sql += " ORDER BY " + order.sql + " LIMIT ? OFFSET ?";
  page_params.insert(page_params.end(), order.params.begin(), order.params.end());
  page_params.emplace_back(int64_t{count + 1});
  page_params.emplace_back(keyset ? int64_t{0} : cursor.offset);
  CHTLINK_ASSIGN_OR_RETURN(page.matches, runRows(tx, sql, page_params));
  if (static_cast<int>(page.matches.size()) > count) {
    page.has_more = true;
    page.matches.resize(static_cast<size_t>(count));
  }
  if (!page.matches.empty()) page.after = page.matches.back().pk;

  CHTLINK_TRY(addIncludes(tx, query, page, max_includes));
  return page;
}

Result<HistoryPage> ResourceStore::history(store::Transaction& tx,
                                           const HistoryQuery& query) const {
  HistoryPage page;
  page.snapshot = query.snapshot;
  if (page.snapshot == 0) {
    CHTLINK_ASSIGN_OR_RETURN(store::Rows rows, tx.query("SELECT MAX(seq) FROM fhir_history"));
    page.snapshot = rows.empty() ? 0 : rows.integer(0, 0);
  }
  std::string where = " FROM fhir_history h WHERE h.seq <= ?";
  std::vector<Value> params{page.snapshot};
  if (!query.type.empty()) {
    where += " AND h.type = ?";
    params.emplace_back(query.type);
  }
  if (!query.id.empty()) {
    where += " AND h.id = ?";
    params.emplace_back(query.id);
  }
  if (query.since) {
    where += " AND h.last_updated >= ?";
    params.emplace_back(*query.since);
  }
  CHTLINK_ASSIGN_OR_RETURN(store::Rows count_rows,
                           tx.query("SELECT COUNT(*)" + where, std::span<const Value>(params)));
  page.total = count_rows.integer(0, 0);
  if (query.count <= 0) return page;
  params.emplace_back(int64_t{query.count + 1});
  params.emplace_back(query.offset);
  CHTLINK_ASSIGN_OR_RETURN(
      page.versions,
      runRows(tx,
              "SELECT h.pk, h.type, h.id, h.version, h.last_updated, h.deleted, h.json, h.method" +
                  where + " ORDER BY h.seq DESC LIMIT ? OFFSET ?",
              params));
  if (static_cast<int>(page.versions.size()) > query.count) {
    page.has_more = true;
    page.versions.resize(static_cast<size_t>(query.count));
  }
  return page;
}

}  // namespace chtlink::fhir
