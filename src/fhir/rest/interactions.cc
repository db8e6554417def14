#include "fhir/rest/interactions.h"

#include "fhir/rest/outcome.h"
#include "fhir/subscription/notifier.h"
#include "fhir/validation/write_check.h"
#include "net/http.h"

namespace chtlink::fhir {
namespace {

// "W/\"3\"", "\"3\"" or "3" -> 3.
std::optional<int64_t> parseEtag(std::string_view etag) {
  if (etag.rfind("W/", 0) == 0) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  if (etag.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : etag) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Status checkIfMatch(std::string_view if_match, const std::optional<StoredVersion>& current,
                    const std::string& type, const std::string& id) {
  if (if_match.empty()) return ok();
  auto wanted = parseEtag(if_match);
  if (!wanted)
    return fhirError("invalid",
                     "If-Match must be a version ETag like W/\"3\", got " + std::string(if_match));
  if (!current || current->deleted || current->version != *wanted) {
    return fhirError(
        "precondition-failed",
        "version conflict on " + type + "/" + id + ": If-Match asked for version " +
            std::to_string(*wanted) + ", current version is " +
            (current && !current->deleted ? std::to_string(current->version) : "none"));
  }
  return ok();
}

}  // namespace

bool isValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return false;
  }
  return true;
}

Result<Json> parseResource(const search::Indexer& indexer, std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return fhirError("structure", "the request has no body; send a FHIR resource as JSON");
  auto json = parseJson(body);
  if (!json.has_value()) return fhirError("structure", json.error().message);
  if (!json->is_object())
    return fhirError("structure", "the body must be a JSON object (a FHIR resource)");
  auto rt = json->find("resourceType");
  if (rt == json->end() || !rt->is_string())
    return fhirError("structure", "the resource has no resourceType");
  if (!indexer.definitions().isResourceType(rt->get<std::string>()))
    return fhirError("structure", "unknown resourceType \"" + rt->get<std::string>() + "\"");
  // The id's syntax is checked by update (create ignores a body id).
  if (auto id = json->find("id"); id != json->end() && !id->is_string())
    return fhirError("value", "resource id must be a string, got " + id->dump());
  if (auto meta = json->find("meta"); meta != json->end() && !meta->is_object())
    return fhirError("structure", "meta must be an object");
  return json;
}

Interactions::Interactions(ResourceStore& store, const search::Indexer& indexer, Random& random,
                           const FhirOptions& options)
    : store_(store), indexer_(indexer), random_(random), options_(options) {}

std::string Interactions::newId() { return newUuid(random_); }

void Interactions::deferChecks(const store::Transaction& tx) {
  std::lock_guard lock(deferred_mu_);
  deferred_[&tx];
}

Interactions::DeferredChecks* Interactions::deferredFor(const store::Transaction& tx) {
  std::lock_guard lock(deferred_mu_);
  auto it = deferred_.find(&tx);
  // std::map nodes stay put: the pointer outlives the lock (one thread uses one tx).
  return it == deferred_.end() ? nullptr : &it->second;
}

Status Interactions::finishDeferredChecks(store::Transaction& tx, bool run) {
  DeferredChecks checks;
  {
    std::lock_guard lock(deferred_mu_);
    auto it = deferred_.find(&tx);
    if (it == deferred_.end()) return ok();
    checks = std::move(it->second);
    deferred_.erase(it);
  }
  if (!run) return ok();
  for (const auto& [type, id] : checks.deletes) {
    // Re-created later in the same Bundle: nothing dangles.
    CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, type, id));
    if (current && current->deleted) CHTLINK_TRY(checkNotReferenced(tx, type, id));
  }
  for (const auto& w : checks.writes) CHTLINK_TRY(checkReferencesExist(tx, w.type, w.id, w.refs));
  return ok();
}

Result<std::vector<StoredVersion>> Interactions::matchQuery(store::Transaction& tx,
                                                            const std::string& type,
                                                            const QueryParams& query, int limit) {
  search::ParseOptions strict;
  strict.strict = true;
  CHTLINK_ASSIGN_OR_RETURN(search::SearchQuery q,
                           search::parseSearch(indexer_, type, query, strict));
  if (q.clauses.empty())
    return fhirError("invalid", "a conditional request needs at least one search parameter");
  // Search-then-write must not interleave with another process's (PostgreSQL, several
  // instances): two conditional creates of one resource would both find nothing.
  CHTLINK_TRY(tx.lockUntilCommit("fhir.conditional." + type));
  return store_.match(tx, q, limit);
}

