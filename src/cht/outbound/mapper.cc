#include "cht/outbound/mapper.h"

#include "cht/outbound/hash.h"
#include "cht/outbound/object_path.h"

namespace chtlink::cht::outbound {
namespace {

std::string docId(const OrderedJson& doc) {
  auto id = doc.find("_id");
  if (doc.is_object() && id != doc.end() && id->is_string()) return id->get<std::string>();
  return "undefined";
}

// The value of an evaluated expression: nullopt for undefined; `discarded` for a value that
// JSON cannot hold (a function), which JSON.stringify then drops.
Result<std::optional<OrderedJson>> toJson(const script::Value& value) {
  if (value.undefined) return std::optional<OrderedJson>();
  if (!value.json) return std::optional<OrderedJson>(OrderedJson(OrderedJson::value_t::discarded));
  CHTLINK_ASSIGN_OR_RETURN(OrderedJson parsed, parseOrderedJson(*value.json));
  return std::optional<OrderedJson>(std::move(parsed));
}

}  // namespace

Payload makePayload(OrderedJson value) {
  Payload payload;
  payload.body = jsStringify(value);
  payload.hash = payloadHash(value);
  payload.value = std::move(value);
  return payload;
}

Result<Payload> mapDocument(script::Session& session, const PushConfig& config,
                            const OrderedJson& doc) {
  if (config.problem) return *config.problem;
  const std::string id = docId(doc);
  OrderedJson root = OrderedJson::object();
  root["doc"] = doc;
  OrderedJson payload = OrderedJson::object();
  for (const auto& entry : config.mapping) {
    const std::string where = "Mapping error for '" + config.name + "/" + entry.dest + "'";
    std::optional<OrderedJson> value;
    if (entry.expr) {
      auto evaluated =
          session.evaluate(*entry.expr, where + " JS error on source document: '" + id + "'");
      if (!evaluated) return evaluated.error();
      CHTLINK_ASSIGN_OR_RETURN(value, toJson(*evaluated));
    } else if (entry.path) {
      value = getPath(root, *entry.path);
    } else {
      return invalidArgument(where + " either 'expr' or 'path' is required: '" + id + "'",
                             "outbound_mapping");
    }
    if (!value) {
      if (!entry.required) continue;
      const std::string problem = entry.expr
                                      ? "expr evaluated to undefined"
                                      : "cannot find '" + *entry.path + "' on source document";
      return invalidArgument(where + " on source document '" + id + "': " + problem,
                             "outbound_mapping");
    }
    Status set = setPath(payload, entry.dest, std::move(*value));
    if (!set) {
      return invalidArgument(where + " on source document '" + id + "': " + set.error().message,
                             "outbound_mapping");
    }
  }
  return makePayload(std::move(payload));
}

DocumentOutcome evaluateDocument(script::Session& session, const OutboundSettings& settings,
                                 const OrderedJson& doc) {
  DocumentOutcome outcome;
  outcome.doc_id = docId(doc);
  for (const auto& config : settings.configs) {
    if (!config.relevant_to) continue;
    auto relevant =
        session.evaluate(*config.relevant_to, "relevant_to of outbound config '" + config.name +
                                                  "' on source document '" + outcome.doc_id + "'");
    if (!relevant) {
      outcome.pushes.push_back(PushOutcome{config.name, std::nullopt, relevant.error()});
      continue;
    }
    if (!relevant->truthy) continue;
    auto payload = mapDocument(session, config, doc);
    if (payload) {
      outcome.pushes.push_back(PushOutcome{config.name, std::move(*payload), std::nullopt});
    } else {
      outcome.pushes.push_back(PushOutcome{config.name, std::nullopt, payload.error()});
    }
  }
  return outcome;
}

}  // namespace chtlink::cht::outbound
