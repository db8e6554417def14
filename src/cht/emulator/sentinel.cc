// cht-sim's Sentinel (cht.md 6.3): per committed change, hydrate, short codes,
// mark_for_outbound through the shared outbound engine, info docs, task:outbound:* and the
// scheduler of 3.5.
#include <spdlog/spdlog.h>

#include <ctime>

#include "cht/emulator/sim_internal.h"
#include "cht/outbound/cron.h"
#include "cht/outbound/mapper.h"

namespace chtlink::cht::emulator {
namespace {

constexpr int kMaxLineage = 50;

std::string isoTime(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(ms % 1000));
  return text;
}

std::string text(const OrderedJson& doc, const char* key) {
  auto found = doc.find(key);
  return found != doc.end() && found->is_string() ? found->get<std::string>() : std::string();
}

bool hasId(const OrderedJson& value) {
  return value.is_object() && value.contains("_id") && value["_id"].is_string();
}

// The effective contact type (cht.md 1.2) and whether it is a person type.
std::optional<bool> contactKind(const OrderedJson& doc, const OrderedJson& settings) {
  std::string type = text(doc, "type");
  if (type == "contact") type = text(doc, "contact_type");
  if (type == "person") return true;
  if (type == "district_hospital" || type == "health_center" || type == "clinic") return false;
  if (auto types = settings.find("contact_types"); types != settings.end() && types->is_array()) {
    for (const auto& entry : *types) {
      if (text(entry, "id") == type) return entry.value("person", false);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::optional<std::string>> ChtSimImpl::get(std::string_view key) {
  CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kVault, "credential:" + std::string(key)));
  if (!stored || stored->deleted) return std::optional<std::string>();
  return std::optional<std::string>(text(stored->body, "password"));
}

Result<OrderedJson> ChtSimImpl::hydrate(const OrderedJson& doc, HydrateMemo* memo) {
  auto fetch = [this, memo](const std::string& id) -> Result<std::optional<OrderedJson>> {
    if (memo) {
      if (auto known = memo->find(id); known != memo->end()) return known->second;
    }
    CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kMedic, id));
    std::optional<OrderedJson> body;
    if (stored && !stored->deleted) body = stored->body;
    if (memo) (*memo)[id] = body;
    return body;
  };
  // Ancestors' contacts are fetched one level deep: a contact's own parent is the place
  // being hydrated, so following it would loop.
  std::function<Result<OrderedJson>(const OrderedJson&, int)> lineage =
      [&](const OrderedJson& stub, int depth) -> Result<OrderedJson> {
    if (!hasId(stub) || depth > kMaxLineage) return stub;
    CHTLINK_ASSIGN_OR_RETURN(auto full, fetch(stub["_id"].get<std::string>()));
    if (!full) return stub;  // a missing ancestor stays a stub
    if (full->contains("parent")) {
      CHTLINK_ASSIGN_OR_RETURN((*full)["parent"], lineage((*full)["parent"], depth + 1));
    }
    if (full->contains("contact") && hasId((*full)["contact"])) {
      CHTLINK_ASSIGN_OR_RETURN(auto contact, fetch((*full)["contact"]["_id"].get<std::string>()));
      if (contact) (*full)["contact"] = std::move(*contact);
    }
    return std::move(*full);
  };
  OrderedJson out = doc;
  if (out.contains("parent")) {
    CHTLINK_ASSIGN_OR_RETURN(out["parent"], lineage(out["parent"], 1));
  }
  if (out.contains("contact") && hasId(out["contact"])) {
    CHTLINK_ASSIGN_OR_RETURN(out["contact"], lineage(out["contact"], 1));
  }
  if (text(out, "type") == "data_record") {
    const auto fields = out.value("fields", OrderedJson::object());
    for (const auto& subject :
         {text(fields, "patient_id"), text(fields, "patient_uuid"), text(out, "patient_id")}) {
      if (subject.empty()) continue;
      OrderedJson stub = OrderedJson::object();
      stub["_id"] = subject;
      CHTLINK_ASSIGN_OR_RETURN(auto patient, lineage(stub, 1));
      if (patient.size() > 1) {
        out["patient"] = std::move(patient);
        break;
      }
    }
    for (const auto& subject : {text(fields, "place_id"), text(out, "place_id")}) {
      if (subject.empty()) continue;
      OrderedJson stub = OrderedJson::object();
      stub["_id"] = subject;
      CHTLINK_ASSIGN_OR_RETURN(auto place, lineage(stub, 1));
      if (place.size() > 1) {
        out["place"] = std::move(place);
        break;
      }
    }
  }
  return out;
}