Status Interactions::resolveConditionalReferences(store::Transaction& tx, Json& node) {
  if (node.is_array()) {
    for (auto& item : node) CHTLINK_TRY(resolveConditionalReferences(tx, item));
    return ok();
  }
  if (!node.is_object()) return ok();
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (it.key() == "reference" && it->is_string()) {
      const std::string ref = it->get<std::string>();
      auto q = ref.find('?');
      if (q == std::string::npos || ref.rfind("http", 0) == 0 || ref[0] == '#') continue;
      std::string type = ref.substr(0, q);
      if (!type.empty() && type.back() == '/') type.pop_back();
      if (!indexer_.definitions().isResourceType(type))
        return fhirError("invalid", "reference \"" + ref + "\" names an unknown resource type");
      CHTLINK_ASSIGN_OR_RETURN(auto matches,
                               matchQuery(tx, type, net::parseQuery(ref.substr(q + 1)), 2));
      if (matches.empty())
        return fhirError("not-found", "reference \"" + ref + "\" matches no resource");
      if (matches.size() > 1)
        return fhirError("multiple-matches",
                         "reference \"" + ref + "\" matches more than one resource");
      *it = type + "/" + matches[0].id;
    } else if (it->is_structured()) {
      CHTLINK_TRY(resolveConditionalReferences(tx, *it));
    }
  }
  return ok();
}

Result<Outcome> Interactions::writeVersion(store::Transaction& tx, const std::string& type,
                                           const std::string& id, Json body,
                                           const std::optional<StoredVersion>& current,
                                           std::string_view method) {
  if (validator_) CHTLINK_TRY(validation::checkBeforeWrite(*validator_, body, validation_mode_));
  if (notifier_) CHTLINK_TRY(notifier_->prepare(type, body));
  CHTLINK_TRY(resolveConditionalReferences(tx, body));
  if (options_.referential_integrity_on_write) {
    auto refs = localReferences(indexer_, body, type);
    if (!refs.empty()) {
      if (DeferredChecks* d = deferredFor(tx))
        d->writes.push_back({type, id, std::move(refs)});
      else
        CHTLINK_TRY(checkReferencesExist(tx, type, id, refs));
    }
  }
  bool live = current && !current->deleted;
  search::IndexRows indexed;
  CHTLINK_ASSIGN_OR_RETURN(StoredVersion v,
                           store_.write(tx, type, id, std::move(body), current, method,
                                        /*keep_unchanged=*/true, notifier_ ? &indexed : nullptr));
  if (v.unchanged) return Outcome{200, std::move(v), false, std::nullopt};
  if (notifier_) CHTLINK_TRY(notifier_->afterWrite(tx, v, &indexed));
  return Outcome{live ? 200 : 201, std::move(v), !live, std::nullopt};
}

Result<Outcome> Interactions::create(store::Transaction& tx, const std::string& type, Json body,
                                     std::string_view if_none_exist) {
  if (body.value("resourceType", "") != type)
    return fhirError("invalid", "resourceType \"" + body.value("resourceType", "") +
                                    "\" does not match the URL type " + type);
  if (!if_none_exist.empty()) {
    std::string_view q = if_none_exist;
    if (auto mark = q.find('?'); mark != std::string_view::npos) q.remove_prefix(mark + 1);
    CHTLINK_ASSIGN_OR_RETURN(auto matches, matchQuery(tx, type, net::parseQuery(q), 2));
    if (matches.size() > 1)
      return fhirError("multiple-matches", "If-None-Exist \"" + std::string(if_none_exist) +
                                               "\" matches more than one " + type);
    if (matches.size() == 1) return Outcome{200, std::move(matches[0]), true, std::nullopt};
  }
  body.erase("id");  // the server assigns ids on create
  return writeVersion(tx, type, newId(), std::move(body), std::nullopt, "POST");
}

Result<Outcome> Interactions::update(store::Transaction& tx, const std::string& type,
                                     const std::string& id, Json body, std::string_view if_match,
                                     std::string_view if_none_match) {
  if (body.value("resourceType", "") != type)
    return fhirError("invalid", "resourceType \"" + body.value("resourceType", "") +
                                    "\" does not match the URL type " + type);
  if (!isValidId(id)) return fhirError("invalid", "invalid id \"" + id + "\" in the URL");
  auto body_id = body.find("id");
  if (body_id == body.end())
    return fhirError("invalid",
                     "the resource has no id; an update needs the id of the URL (" + id + ")");
  if (*body_id != id)
    return fhirError(
        "invalid", "resource id " + body_id->dump() + " does not match the URL id \"" + id + "\"");
  CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, type, id));
  CHTLINK_TRY(checkIfMatch(if_match, current, type, id));
  if (if_none_match == "*" && current && !current->deleted)
    return fhirError("precondition-failed", type + "/" + id + " exists and If-None-Match is *");
  auto written = writeVersion(tx, type, id, std::move(body), current, "PUT");
  // A concurrent write of another instance replaced the version If-Match named: 412, as when
  // the check above sees it.
  if (!written.has_value() && !if_match.empty() && written.error().reason == "version_conflict")
    return fhirError("precondition-failed", written.error().message);
  return written;
}

