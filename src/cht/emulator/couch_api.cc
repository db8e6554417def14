// cht-sim: the CouchDB passthrough (/medic, /medic-sentinel) of cht.md 2.8.
#include <algorithm>

#include "cht/emulator/sim_internal.h"
#include "cht/outbound/object_path.h"

namespace chtlink::cht::emulator {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

std::optional<std::string> param(const Params& params, const std::string& name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return std::nullopt;
}

bool flag(const Params& params, const std::string& name) {
  return param(params, name).value_or("false") == "true";
}

int intParam(const Params& params, const std::string& name, int fallback) {
  auto value = param(params, name);
  if (!value) return fallback;
  try {
    return std::max(0, std::stoi(*value));
  } catch (...) {
    return fallback;
  }
}

// CouchDB encodes keys as JSON ("startkey=\"abc\""); a bare string is taken as is.
std::string keyParam(const Params& params, const std::string& name) {
  auto value = param(params, name);
  if (!value) return {};
  auto parsed = outbound::parseOrderedJson(*value);
  if (parsed && parsed->is_string()) return parsed->get<std::string>();
  return *value;
}

OrderedJson okWrite(const Written& written) {
  OrderedJson body = OrderedJson::object();
  body["ok"] = true;
  body["id"] = written.id;
  body["rev"] = written.rev;
  return body;
}

bool matches(const OrderedJson& doc, const OrderedJson& selector) {
  OrderedJson root = OrderedJson::object();
  root["doc"] = doc;
  for (const auto& [field, wanted] : selector.items()) {
    auto value = outbound::getPath(root, "doc." + field);
    if (wanted.is_object() && wanted.contains("$eq")) {
      if (!value || *value != wanted["$eq"]) return false;
    } else if (wanted.is_object() && wanted.contains("$exists")) {
      if (value.has_value() != wanted["$exists"].get<bool>()) return false;
    } else if (!value || *value != wanted) {
      return false;
    }
  }
  return true;
}

}  // namespace

void ChtSimImpl::addCouchRoutes(net::Router& router) {
  auto wrap = [this](AuthenticatedFn fn) { return authenticated(std::move(fn)); };
  for (std::string db : {std::string(kMedic), std::string(kSentinel)}) {
    router.add("GET", "/" + db + "/{id}", wrap([this, db](const UserCtx& u, const net::Request& r) {
                 return getDoc(u, db, std::string(r.param("id")), r);
               }));
  }
  router.add("PUT", "/medic/{id}", wrap([this](const UserCtx& u, const net::Request& r) {
               return putDoc(u, kMedic, std::string(r.param("id")), r);
             }));
  router.add("DELETE", "/medic/{id}", wrap([this](const UserCtx& u, const net::Request& r) {
               return deleteDoc(u, kMedic, std::string(r.param("id")), r);
             }));
  router.add("POST", "/medic", wrap([this](const UserCtx& u, const net::Request& r) {
               return postDoc(u, kMedic, r);
             }));
  router.add("POST", "/medic/_bulk_docs", wrap([this](const UserCtx& u, const net::Request& r) {
               return bulkDocs(u, kMedic, r);
             }));
  for (const char* method : {"GET", "POST"}) {
    router.add(method, "/medic/_all_docs", wrap([this](const UserCtx& u, const net::Request& r) {
                 return allDocs(u, kMedic, r);
               }));
    router.add(method, "/medic/_changes", [this](net::Request request, net::Reply reply) {
      post([this, request = std::move(request), reply] {
        auto user = authenticate(request);
        if (!user) {
          reply(unauthorized());
          return;
        }
        changes(*user, kMedic, request, reply);
      });
    });
  }
  router.add("POST", "/medic/_find",
             wrap([this](const UserCtx& u, const net::Request& r) { return find(u, kMedic, r); }));
}

net::Response ChtSimImpl::getDoc(const UserCtx& user, const std::string& db, const std::string& id,
                                 const net::Request& request) {
  if (db == kSentinel && !user.admin) return apiError(403, "Insufficient privileges");
  auto stored = docs_.get(db, id);
  if (!stored) return errorFor(stored.error());
  if (!*stored) return couchError(404, "not_found", "missing");
  if ((*stored)->deleted) return couchError(404, "not_found", "deleted");
  auto params = net::parseQuery(request.query);
  if (auto rev = param(params, "rev"); rev && *rev != (*stored)->rev) {
    return couchError(404, "not_found", "missing");
  }
  return jsonResponse(200, (*stored)->body);
}