Result<OrderedJson> ChtSimImpl::minify(const OrderedJson& doc) {
  std::function<OrderedJson(const OrderedJson&, int)> stub = [&](const OrderedJson& value,
                                                                 int depth) -> OrderedJson {
    if (!hasId(value) || depth > kMaxLineage) return value;
    OrderedJson out = OrderedJson::object();
    out["_id"] = value["_id"];
    if (value.contains("parent") && hasId(value["parent"])) {
      out["parent"] = stub(value["parent"], depth + 1);
    }
    return out;
  };
  OrderedJson out = doc;
  if (out.contains("parent")) out["parent"] = stub(out["parent"], 1);
  if (out.contains("contact") && hasId(out["contact"])) out["contact"] = stub(out["contact"], 1);
  if (text(out, "type") == "data_record") {
    out.erase("patient");
    out.erase("place");
  }
  return out;
}

void ChtSimImpl::ensureInfoDocs(const std::vector<std::string>& ids) {
  std::vector<std::string> info_ids;
  for (const auto& id : ids) {
    if (id.rfind("_design/", 0) == 0 || (id.size() > 5 && id.ends_with("-info"))) continue;
    info_ids.push_back(id + "-info");
  }
  if (info_ids.empty()) return;
  auto existing = docs_.getMany(kSentinel, info_ids);
  if (!existing) {
    logger_->warn("cht-sim: info docs: {}", existing.error().message);
    return;
  }
  std::vector<OrderedJson> missing;
  for (const auto& info_id : info_ids) {
    auto found = existing->find(info_id);
    if (found != existing->end() && !found->second.deleted) continue;
    OrderedJson info = OrderedJson::object();
    info["_id"] = info_id;
    if (found != existing->end()) info["_rev"] = found->second.rev;
    info["type"] = "info";
    info["doc_id"] = info_id.substr(0, info_id.size() - 5);
    info["initial_replication_date"] = isoTime(nowMs());
    info["latest_replication_date"] = isoTime(nowMs());
    info["completed_tasks"] = OrderedJson::array();
    missing.push_back(std::move(info));
  }
  if (missing.empty()) return;
  auto written = docs_.putMany(kSentinel, std::move(missing));
  if (!written) logger_->warn("cht-sim: info docs: {}", written.error().message);
}

Result<OrderedJson> ChtSimImpl::loadInfo(const std::string& id) {
  CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kSentinel, id + "-info"));
  if (stored && !stored->deleted) return stored->body;
  OrderedJson info = OrderedJson::object();
  info["_id"] = id + "-info";
  if (stored) info["_rev"] = stored->rev;
  info["type"] = "info";
  info["doc_id"] = id;
  info["initial_replication_date"] = isoTime(nowMs());
  info["latest_replication_date"] = isoTime(nowMs());
  info["completed_tasks"] = OrderedJson::array();
  return info;
}

Result<bool> ChtSimImpl::pushOne(const outbound::PushConfig& config, const OrderedJson& hydrated,
                                 OrderedJson& info) {
  const std::string text_doc = outbound::jsStringify(hydrated);
  CHTLINK_ASSIGN_OR_RETURN(
      auto payload, engine_.runSync<outbound::Payload>(text_doc, [&](script::Session& session) {
        return outbound::mapDocument(session, config, hydrated);
      }));
  // Dedupe against the last send of this config (3.6).
  const auto& tasks = info["completed_tasks"];
  for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) {
    if (text(*it, "type") == "outbound" && text(*it, "name") == config.name) {
      if (text(*it, "hash") == payload.hash) return true;
      break;
    }
  }
  CHTLINK_ASSIGN_OR_RETURN(auto request, outbound::buildPushRequest(config, payload, *this));
  CHTLINK_TRY(outbound::sendPush(http_, request));
  OrderedJson completed = OrderedJson::object();
  completed["type"] = "outbound";
  completed["name"] = config.name;
  completed["timestamp"] = nowMs();
  completed["hash"] = payload.hash;
  info["completed_tasks"].push_back(std::move(completed));
  return true;
}