Result<Outcome> Interactions::conditionalUpdate(store::Transaction& tx, const std::string& type,
                                                const QueryParams& query, Json body,
                                                std::string_view if_match) {
  CHTLINK_ASSIGN_OR_RETURN(auto matches, matchQuery(tx, type, query, 2));
  if (matches.size() > 1)
    return fhirError("multiple-matches", "the conditional update matches more than one " + type);
  std::string body_id =
      body.contains("id") && body["id"].is_string() ? body["id"].get<std::string>() : "";
  if (matches.empty()) {
    if (!body_id.empty()) return update(tx, type, body_id, std::move(body), if_match, "");
    if (body.value("resourceType", "") != type)
      return fhirError("invalid", "resourceType does not match the URL type " + type);
    return writeVersion(tx, type, newId(), std::move(body), std::nullopt, "PUT");
  }
  if (!body_id.empty() && body_id != matches[0].id)
    return fhirError("invalid", "resource id \"" + body_id + "\" differs from the matched " + type +
                                    "/" + matches[0].id);
  body["id"] = matches[0].id;
  return update(tx, type, matches[0].id, std::move(body), if_match, "");
}

Result<Outcome> Interactions::patch(store::Transaction& tx, const std::string& type,
                                    const std::string& id, const Json& patch,
                                    std::string_view if_match) {
  if (!patch.is_array())
    return fhirError("invalid", "a JSON Patch body must be an array of operations");
  CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, type, id));
  if (!current) return fhirError("not-found", type + "/" + id + " does not exist");
  if (current->deleted) return fhirError("deleted", type + "/" + id + " was deleted");
  CHTLINK_TRY(checkIfMatch(if_match, current, type, id));
  CHTLINK_ASSIGN_OR_RETURN(Json doc, parseJson(current->json));
  Json patched;
  try {
    patched = doc.patch(patch);
  } catch (const Json::exception& e) {
    return fhirError("processing", std::string("JSON Patch could not be applied: ") + e.what());
  }
  if (!patched.is_object() || patched.value("resourceType", "") != type ||
      patched.value("id", "") != id)
    return fhirError("processing", "JSON Patch must not change resourceType or id");
  return writeVersion(tx, type, id, std::move(patched), current, "PATCH");
}

Result<Outcome> Interactions::remove(store::Transaction& tx, const std::string& type,
                                     const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, type, id));
  if (!current || current->deleted) {
    // Delete is idempotent (http.html#delete).
    return Outcome{200, std::nullopt, false,
                   operationOutcome("warning", "not-found",
                                    type + "/" + id + " does not exist or is already deleted")};
  }
  if (options_.referential_integrity_on_delete) {
    if (DeferredChecks* d = deferredFor(tx))
      d->deletes.emplace_back(type, id);
    else
      CHTLINK_TRY(checkNotReferenced(tx, type, id));
  }
  CHTLINK_ASSIGN_OR_RETURN(StoredVersion v, store_.remove(tx, *current));
  if (notifier_) CHTLINK_TRY(notifier_->afterDelete(tx, v));
  return Outcome{200, std::move(v), false,
                 operationOutcome("information", "informational",
                                  "Successfully deleted 1 resource(s): " + type + "/" + id)};
}

Result<Outcome> Interactions::conditionalRemove(store::Transaction& tx, const std::string& type,
                                                const QueryParams& query) {
  CHTLINK_ASSIGN_OR_RETURN(auto matches, matchQuery(tx, type, query, 2));
  if (matches.size() > 1)
    return fhirError("multiple-matches", "the conditional delete matches more than one " + type +
                                             "; only single deletes are supported");
  if (matches.empty())
    return Outcome{
        200, std::nullopt, false,
        operationOutcome("warning", "not-found", "no " + type + " matched; nothing deleted")};
  return remove(tx, type, matches[0].id);
}

Result<Outcome> Interactions::read(store::Transaction& tx, const std::string& type,
                                   const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(auto current, store_.readCurrent(tx, type, id));
  if (!current) return fhirError("not-found", type + "/" + id + " is not known");
  if (current->deleted) return fhirError("deleted", type + "/" + id + " was deleted");
  return Outcome{200, std::move(current), false, std::nullopt};
}

Result<Outcome> Interactions::vread(store::Transaction& tx, const std::string& type,
                                    const std::string& id, std::string_view version) {
  auto v = parseEtag(version);
  if (!v)
    return fhirError("not-found", "version \"" + std::string(version) + "\" of " + type + "/" + id +
                                      " is not known");
  CHTLINK_ASSIGN_OR_RETURN(auto found, store_.readVersion(tx, type, id, *v));
  if (!found)
    return fhirError("not-found", "version " + std::string(version) + " of " + type + "/" + id +
                                      " is not known");
  if (found->deleted)
    return fhirError(
        "deleted", "version " + std::string(version) + " of " + type + "/" + id + " is a deletion");
  return Outcome{200, std::move(found), false, std::nullopt};
}

}  // namespace chtlink::fhir
