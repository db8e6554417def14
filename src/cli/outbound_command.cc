// `chtlink outbound dry-run`: evaluates app_settings.outbound against documents and shows,
// per document, which configurations apply and the exact payload and hash CHT would send, or
// the error (configuration, key, document, JavaScript message). Nothing is sent.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cht/client/cht_client.h"
#include "cht/outbound/config.h"
#include "cht/outbound/mapper.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "net/event_loop.h"
#include "script/engine.h"
#include "script/platform.h"

namespace chtlink::cli {
namespace {

using cht::outbound::OrderedJson;

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFound("cannot open " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A documents file: an array of docs, {"docs":[...]}, an _all_docs answer ({"rows":[{doc}]})
// or one doc.
Result<std::vector<OrderedJson>> readDocs(const std::string& path) {
  CHTLINK_ASSIGN_OR_RETURN(std::string text, readFile(path));
  auto parsed = cht::outbound::parseOrderedJson(text);
  if (!parsed) return parsed.error().withContext(path + " is not valid JSON: ");
  std::vector<OrderedJson> docs;
  auto& json = *parsed;
  if (json.is_array()) {
    for (auto& doc : json) docs.push_back(std::move(doc));
  } else if (json.is_object() && json.contains("docs") && json["docs"].is_array()) {
    for (auto& doc : json["docs"]) docs.push_back(std::move(doc));
  } else if (json.is_object() && json.contains("rows") && json["rows"].is_array()) {
    for (auto& row : json["rows"]) {
      if (row.is_object() && row.contains("doc") && row["doc"].is_object()) {
        docs.push_back(std::move(row["doc"]));
      }
    }
  } else if (json.is_object()) {
    docs.push_back(std::move(json));
  } else {
    return invalidArgument(path +
                           ": expected a document, an array of documents, "
                           "{\"docs\":[...]} or an _all_docs answer");
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].is_object()) {
      return invalidArgument(path + ": document #" + std::to_string(i + 1) + " is not an object");
    }
  }
  return docs;
}

// Sentinel never runs transitions on these (cht.md 1.1, 1.7).
bool sentinelSkips(const OrderedJson& doc) {
  const std::string id = doc.value("_id", std::string());
  if (id.rfind("_design/", 0) == 0) return true;
  if (id.size() >= 5 && id.compare(id.size() - 5, 5, "-info") == 0) return true;
  return doc.value("_deleted", false) == true;
}

struct Totals {
  size_t docs = 0;
  size_t skipped = 0;
  size_t payloads = 0;
  size_t errors = 0;
};

void report(const cht::outbound::OutboundSettings& settings, const OrderedJson& doc,
            const cht::outbound::DocumentOutcome& outcome, bool json_lines, Totals& totals) {
  ++totals.docs;
  if (json_lines) {
    OrderedJson line = OrderedJson::object();
    line["doc_id"] = outcome.doc_id;
    line["pushes"] = OrderedJson::array();
    for (const auto& push : outcome.pushes) {
      OrderedJson item = OrderedJson::object();
      item["config"] = push.config;
      if (push.payload) {
        const auto* config = settings.find(push.config);
        item["url"] = config ? cht::outbound::joinUrl(config->base_url, config->path) : "";
        item["hash"] = push.payload->hash;
        item["payload"] = push.payload->value;
        ++totals.payloads;
      } else {
        item["error"] = push.error->message;
        ++totals.errors;
      }
      line["pushes"].push_back(std::move(item));
    }
    std::cout << cht::outbound::jsStringify(line) << "\n";
    return;
  }
  std::cout << outcome.doc_id;
  if (doc.contains("type") && doc["type"].is_string()) {
    std::cout << " (" << doc["type"].get<std::string>() << ")";
  }
  std::cout << "\n";
  if (outcome.pushes.empty()) std::cout << "  no outbound config applies\n";
  for (const auto& push : outcome.pushes) {
    if (push.payload) {
      ++totals.payloads;
      const auto* config = settings.find(push.config);
      std::cout << "  " << push.config << " -> POST "
                << (config ? cht::outbound::joinUrl(config->base_url, config->path) : "?")
                << "\n    hash    " << push.payload->hash << "\n    payload " << push.payload->body
                << "\n";
    } else {
      ++totals.errors;
      std::cout << "  " << push.config << ": ERROR " << push.error->message << "\n";
    }
  }
}

}  // namespace