void ChtSimImpl::sentinelPass(const std::string& id) {
  if (id.rfind("_design/", 0) == 0 || (id.size() > 5 && id.ends_with("-info"))) return;
  if (id == "settings") return;
  auto app_settings = settings();
  if (!app_settings) return;
  const auto transitions = app_settings->value("transitions", OrderedJson::object());
  auto enabled = [&](const char* name) {
    auto found = transitions.find(name);
    if (found == transitions.end()) return false;
    if (found->is_object()) return !found->value("disable", false);
    return found->is_boolean() && found->get<bool>();
  };
  // Nothing for this Sentinel to do (and nothing it would record) with its transitions off.
  if (!enabled("generate_patient_id_on_people") && !enabled("generate_shortcode_on_contacts") &&
      !enabled("mark_for_outbound")) {
    return;
  }
  auto stored = docs_.get(kMedic, id);
  if (!stored || !*stored || (*stored)->deleted) return;
  auto hydrated = hydrate((*stored)->body);
  if (!hydrated) {
    logger_->warn("cht-sim sentinel: cannot hydrate {}: {}", id, hydrated.error().message);
    return;
  }
  auto info = loadInfo(id);
  if (!info) return;
  const OrderedJson loaded_info = *info;

  // Short codes (1.5): n random digits and a weighted mod-11 check digit.
  std::optional<OrderedJson> updated;
  if (enabled("generate_patient_id_on_people") || enabled("generate_shortcode_on_contacts")) {
    auto kind = contactKind(*hydrated, *app_settings);
    // generate_patient_id_on_people covers people only; generate_shortcode_on_contacts all.
    const char* field = nullptr;
    if (kind && *kind) field = "patient_id";
    if (kind && !*kind && enabled("generate_shortcode_on_contacts")) field = "place_id";
    if (field && text(*hydrated, field).empty()) {
      std::string code;
      int sum = 0;
      for (int i = 0; i < 4; ++i) {
        int digit = static_cast<int>(random_.next64() % 10);
        code += static_cast<char>('0' + digit);
        sum += digit * (5 - i);
      }
      code += static_cast<char>('0' + (sum % 11 == 10 ? 0 : sum % 11));
      (*hydrated)[field] = code;
      updated = (*stored)->body;
      (*updated)[field] = code;
      OrderedJson record = OrderedJson::object();
      record["last_rev"] = (*stored)->rev;
      record["seq"] = DocStore::renderSeq((*stored)->seq);
      record["ok"] = true;
      record["run_date"] = isoTime(nowMs());
      (*info)["transitions"]["generate_patient_id_on_people"] = std::move(record);
    }
  }

  if (enabled("mark_for_outbound")) {
    auto parsed = outbound::parseOutboundSettings(*app_settings);
    if (parsed) {
      // relevant_to of every config, in one hop to the script pool.
      const std::string text_doc = outbound::jsStringify(*hydrated);
      auto relevant = engine_.runSync<std::vector<std::string>>(
          text_doc, [&](script::Session& session) -> Result<std::vector<std::string>> {
            std::vector<std::string> names;
            for (const auto& config : parsed->configs) {
              if (!config.relevant_to) continue;
              auto value = session.evaluate(*config.relevant_to,
                                            "relevant_to of outbound config '" + config.name + "'");
              if (!value) {
                logger_->warn("cht-sim sentinel: {} on {}", value.error().message, id);
                continue;
              }
              if (value->truthy) names.push_back(config.name);
            }
            return names;
          });
      std::vector<std::string> failed;
      for (const auto& name : relevant ? *relevant : std::vector<std::string>{}) {
        const auto* config = parsed->find(name);
        if (config->cron && !outbound::cronDue(*config->cron, clock_.now())) {
          failed.push_back(name);
          continue;
        }
        auto sent = pushOne(*config, *hydrated, *info);
        if (!sent) {
          logger_->warn("cht-sim sentinel: failed to push {} to {}: {}", id, name,
                        sent.error().message);
          failed.push_back(name);
        }
      }
      if (!failed.empty()) {
        auto task = docs_.get(kSentinel, "task:outbound:" + id);
        if (task && (!*task || (*task)->deleted)) {
          OrderedJson doc = OrderedJson::object();
          doc["_id"] = "task:outbound:" + id;
          if (*task) doc["_rev"] = (*task)->rev;
          doc["type"] = "task:outbound";
          doc["created"] = nowMs();
          doc["doc_id"] = id;
          doc["queue"] = failed;
          (void)docs_.put(kSentinel, std::move(doc));
        }
      }
    }
  }
  if (*info != loaded_info || !info->contains("_rev")) {
    auto saved = docs_.put(kSentinel, *info);
    if (!saved) logger_->warn("cht-sim sentinel: info doc of {}: {}", id, saved.error().message);
  }
  if (updated) {
    auto minified = minify(*updated);
    if (minified) {
      auto written = docs_.put(kMedic, std::move(*minified));
      if (written) {
        afterWrite();
        sentinelPass(id);  // the new rev re-enters the pass; unchanged payloads dedupe
      }
    }
  }
}

