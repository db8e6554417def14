// Batch and transaction Bundles (http.html#transaction; fhir.md section 3).
//
// A transaction runs in the caller's single database transaction: identities are resolved
// first (POST ids allocated, ifNoneExist and conditional PUT searched), every reference equal
// to an entry's fullUrl is rewritten, then entries run in the spec's order DELETE, POST,
// PUT/PATCH, GET, and the first failure fails (and rolls back) the whole Bundle. A batch runs
// the entries in order and reports each failure in its own response entry.
#include <fmt/format.h>

#include <map>

#include "fhir/rest/outcome.h"
#include "fhir/rest/service_internal.h"
#include "fhir/search/date_range.h"
#include "net/http.h"

namespace chtlink::fhir {
namespace {

struct Target {
  std::string type;
  std::string id;       // empty for a type-level URL
  std::string version;  // _history/v
  std::string query;    // after '?'
  bool has_query = false;
};

Result<Target> parseEntryUrl(const std::string& base, std::string url, const Definitions& defs) {
  if (url.rfind(base, 0) == 0) url.erase(0, base.size());
  while (!url.empty() && url.front() == '/') url.erase(0, 1);
  Target t;
  if (auto q = url.find('?'); q != std::string::npos) {
    t.query = url.substr(q + 1);
    t.has_query = true;
    url.resize(q);
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  std::vector<std::string> parts;
  for (size_t start = 0; start <= url.size();) {
    auto slash = url.find('/', start);
    if (slash == std::string::npos) slash = url.size();
    parts.push_back(url.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.empty() || !defs.isResourceType(parts[0]))
    return fhirError("invalid",
                     "request.url \"" + url + "\" does not start with a known resource type");
  t.type = parts[0];
  if (parts.size() >= 2) t.id = parts[1];
  if (parts.size() == 4 && parts[2] == "_history")
    t.version = parts[3];
  else if (parts.size() > 2)
    return fhirError("invalid", "unsupported request.url \"" + url + "\"");
  return t;
}

std::optional<std::string> base64Decode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=' || c == '\n' || c == '\r')
      continue;
    else
      return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

void rewrite(Json& node, const std::map<std::string, std::string>& ids) {
  if (node.is_string()) {
    auto it = ids.find(node.get_ref<const std::string&>());
    if (it != ids.end()) node = it->second;
  } else if (node.is_structured()) {
    for (auto& child : node) rewrite(child, ids);
  }
}

std::string statusLine(int status) { return fmt::format("{} {}", status, net::statusText(status)); }

Json responseEntry(const Outcome& o, const RequestContext& ctx) {
  Json response{{"status", statusLine(o.status)}};
  Json entry = Json::object();
  if (o.version) {
    const auto& v = *o.version;
    response["etag"] = fmt::format("W/\"{}\"", v.version);
    response["lastModified"] = search::formatInstant(v.last_updated);
    if (!v.deleted) {
      response["location"] = fmt::format("{}/{}/_history/{}", v.type, v.id, v.version);
      entry["fullUrl"] = ctx.base + "/" + v.type + "/" + v.id;
      if (ctx.prefer_return == PreferReturn::Representation) {
        auto parsed = parseJson(v.json);
        if (parsed.has_value()) entry["resource"] = std::move(parsed).value();
      }
    }
  }
  if (o.message) response["outcome"] = *o.message;
  entry["response"] = std::move(response);
  return entry;
}

struct Plan {
  size_t index;
  std::string method;
  Target target;
  Json resource;
  std::string if_none_exist, if_match, if_none_match;
  // Transactions: identity resolved ahead of execution.
  std::string assigned_id;                // POST/conditional PUT creating with this id
  std::optional<StoredVersion> existing;  // POST ifNoneExist matched
};

int orderOf(const std::string& method) {
  if (method == "DELETE") return 0;
  if (method == "POST") return 1;
  if (method == "PUT" || method == "PATCH") return 2;
  return 3;
}

Result<Outcome> execute(FhirService::State& state, store::Transaction& tx,
                        const RequestContext& ctx, Plan& p, bool transaction, Json& search_result) {
  Interactions& in = state.interactions;
  const Target& t = p.target;
  if (p.method == "POST") {
    if (t.has_query || !t.id.empty())
      return fhirError("invalid", "POST request.url must be a resource type");
    if (p.existing) return Outcome{200, *p.existing, true, std::nullopt};
    if (p.resource.value("resourceType", "") != t.type)
      return fhirError("invalid", "resourceType does not match request.url " + t.type);
    if (transaction) {
      p.resource.erase("id");
      return in.writeVersion(tx, t.type, p.assigned_id, std::move(p.resource), std::nullopt,
                             "POST");
    }
    return in.create(tx, t.type, std::move(p.resource), p.if_none_exist);
  }
  if (p.method == "PUT") {
    if (t.has_query) {
      if (!transaction)
        return in.conditionalUpdate(tx, t.type, net::parseQuery(t.query), std::move(p.resource),
                                    p.if_match);
      p.resource["id"] = p.assigned_id;
      return in.update(tx, t.type, p.assigned_id, std::move(p.resource), p.if_match,
                       p.if_none_match);
    }
    if (t.id.empty()) return fhirError("invalid", "PUT request.url needs an id or a search");
    return in.update(tx, t.type, t.id, std::move(p.resource), p.if_match, p.if_none_match);
  }
  if (p.method == "PATCH") {
    if (t.id.empty()) return fhirError("invalid", "PATCH request.url needs an id");
    if (p.resource.value("resourceType", "") != "Binary" || !p.resource.contains("data"))
      return fhirError("invalid", "a PATCH entry carries its JSON Patch as a Binary resource");
    auto text = base64Decode(p.resource.value("data", ""));
    if (!text) return fhirError("invalid", "Binary.data is not base64");
    auto patch = parseJson(*text);
    if (!patch.has_value()) return fhirError("invalid", "JSON Patch: " + patch.error().message);
    return in.patch(tx, t.type, t.id, *patch, p.if_match);
  }
  if (p.method == "DELETE") {
    if (t.has_query) return in.conditionalRemove(tx, t.type, net::parseQuery(t.query));
    if (t.id.empty()) return fhirError("invalid", "DELETE request.url needs an id or a search");
    return in.remove(tx, t.type, t.id);
  }
  if (p.method == "GET" || p.method == "HEAD") {
    if (!t.id.empty() && !t.version.empty()) return in.vread(tx, t.type, t.id, t.version);
    if (!t.id.empty()) return in.read(tx, t.type, t.id);
    search::ParseOptions opts;
    opts.strict = ctx.strict;
    CHTLINK_ASSIGN_OR_RETURN(
        auto q, search::parseSearch(state.indexer, t.type, net::parseQuery(t.query), opts));
    int count = std::min(q.count.value_or(state.options.default_count), state.options.max_count);
    CHTLINK_ASSIGN_OR_RETURN(
        auto page, state.store.search(tx, q, PageCursor{}, count, state.options.max_includes));
    auto parsed = parseJson(renderSearchBundle(ctx, q, page, count, 0));
    if (parsed.has_value()) search_result = std::move(parsed).value();
    return Outcome{200, std::nullopt, false, std::nullopt};
  }
  return fhirError("invalid", "unsupported request.method \"" + p.method + "\"");
}

}  // namespace

Result<Json> runBundle(FhirService::State& state, store::Transaction& tx, const RequestContext& ctx,
                       const Json& bundle, bool transaction) {
  const auto& entries = bundle.contains("entry") ? bundle["entry"] : Json::array();
  if (!entries.is_array()) return fhirError("structure", "Bundle.entry must be an array");
  if (static_cast<int>(entries.size()) > state.options.max_transaction_entries)
    return fhirError(
        "too-costly",
        fmt::format(
            "the Bundle has {} entries; at most {} are accepted (fhir.max_transaction_entries)",
            entries.size(), state.options.max_transaction_entries));
  std::vector<Plan> plans;
  std::vector<std::optional<Error>> parse_errors(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Json& e = entries[i];
    Plan p;
    p.index = i;
    auto fail = [&](std::string msg) -> Result<Json> {
      Error err = fhirError("invalid", fmt::format("Bundle.entry[{}]: {}", i, msg));
      if (transaction) return err;
      parse_errors[i] = err;
      return Json();
    };
    if (!e.is_object() || !e.contains("request") || !e["request"].is_object()) {
      CHTLINK_TRY(fail("has no request"));
      plans.push_back(std::move(p));
      continue;
    }
    const Json& req = e["request"];
    p.method = req.value("method", "");
    auto target = parseEntryUrl(ctx.base, req.value("url", ""), state.indexer.definitions());
    if (!target.has_value()) {
      CHTLINK_TRY(fail(target.error().message));
      plans.push_back(std::move(p));
      continue;
    }
    p.target = std::move(target).value();
    p.if_none_exist = req.value("ifNoneExist", "");
    p.if_match = req.value("ifMatch", "");
    p.if_none_match = req.value("ifNoneMatch", "");
    if (e.contains("resource")) p.resource = e["resource"];
    if ((p.method == "POST" || p.method == "PUT" || p.method == "PATCH") &&
        !p.resource.is_object()) {
      CHTLINK_TRY(fail(p.method + " needs a resource"));
    }
    plans.push_back(std::move(p));
  }

  std::vector<Json> results(entries.size());
  if (transaction) {
    std::map<std::string, std::string> ids;  // fullUrl -> T/id
    std::set<std::string> identities;
    for (auto& p : plans) {
      const Json& e = entries[p.index];
      std::string full_url = e.value("fullUrl", "");
      std::string identity;
      if (p.method == "POST") {
        if (!p.if_none_exist.empty()) {
          std::string_view q = p.if_none_exist;
          if (auto mark = q.find('?'); mark != std::string_view::npos) q.remove_prefix(mark + 1);
          auto found = state.interactions.matchQuery(tx, p.target.type, net::parseQuery(q), 2);
          if (!found.has_value())
            return std::move(found).error().withContext(fmt::format("Bundle.entry[{}]", p.index));
          if (found->size() > 1)
            return fhirError("multiple-matches",
                             fmt::format("Bundle.entry[{}]: ifNoneExist matches more than one {}",
                                         p.index, p.target.type));
          if (found->size() == 1) p.existing = (*found)[0];
        }
        p.assigned_id = p.existing ? p.existing->id : state.interactions.newId();
        identity = p.target.type + "/" + p.assigned_id;
      } else if (p.method == "PUT" && p.target.has_query) {
        auto found =
            state.interactions.matchQuery(tx, p.target.type, net::parseQuery(p.target.query), 2);
        if (!found.has_value())
          return std::move(found).error().withContext(fmt::format("Bundle.entry[{}]", p.index));
        if (found->size() > 1)
          return fhirError(
              "multiple-matches",
              fmt::format("Bundle.entry[{}]: conditional update matches more than one {}", p.index,
                          p.target.type));
        p.assigned_id = found->empty() ? state.interactions.newId() : (*found)[0].id;
        identity = p.target.type + "/" + p.assigned_id;
      } else if (p.method == "PUT" || p.method == "DELETE" || p.method == "PATCH") {
        identity = p.target.type + "/" + p.target.id;
      }
      if (!identity.empty() && !identities.insert(identity).second)
        return fhirError("invalid",
                         fmt::format("Bundle.entry[{}]: {} is changed by more than one entry",
                                     p.index, identity));
      if (!full_url.empty() && !identity.empty()) ids[full_url] = identity;
    }
    for (auto& p : plans) rewrite(p.resource, ids);
    // Referential integrity is checked once every entry is written: an entry may refer to
    // one that comes later in the processing order.
    state.interactions.deferChecks(tx);
    struct ForgetChecks {
      Interactions& in;
      store::Transaction& tx;
      ~ForgetChecks() { (void)in.finishDeferredChecks(tx, /*run=*/false); }
    } forget{state.interactions, tx};
    std::vector<Plan*> order;
    for (auto& p : plans) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(), [](const Plan* a, const Plan* b) {
      return orderOf(a->method) < orderOf(b->method);
    });
    for (Plan* p : order) {
      Json search_result;
      auto outcome = execute(state, tx, ctx, *p, true, search_result);
      if (!outcome.has_value())
        return std::move(outcome).error().withContext(
            fmt::format("Bundle.entry[{}] ({} {})", p->index, p->method, p->target.type));
      results[p->index] = responseEntry(*outcome, ctx);
      if (!search_result.is_null()) results[p->index]["resource"] = std::move(search_result);
    }
    CHTLINK_TRY(state.interactions.finishDeferredChecks(tx));
  } else {
    for (auto& p : plans) {
      if (parse_errors[p.index]) {
        results[p.index] = Json{{"response",
                                 {{"status", statusLine(400)},
                                  {"outcome", operationOutcomeOf(*parse_errors[p.index])}}}};
        continue;
      }
      Json search_result;
      // Each batch entry stands alone: a failing one leaves nothing of itself behind.
      CHTLINK_TRY(tx.execute("SAVEPOINT fhir_batch_entry"));
      auto outcome = execute(state, tx, ctx, p, false, search_result);
      if (!outcome.has_value()) CHTLINK_TRY(tx.execute("ROLLBACK TO SAVEPOINT fhir_batch_entry"));
      CHTLINK_TRY(tx.execute("RELEASE SAVEPOINT fhir_batch_entry"));
      if (!outcome.has_value()) {
        results[p.index] = Json{{"response",
                                 {{"status", statusLine(httpStatusOf(outcome.error()))},
                                  {"outcome", operationOutcomeOf(outcome.error())}}}};
        continue;
      }
      results[p.index] = responseEntry(*outcome, ctx);
      if (!search_result.is_null()) results[p.index]["resource"] = std::move(search_result);
    }
  }
  Json response{{"resourceType", "Bundle"},
                {"type", transaction ? "transaction-response" : "batch-response"},
                {"entry", Json::array()}};
  for (auto& r : results) response["entry"].push_back(std::move(r));
  return response;
}

}  // namespace chtlink::fhir