int outboundDryRunCommand(const OutboundDryRunArgs& args) {
  if (args.docs_file.empty() == args.cht_url.empty()) {
    std::cerr << "chtlink: outbound dry-run needs exactly one of --docs FILE or --cht URL\n";
    return kExitUsage;
  }
  if (args.settings_file.empty() && args.cht_url.empty()) {
    std::cerr << "chtlink: outbound dry-run needs --settings FILE (or --cht URL to read them)\n";
    return kExitUsage;
  }
  auto logger = std::make_shared<spdlog::logger>("dry-run",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());

  // The composition root of this command owns the process-wide JavaScript state.
  auto platform = script::Platform::initialize();
  if (!platform) {
    std::cerr << "chtlink: " << platform.error().message << "\n";
    return kExitFailure;
  }
  script::EngineOptions engine_options;
  engine_options.time_limit = std::chrono::milliseconds(args.time_limit_ms);
  auto engine = script::Engine::create(**platform, engine_options, logger);
  if (!engine) {
    std::cerr << "chtlink: " << engine.error().message << "\n";
    return kExitFailure;
  }

  std::unique_ptr<net::EventLoop> loop;
  std::unique_ptr<net::HttpClient> http;
  std::optional<cht::ChtClient> client;
  if (!args.cht_url.empty()) {
    loop = std::make_unique<net::EventLoop>(1, logger);
    loop->start();
    net::ClientOptions client_options;
    client_options.verify_tls = !args.insecure;
    client_options.error_log = logger;
    http = net::makeBeastHttpClient(*loop, client_options);
    auto created = cht::ChtClient::create(
        *http, cht::ChtClientOptions{args.cht_url, args.user, args.password, {}});
    if (!created) {
      std::cerr << "chtlink: " << created.error().message << "\n";
      return kExitUsage;
    }
    client.emplace(std::move(created).value());
  }
  auto finish = [&](int code) {
    http.reset();
    if (loop) loop->stop();
    return code;
  };

  Result<cht::outbound::OutboundSettings> settings = internalError("unset");
  if (!args.settings_file.empty()) {
    auto text = readFile(args.settings_file);
    if (!text) {
      std::cerr << "chtlink: " << text.error().message << "\n";
      return finish(kExitUsage);
    }
    settings = cht::outbound::parseOutboundSettingsText(*text);
  } else {
    auto fetched = client->getSettings();
    if (!fetched) {
      std::cerr << "chtlink: reading app_settings from CHT: " << fetched.error().message << "\n";
      return finish(kExitFailure);
    }
    settings = cht::outbound::parseOutboundSettings(*fetched);
  }
  if (!settings) {
    std::cerr << "chtlink: " << settings.error().message << "\n";
    return finish(kExitUsage);
  }

  Totals totals;
  bool config_problems = false;
  for (const auto& config : settings->configs) {
    if (config.problem) {
      config_problems = true;
      std::cerr << "config error: " << config.problem->message << "\n";
    } else if (!config.relevant_to) {
      std::cerr << "note: outbound config '" << config.name
                << "' has no relevant_to: it never applies\n";
    }
  }
  if (!settings->enabled) {
    std::cerr << "note: app_settings.transitions.mark_for_outbound is not enabled: CHT sends "
                 "nothing until it is\n";
  }

  auto evaluate = [&](const OrderedJson& doc) {
    if (sentinelSkips(doc)) {
      ++totals.skipped;
      return;
    }
    const std::string text = cht::outbound::jsStringify(doc);
    auto outcome = (*engine)->runSync<cht::outbound::DocumentOutcome>(
        text, [&](script::Session& session) -> Result<cht::outbound::DocumentOutcome> {
          return cht::outbound::evaluateDocument(session, *settings, doc);
        });
    report(*settings, doc, *outcome, args.json, totals);
  };

  if (!args.docs_file.empty()) {
    auto docs = readDocs(args.docs_file);
    if (!docs) {
      std::cerr << "chtlink: " << docs.error().message << "\n";
      return finish(kExitUsage);
    }
    for (const auto& doc : *docs) {
      if (args.limit > 0 && totals.docs >= static_cast<size_t>(args.limit)) break;
      evaluate(doc);
    }
  } else {
    cht::AllDocsQuery query;
    bool hydrate = true;
    for (;;) {
      query.limit = 500;
      auto rows = client->allDocs(query);
      if (!rows) {
        std::cerr << "chtlink: " << rows.error().message << "\n";
        return finish(kExitFailure);
      }
      std::vector<std::string> ids;
      for (const auto& row : *rows) {
        if (query.start_key && row.id == *query.start_key) continue;  // the page boundary
        if (row.doc && !sentinelSkips(*row.doc)) ids.push_back(row.id);
      }
      std::map<std::string, OrderedJson> hydrated;
      if (hydrate && !ids.empty()) {
        auto answer = client->hydrate(ids);
        if (answer) {
          for (auto& item : *answer) {
            if (item.doc) hydrated.emplace(item.id, std::move(*item.doc));
          }
        } else {
          hydrate = false;
          std::cerr << "warning: cannot hydrate documents (" << answer.error().message
                    << "); evaluating them as stored, without parent/contact lineage\n";
        }
      }
      bool done = false;
      for (auto& row : *rows) {
        if (query.start_key && row.id == *query.start_key) continue;
        if (!row.doc) continue;
        if (args.limit > 0 && totals.docs >= static_cast<size_t>(args.limit)) {
          done = true;
          break;
        }
        auto found = hydrated.find(row.id);
        evaluate(found != hydrated.end() ? found->second : *row.doc);
      }
      if (done || rows->size() < static_cast<size_t>(query.limit) ||
          (query.start_key && rows->size() <= 1)) {
        break;
      }
      query.start_key = rows->back().id;
    }
  }
  if (!args.json) {
    std::cout << "Summary: " << totals.docs << " documents, " << totals.payloads << " payloads, "
              << totals.errors << " errors";
    if (totals.skipped > 0) std::cout << ", " << totals.skipped << " skipped (design/info/deleted)";
    std::cout << "\n";
  }
  return finish(totals.errors > 0 || config_problems ? kExitFailure : kExitOk);
}

}  // namespace chtlink::cli