net::Response ChtSimImpl::putDoc(const UserCtx& user, const std::string& db, const std::string& id,
                                 const net::Request& request) {
  if (!hasAll(user, {"can_edit"})) return apiError(403, "Insufficient privileges");
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !body->is_object()) {
    return couchError(400, "bad_request", "Document must be a JSON object");
  }
  (*body)["_id"] = id;
  auto params = net::parseQuery(request.query);
  if (auto rev = param(params, "rev"); rev && !body->contains("_rev")) (*body)["_rev"] = *rev;
  auto written = db == kMedic ? saveMedic(std::move(*body)) : docs_.put(db, std::move(*body));
  if (!written) return errorFor(written.error());
  return jsonResponse(201, okWrite(*written));
}

net::Response ChtSimImpl::deleteDoc(const UserCtx& user, const std::string& db,
                                    const std::string& id, const net::Request& request) {
  if (!hasAll(user, {"can_edit"})) return apiError(403, "Insufficient privileges");
  auto params = net::parseQuery(request.query);
  OrderedJson tombstone = OrderedJson::object();
  tombstone["_id"] = id;
  tombstone["_rev"] = param(params, "rev").value_or("");
  tombstone["_deleted"] = true;
  auto stored = docs_.get(db, id);
  if (!stored) return errorFor(stored.error());
  if (!*stored || (*stored)->deleted) return couchError(404, "not_found", "missing");
  auto written =
      db == kMedic ? saveMedic(std::move(tombstone)) : docs_.put(db, std::move(tombstone));
  if (!written) return errorFor(written.error());
  return jsonResponse(200, okWrite(*written));
}

net::Response ChtSimImpl::postDoc(const UserCtx& user, const std::string& db,
                                  const net::Request& request) {
  if (!user.online || !hasAll(user, {"can_edit"})) return apiError(403, "Insufficient privileges");
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !body->is_object()) {
    return couchError(400, "bad_request", "Document must be a JSON object");
  }
  if (!body->contains("_id")) (*body)["_id"] = newContactId();
  auto written = db == kMedic ? saveMedic(std::move(*body)) : docs_.put(db, std::move(*body));
  if (!written) return errorFor(written.error());
  return jsonResponse(201, okWrite(*written));
}

net::Response ChtSimImpl::bulkDocs(const UserCtx& user, const std::string& db,
                                   const net::Request& request) {
  if (!hasAll(user, {"can_edit"})) return apiError(403, "Insufficient privileges");
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !body->is_object() || !body->contains("docs") || !(*body)["docs"].is_array()) {
    return couchError(400, "bad_request", "POST body must include `docs` parameter.");
  }
  const bool new_edits = body->value("new_edits", true);
  std::vector<OrderedJson> docs;
  for (auto& doc : (*body)["docs"]) {
    if (!doc.is_object()) {
      return couchError(400, "bad_request", "Document must be a JSON object");
    }
    if (!doc.contains("_id")) doc["_id"] = newContactId();
    docs.push_back(std::move(doc));
  }
  std::vector<std::string> ids;
  for (const auto& doc : docs) {
    ids.push_back(doc["_id"].is_string() ? doc["_id"].get<std::string>() : "");
  }
  // One transaction for the whole request, then the Sentinel passes in order.
  auto written = docs_.putMany(db, std::move(docs), new_edits);
  if (!written) return errorFor(written.error());
  if (!new_edits) {
    for (const auto& result : *written) {
      if (!result) return errorFor(result.error());
    }
  }
  std::vector<std::string> saved;
  OrderedJson results = OrderedJson::array();
  for (size_t i = 0; i < written->size(); ++i) {
    const auto& result = (*written)[i];
    if (result) {
      saved.push_back(result->id);
      if (new_edits) results.push_back(okWrite(*result));
    } else {
      OrderedJson failure = OrderedJson::object();
      failure["id"] = ids[i];
      failure["error"] = result.error().code == ErrorCode::Conflict ? "conflict" : "bad_request";
      failure["reason"] = result.error().message;
      results.push_back(std::move(failure));
    }
  }
  if (db == kMedic) {
    ensureInfoDocs(saved);
    afterWrite();
    for (const auto& id : saved) sentinelPass(id);
  } else {
    afterWrite();
  }
  return jsonResponse(201, results);
}