void ChtSimImpl::runScheduler() {
  next_schedule_ = clock_.now() + options_.scheduler_interval;
  auto app_settings = settings();
  if (!app_settings) return;
  auto parsed = outbound::parseOutboundSettings(*app_settings);
  if (!parsed) return;
  auto due = [&](const outbound::PushConfig& config) {
    return !config.cron || outbound::cronDue(*config.cron, clock_.now());
  };
  bool any_due = false;
  for (const auto& config : parsed->configs) any_due = any_due || due(config);
  if (!any_due) return;
  std::string start = "task:outbound:";
  for (;;) {
    auto tasks = docs_.all(kSentinel, start, "task:outbound:\xef\xbf\xbf", 1000, false);
    if (!tasks || tasks->empty()) return;
    for (const auto& task : *tasks) {
      const std::string doc_id = text(task.body, "doc_id");
      auto source = docs_.get(kMedic, doc_id);
      if (!source) continue;
      if (!*source || (*source)->deleted) {
        OrderedJson tombstone = task.body;
        tombstone["_deleted"] = true;
        (void)docs_.put(kSentinel, std::move(tombstone));
        continue;
      }
      auto hydrated = hydrate((*source)->body);
      auto info = loadInfo(doc_id);
      if (!hydrated || !info) continue;
      OrderedJson remaining = OrderedJson::array();
      for (const auto& key : task.body.value("queue", OrderedJson::array())) {
        const std::string name = key.is_string() ? key.get<std::string>() : "";
        const auto* config = parsed->find(name);
        // Renamed or deleted configs stay queued and resume if the key returns (4.12+).
        if (!config || !due(*config)) {
          remaining.push_back(key);
          continue;
        }
        auto sent = pushOne(*config, *hydrated, *info);
        if (!sent) {
          logger_->warn("cht-sim scheduler: failed to push {} to {}: {}", doc_id, name,
                        sent.error().message);
          // Deliberately fixed CHT quirk (3.5): only the key that succeeded leaves the queue.
          remaining.push_back(key);
        }
      }
      (void)docs_.put(kSentinel, *info);
      OrderedJson updated = task.body;
      if (remaining.empty()) {
        updated["_deleted"] = true;
      } else {
        updated["queue"] = std::move(remaining);
      }
      if (updated != task.body) (void)docs_.put(kSentinel, std::move(updated));
    }
    if (tasks->size() < 1000) return;
    start = tasks->back().id + '\x01';
  }
}

}  // namespace chtlink::cht::emulator