net::Response ChtSimImpl::allDocs(const UserCtx& user, const std::string& db,
                                  const net::Request& request) {
  (void)user;
  auto params = net::parseQuery(request.query);
  const bool include_docs = flag(params, "include_docs");
  std::optional<OrderedJson> keys;
  if (auto text = param(params, "keys")) {
    auto parsed = outbound::parseOrderedJson(*text);
    if (parsed && parsed->is_array()) keys = *parsed;
  }
  if (request.method == "POST" && !request.body.empty()) {
    auto parsed = outbound::parseOrderedJson(request.body);
    if (parsed && parsed->is_object() && parsed->contains("keys")) keys = (*parsed)["keys"];
  }
  auto total = docs_.count(db);
  if (!total) return errorFor(total.error());
  OrderedJson answer = OrderedJson::object();
  answer["total_rows"] = *total;
  OrderedJson rows = OrderedJson::array();
  if (keys) {
    answer["offset"] = 0;
    for (const auto& key : *keys) {
      const std::string id = key.is_string() ? key.get<std::string>() : outbound::jsStringify(key);
      auto stored = docs_.get(db, id);
      if (!stored) return errorFor(stored.error());
      OrderedJson row = OrderedJson::object();
      if (!*stored) {
        row["key"] = key;
        row["error"] = "not_found";
      } else {
        row["id"] = id;
        row["key"] = id;
        row["value"] = OrderedJson{{"rev", (*stored)->rev}};
        if ((*stored)->deleted) {
          row["value"]["deleted"] = true;
          if (include_docs) row["doc"] = nullptr;
        } else if (include_docs) {
          row["doc"] = (*stored)->body;
        }
      }
      rows.push_back(std::move(row));
    }
  } else {
    const int skip = intParam(params, "skip", 0);
    const int limit = intParam(params, "limit", 1'000'000);
    const bool descending = flag(params, "descending");
    auto found = docs_.all(db, keyParam(params, "startkey"), keyParam(params, "endkey"),
                           limit + skip, descending);
    if (!found) return errorFor(found.error());
    answer["offset"] = skip;
    for (size_t i = static_cast<size_t>(skip); i < found->size(); ++i) {
      const auto& doc = (*found)[i];
      OrderedJson row = OrderedJson::object();
      row["id"] = doc.id;
      row["key"] = doc.id;
      row["value"] = OrderedJson{{"rev", doc.rev}};
      if (include_docs) row["doc"] = doc.body;
      rows.push_back(std::move(row));
    }
  }
  answer["rows"] = std::move(rows);
  return jsonResponse(200, answer);
}

net::Response ChtSimImpl::find(const UserCtx& user, const std::string& db,
                               const net::Request& request) {
  if (!user.online || !hasAll(user, {"can_edit"})) return apiError(403, "Insufficient privileges");
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !body->is_object() || !body->contains("selector") ||
      !(*body)["selector"].is_object()) {
    return couchError(400, "bad_request", "selector must be a JSON object");
  }
  const auto& selector = (*body)["selector"];
  const size_t limit = body->value("limit", size_t{25});
  const size_t skip = body->value("skip", size_t{0});
  auto all = docs_.all(db, "", "", 10'000'000, false);
  if (!all) return errorFor(all.error());
  OrderedJson docs = OrderedJson::array();
  size_t matched = 0;
  for (const auto& doc : *all) {
    if (!matches(doc.body, selector)) continue;
    if (matched++ < skip) continue;
    if (docs.size() >= limit) break;
    if (body->contains("fields") && (*body)["fields"].is_array()) {
      OrderedJson projected = OrderedJson::object();
      for (const auto& field : (*body)["fields"]) {
        if (!field.is_string()) continue;
        OrderedJson root = OrderedJson::object();
        root["doc"] = doc.body;
        if (auto value = outbound::getPath(root, "doc." + field.get<std::string>())) {
          (void)outbound::setPath(projected, field.get<std::string>(), *value);
        }
      }
      docs.push_back(std::move(projected));
    } else {
      docs.push_back(doc.body);
    }
  }
  OrderedJson answer = OrderedJson::object();
  answer["docs"] = std::move(docs);
  answer["bookmark"] = "nil";
  return jsonResponse(200, answer);
}

OrderedJson ChtSimImpl::changesBody(const std::vector<StoredDoc>& docs, bool include_docs,
                                    int64_t last_seq) {
  OrderedJson results = OrderedJson::array();
  for (const auto& doc : docs) {
    OrderedJson change = OrderedJson::object();
    change["seq"] = DocStore::renderSeq(doc.seq);
    change["id"] = doc.id;
    change["changes"] = OrderedJson::array({OrderedJson{{"rev", doc.rev}}});
    if (doc.deleted) change["deleted"] = true;
    if (include_docs) change["doc"] = doc.body;
    results.push_back(std::move(change));
    last_seq = std::max(last_seq, doc.seq);
  }
  OrderedJson body = OrderedJson::object();
  body["results"] = std::move(results);
  body["last_seq"] = DocStore::renderSeq(last_seq);
  body["pending"] = 0;
  return body;
}

net::Response ChtSimImpl::changesResponse(const std::vector<StoredDoc>& docs, bool include_docs,
                                          int64_t last_seq, bool continuous) {
  OrderedJson body = changesBody(docs, include_docs, last_seq);
  if (!continuous) return jsonResponse(200, body);
  // The whole feed up to now in one answer: cht-sim's server does not stream, so the feed
  // ends after the changes it has (as CouchDB's does at `timeout`) and the client reconnects
  // from last_seq.
  net::Response response;
  response.headers.set("content-type", "application/json");
  for (const auto& change : body["results"]) response.body += outbound::jsStringify(change) + "\n";
  OrderedJson end = OrderedJson::object();
  end["last_seq"] = body["last_seq"];
  end["pending"] = 0;
  response.body += outbound::jsStringify(end) + "\n";
  return response;
}

void ChtSimImpl::changes(const UserCtx& user, const std::string& db, const net::Request& request,
                         net::Reply reply) {
  if (!user.online) {
    reply(apiError(403, "Insufficient privileges"));
    return;
  }
  auto params = net::parseQuery(request.query);
  const std::string since_text = param(params, "since").value_or("0");
  auto current = docs_.currentSeq(db);
  if (!current) {
    reply(errorFor(current.error()));
    return;
  }
  int64_t since = 0;
  if (since_text == "now") {
    since = *current;
  } else {
    auto parsed = DocStore::parseSeq(since_text);
    if (!parsed) {
      reply(couchError(400, "bad_request", parsed.error().message));
      return;
    }
    since = *parsed;
  }
  const int limit = intParam(params, "limit", 1'000'000);
  const bool include_docs = flag(params, "include_docs");
  std::optional<std::vector<std::string>> doc_ids;
  if (param(params, "filter").value_or("") == "_doc_ids") {
    std::optional<OrderedJson> ids;
    if (auto text = param(params, "doc_ids")) {
      auto parsed = outbound::parseOrderedJson(*text);
      if (parsed) ids = *parsed;
    } else if (!request.body.empty()) {
      auto parsed = outbound::parseOrderedJson(request.body);
      if (parsed && parsed->is_object() && parsed->contains("doc_ids")) ids = (*parsed)["doc_ids"];
    }
    doc_ids.emplace();
    if (ids && ids->is_array()) {
      for (const auto& id : *ids) {
        if (id.is_string()) doc_ids->push_back(id.get<std::string>());
      }
    }
  }
  auto found = docs_.changes(db, since, doc_ids ? 1'000'000 : limit, include_docs);
  if (!found) {
    reply(errorFor(found.error()));
    return;
  }
  if (doc_ids) {
    std::vector<StoredDoc> kept;
    for (auto& doc : *found) {
      if (std::find(doc_ids->begin(), doc_ids->end(), doc.id) != doc_ids->end() &&
          kept.size() < static_cast<size_t>(limit)) {
        kept.push_back(std::move(doc));
      }
    }
    *found = std::move(kept);
  }
  const std::string feed = param(params, "feed").value_or("normal");
  if (feed != "normal" && feed != "longpoll" && feed != "continuous") {
    reply(couchError(400, "bad_request", "Supported `feed` types: normal, longpoll, continuous"));
    return;
  }
  const bool continuous = feed == "continuous";
  if (feed != "normal" && found->empty() && !doc_ids && !draining_) {
    const int timeout_ms = std::min<int>(intParam(params, "timeout", 60'000),
                                         static_cast<int>(options_.max_longpoll.count()));
    waiters_.push_back(
        Waiter{db, since, limit, include_docs, continuous,
               std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms), reply});
    return;
  }
  const int64_t last = found->empty() ? *current : 0;
  reply(changesResponse(*found, include_docs, last, continuous));
}

void ChtSimImpl::answerWaiters(bool timeouts_only) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Waiter> still;
  for (auto& waiter : waiters_) {
    if (!timeouts_only) {
      auto found = docs_.changes(waiter.db, waiter.since, waiter.limit, waiter.include_docs);
      if (found && !found->empty()) {
        waiter.reply(changesResponse(*found, waiter.include_docs, 0, waiter.continuous));
        continue;
      }
    }
    if (now >= waiter.deadline) {
      auto current = docs_.currentSeq(waiter.db);
      waiter.reply(
          changesResponse({}, false, current ? *current : waiter.since, waiter.continuous));
      continue;
    }
    still.push_back(std::move(waiter));
  }
  waiters_ = std::move(still);
}

}  // namespace chtlink::cht::emulator
