#include "fhir/rest/fhir_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fhir/rest/outcome.h"
#include "fhir/rest/service_internal.h"
#include "fhir/search/date_range.h"
#include "fhir/store/schema.h"
#include "fhir/subscription/delivery.h"
#include "fhir/subscription/schema.h"
#include "fhir/validation/validate_operation.h"
#include "net/http.h"

namespace chtlink::fhir {

FhirService::State::State(store::Database& database, const Clock& c, Random& r, FhirOptions o,
                          std::shared_ptr<spdlog::logger> l)
    : db(database),
      clock(c),
      options(std::move(o)),
      log(std::move(l)),
      definitions(Definitions::load()),
      indexer(definitions),
      store(indexer, clock),
      interactions(store, indexer, r, options),
      notifier(indexer, c, subscription::NotifierOptions{options.subscription_reload_interval, {}},
               log),
      capability_json(buildCapabilityStatement(*definitions, indexer, options)),
      validator(validation::Validator::create()),
      validation_mode(options.validation == "strict" ? validation::ValidationMode::Strict
                                                     : validation::ValidationMode::Default) {
  interactions.setNotifier(&notifier);
  interactions.setValidator(validator.get(), validation_mode);
}

namespace {

using State = FhirService::State;
constexpr std::string_view kFhirJson = "application/fhir+json;charset=utf-8";

net::Response jsonResponse(int status, std::string body) {
  net::Response r;
  r.status = status;
  r.headers.set("Content-Type", kFhirJson);
  r.body = std::move(body);
  return r;
}

net::Response errorResponse(const Error& error) {
  return jsonResponse(httpStatusOf(error), dumpJson(operationOutcomeOf(error)));
}

void setVersionHeaders(net::Response& r, const StoredVersion& v) {
  r.headers.set("ETag", fmt::format("W/\"{}\"", v.version));
  r.headers.set("Last-Modified", search::formatHttpDate(v.last_updated));
}

// Renders an interaction's outcome: headers from the version, the body per Prefer for writes.
net::Response render(const RequestContext& ctx, const Outcome& o, bool is_write) {
  net::Response r = jsonResponse(o.status, "");
  if (o.version) {
    setVersionHeaders(r, *o.version);
    if (o.location && !o.version->deleted)
      r.headers.set("Location", fmt::format("{}/{}/{}/_history/{}", ctx.base, o.version->type,
                                            o.version->id, o.version->version));
  }
  if (o.message) {
    r.body = dumpJson(*o.message);
  } else if (o.version && !o.version->deleted) {
    if (!is_write || ctx.prefer_return == PreferReturn::Representation) {
      r.body = renderResource(*o.version);
    } else if (ctx.prefer_return == PreferReturn::OperationOutcome) {
      r.body = dumpJson(operationOutcome(
          "information", "informational",
          fmt::format("{} {}/{} version {}", o.status == 201 ? "created" : "stored",
                      o.version->type, o.version->id, o.version->version)));
    }
  }
  if (r.body.empty()) r.headers.remove("Content-Type");
  return r;
}

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.push_back(net::percentDecode(path.substr(start, slash - start)));
    start = slash + 1;
  }
  return parts;
}

RequestContext contextOf(const State& state, const net::Request& req) {
  RequestContext ctx;
  if (!state.options.public_base.empty()) {
    ctx.base = state.options.public_base;
    while (!ctx.base.empty() && ctx.base.back() == '/') ctx.base.pop_back();
  } else {
    std::string proto(req.headers.get("X-Forwarded-Proto"));
    std::string host(req.headers.get("X-Forwarded-Host"));
    if (host.empty()) host = std::string(req.headers.get("Host"));
    if (host.empty()) host = state.options.host + ":" + std::to_string(state.options.port);
    ctx.base = (proto.empty() ? "http" : proto) + "://" + host + state.options.base_path;
  }
  for (const auto& [name, value] : req.headers.all()) {
    if (!(name.size() == 6 && (name[0] == 'P' || name[0] == 'p') && name.substr(1) == "refer"))
      continue;
    if (value.find("return=minimal") != std::string::npos)
      ctx.prefer_return = PreferReturn::Minimal;
    if (value.find("return=OperationOutcome") != std::string::npos)
      ctx.prefer_return = PreferReturn::OperationOutcome;
    if (value.find("handling=strict") != std::string::npos) ctx.strict = true;
  }
  return ctx;
}

// JSON request bodies: FHIR JSON, plain JSON (axios) and the DSTU2 name; XML is refused.
std::optional<Error> checkContentType(const net::Request& req, bool patch) {
  std::string ct(req.headers.get("Content-Type"));
  for (auto& c : ct) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ct.empty()) return std::nullopt;
  if (ct.find("xml") != std::string::npos)
    return fhirError("unsupported-media-type",
                     "Content-Type " + ct +
                         " is not supported: this server accepts FHIR JSON only "
                         "(application/fhir+json or application/json)");
  if (ct.find("json") == std::string::npos &&
      !(patch && ct.find("json-patch") != std::string::npos))
    return fhirError("unsupported-media-type",
                     "Content-Type " + ct + " is not supported; send application/fhir+json");
  return std::nullopt;
}

// Runs `work` on the database pool and answers with what it produced.
void runDb(const std::shared_ptr<State>& state, store::Access access,
           std::function<Result<net::Response>(store::Transaction&)> work, net::Reply reply) {
  auto out = std::make_shared<std::optional<Result<net::Response>>>();
  state->db.post(
      access,
      [out, work = std::move(work)](store::Transaction& tx) -> Status {
        out->emplace(work(tx));
        if (!(*out)->has_value()) return (*out)->error();
        return ok();
      },
      [out, reply, state](Status status) {
        if (out->has_value() && (*out)->has_value()) {
          if (status.has_value()) {
            reply(std::move(**out).value());
            return;
          }
        }
        Error err = out->has_value() && !(*out)->has_value() ? (**out).error() : status.error();
        if (httpStatusOf(err) >= 500 && state->log) state->log->error("fhir: {}", err.message);
        reply(errorResponse(err));
      });
}

Result<int64_t> parseSince(const QueryParams& params) {
  for (const auto& [k, v] : params) {
    if (k != "_since") continue;
    auto r = search::parseDateRange(v);
    if (!r) return fhirError("invalid", "_since must be an instant, got \"" + v + "\"");
    return r->low;
  }
  return int64_t{-1};
}

void handleSearch(const std::shared_ptr<State>& state, const RequestContext& ctx,
                  const std::string& type, const QueryParams& params, PageCursor cursor,
                  int64_t offset, net::Reply reply) {
  search::ParseOptions opts;
  opts.strict = ctx.strict;
  auto query = search::parseSearch(state->indexer, type, params, opts);
  if (!query.has_value()) {
    reply(errorResponse(query.error()));
    return;
  }
  int count =
      std::min(query->count.value_or(state->options.default_count), state->options.max_count);
  if (query->summary == search::Summary::Count) count = 0;
  auto q = std::make_shared<search::SearchQuery>(std::move(query).value());
  runDb(
      state, store::Access::Read,
      [state, ctx, q, cursor, count, offset](store::Transaction& tx) -> Result<net::Response> {
        PageCursor c = cursor;
        if (!q->sort.empty()) c.offset = offset;
        CHTLINK_ASSIGN_OR_RETURN(
            SearchPage page, state->store.search(tx, *q, c, count, state->options.max_includes));
        return jsonResponse(200, renderSearchBundle(ctx, *q, page, count, offset));
      },
      std::move(reply));
}

void handleHistory(const std::shared_ptr<State>& state, const RequestContext& ctx, HistoryQuery hq,
                   std::string self_path, net::Reply reply) {
  runDb(
      state, store::Access::Read,
      [state, ctx, hq, self_path](store::Transaction& tx) -> Result<net::Response> {
        if (!hq.id.empty()) {
          CHTLINK_ASSIGN_OR_RETURN(auto current, state->store.readCurrent(tx, hq.type, hq.id));
          if (!current) return fhirError("not-found", hq.type + "/" + hq.id + " is not known");
        }
        CHTLINK_ASSIGN_OR_RETURN(HistoryPage page, state->store.history(tx, hq));
        return jsonResponse(200, renderHistoryBundle(ctx, page, self_path, hq));
      },
      std::move(reply));
}

int countParam(const State& state, const QueryParams& params, int fallback) {
  for (const auto& [k, v] : params) {
    if (k == "_count") {
      try {
        return std::clamp(std::stoi(v), 0, state.options.max_count);
      } catch (const std::exception&) {
        return fallback;
      }
    }
  }
  return fallback;
}

void handleGetPages(const std::shared_ptr<State>& state, const RequestContext& ctx,
                    std::string_view token_text, net::Reply reply) {
  auto token = decodePageToken(token_text);
  if (!token.has_value()) {
    reply(errorResponse(token.error()));
    return;
  }
  if (token->kind == "history") {
    HistoryQuery hq;
    hq.type = token->type;
    hq.id = token->id;
    hq.since = token->since;
    hq.count = token->count;
    hq.snapshot = token->snapshot;
    hq.offset = token->offset;
    std::string self = hq.type.empty()
                           ? "/_history"
                           : "/" + hq.type + (hq.id.empty() ? "" : "/" + hq.id) + "/_history";
    handleHistory(state, ctx, hq, self, std::move(reply));
    return;
  }
  PageCursor cursor{token->snapshot, token->after, token->offset};
  handleSearch(state, ctx, token->type, token->params, cursor, token->offset, std::move(reply));
}

// $validate runs on the database pool: a large Bundle takes long enough to stall an I/O thread.
void handleValidate(const std::shared_ptr<State>& state, const RequestContext& ctx,
                    std::string type, std::string body, net::Reply reply) {
  auto text = std::make_shared<std::string>(std::move(body));
  auto mode = ctx.strict ? validation::ValidationMode::Strict : state->validation_mode;
  runDb(
      state, store::Access::Read,
      [state, type, text, mode](store::Transaction&) -> Result<net::Response> {
        CHTLINK_ASSIGN_OR_RETURN(
            Json outcome, validation::runValidateOperation(*state->validator, mode, type, *text));
        return jsonResponse(200, dumpJson(outcome));
      },
      std::move(reply));
}

}  // namespace

FhirService::FhirService(store::Database& db, const Clock& clock, Random& random,
                         FhirOptions options, std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<State>(db, clock, random, std::move(options), std::move(log))) {}

FhirService::~FhirService() = default;

const FhirOptions& FhirService::options() const { return state_->options; }

std::vector<store::Migration> FhirService::migrations() {
  std::vector<store::Migration> all = fhir::migrations();
  for (auto& m : subscription::migrations()) all.push_back(std::move(m));
  return all;
}

std::shared_ptr<queue::JobHandler> FhirService::subscriptionHandler(
    net::HttpClient& client, const queue::QueueOptions& queue_options, std::function<void()> wake) {
  state_->notifier.configureQueue(queue_options, std::move(wake));
  subscription::DeliveryOptions delivery;
  delivery.max_failures = state_->options.subscription_max_failures;
  return subscription::makeDeliveryHandler(state_->db, state_->store, state_->indexer, client,
                                           state_->clock, delivery, state_->log, state_);
}

void FhirService::mount(net::Router& router) {
  auto handler = [this](net::Request request, net::Reply reply) {
    handle(std::move(request), std::move(reply));
  };
  router.add("*", state_->options.base_path, handler);
  router.add("*", state_->options.base_path + "/{rest...}", handler);
}

void FhirService::handle(net::Request req, net::Reply reply) {
  const auto& state = state_;
  RequestContext ctx = contextOf(*state, req);
  std::string_view path = req.path;
  if (path.rfind(state->options.base_path, 0) == 0)
    path.remove_prefix(state->options.base_path.size());
  std::vector<std::string> seg = splitPath(path);
  QueryParams params = net::parseQuery(req.query);
  const std::string& method = req.method;

  for (const auto& [k, v] : params) {
    if (k == "_format" && v.find("xml") != std::string::npos) {
      reply(jsonResponse(406, dumpJson(operationOutcome("error", "not-supported",
                                                        "only JSON is supported (_format=json)"))));
      return;
    }
  }
  const bool has_body = method == "POST" || method == "PUT" || method == "PATCH";
  if (has_body) {
    if (req.body.size() > state->options.max_body_bytes) {
      reply(errorResponse(fhirError(
          "too-costly",
          fmt::format(
              "the request body has {} bytes; at most {} are accepted (fhir.max_body_bytes)",
              req.body.size(), state->options.max_body_bytes))));
      return;
    }
    bool form =
        req.headers.get("Content-Type").find("x-www-form-urlencoded") != std::string_view::npos;
    if (!form) {
      if (auto err = checkContentType(req, method == "PATCH")) {
        reply(errorResponse(*err));
        return;
      }
    }
  }
  auto notAllowed = [&]() {
    reply(errorResponse(fhirError("not-supported", method + " is not supported on " + req.path)));
  };

  // [base]
  if (seg.empty()) {
    if (method == "GET") {
      for (const auto& [k, v] : params) {
        if (k == "_getpages") {
          handleGetPages(state, ctx, v, std::move(reply));
          return;
        }
      }
      // System search: GET [base]?_type=Patient,Observation&... or [base]?_id=x.
      handleSearch(state, ctx, "", params, PageCursor{}, 0, std::move(reply));
      return;
    }
    if (method != "POST") return notAllowed();
    auto bundle = parseJson(req.body);
    if (!bundle.has_value())
      return reply(errorResponse(fhirError("structure", bundle.error().message)));
    if (!bundle->is_object() || bundle->value("resourceType", "") != "Bundle")
      return reply(errorResponse(
          fhirError("invalid", "POST to the base needs a Bundle of type batch or transaction")));
    std::string type = bundle->value("type", "");
    if (type != "batch" && type != "transaction")
      return reply(errorResponse(
          fhirError("invalid", "Bundle.type must be batch or transaction, got \"" + type + "\"")));
    auto b = std::make_shared<Json>(std::move(bundle).value());
    runDb(
        state, store::Access::Write,
        [state, ctx, b, type](store::Transaction& tx) -> Result<net::Response> {
          CHTLINK_ASSIGN_OR_RETURN(Json response,
                                   runBundle(*state, tx, ctx, *b, type == "transaction"));
          return jsonResponse(200, dumpJson(response));
        },
        std::move(reply));
    return;
  }
  if (seg[0] == "$validate" && seg.size() == 1) {
    if (method != "POST") return notAllowed();
    return handleValidate(state, ctx, "", std::move(req.body), std::move(reply));
  }
  if (seg[0] == "metadata" && seg.size() == 1) {
    if (method != "GET" && method != "HEAD") return notAllowed();
    std::string body = state->capability_json;
    auto pos = body.find("{{base}}");
    if (pos != std::string::npos) body.replace(pos, 8, ctx.base);
    reply(jsonResponse(200, std::move(body)));
    return;
  }
  if (seg[0] == "_search" && seg.size() == 1) {
    if (method != "POST") return notAllowed();
    QueryParams all = params;
    for (auto& p : net::parseQuery(req.body)) all.push_back(std::move(p));
    handleSearch(state, ctx, "", all, PageCursor{}, 0, std::move(reply));
    return;
  }
  if (seg[0] == "_history" && seg.size() == 1) {
    if (method != "GET") return notAllowed();
    auto since = parseSince(params);
    if (!since.has_value()) return reply(errorResponse(since.error()));
    HistoryQuery hq;
    if (*since >= 0) hq.since = *since;
    hq.count = countParam(*state, params, state->options.default_count);
    handleHistory(state, ctx, hq, "/_history", std::move(reply));
    return;
  }
  const std::string type = seg[0];
  if (!state->definitions->isResourceType(type)) {
    reply(errorResponse(fhirError("not-found", "unknown resource type \"" + type + "\"")));
    return;
  }
  auto& in = state->interactions;
  auto parseBody = [&]() -> Result<Json> { return parseResource(state->indexer, req.body); };

  if (seg.size() == 1) {
    if (method == "GET" || method == "HEAD") {
      handleSearch(state, ctx, type, params, PageCursor{}, 0, std::move(reply));
    } else if (method == "POST") {
      auto body = parseBody();
      if (!body.has_value()) return reply(errorResponse(body.error()));
      auto b = std::make_shared<Json>(std::move(body).value());
      std::string if_none_exist(req.headers.get("If-None-Exist"));
      runDb(
          state, store::Access::Write,
          [state, ctx, b, type, if_none_exist,
           &in](store::Transaction& tx) -> Result<net::Response> {
            CHTLINK_ASSIGN_OR_RETURN(Outcome o, in.create(tx, type, std::move(*b), if_none_exist));
            return render(ctx, o, true);
          },
          std::move(reply));
    } else if (method == "PUT" || method == "DELETE") {
      if (req.query.empty())
        return reply(errorResponse(fhirError(
            "invalid", method + " on a type needs an id ([base]/" + type + "/id) or a search")));
      std::shared_ptr<Json> b;
      if (method == "PUT") {
        auto body = parseBody();
        if (!body.has_value()) return reply(errorResponse(body.error()));
        b = std::make_shared<Json>(std::move(body).value());
      }
      std::string if_match(req.headers.get("If-Match"));
      runDb(
          state, store::Access::Write,
          [state, ctx, b, type, params, if_match,
           &in](store::Transaction& tx) -> Result<net::Response> {
            if (b) {
              CHTLINK_ASSIGN_OR_RETURN(
                  Outcome o, in.conditionalUpdate(tx, type, params, std::move(*b), if_match));
              return render(ctx, o, true);
            }
            CHTLINK_ASSIGN_OR_RETURN(Outcome o, in.conditionalRemove(tx, type, params));
            return render(ctx, o, true);
          },
          std::move(reply));
    } else {
      notAllowed();
    }
    return;
  }
  if ((seg.size() == 2 && seg[1] == "$validate") || (seg.size() == 3 && seg[2] == "$validate")) {
    if (method != "POST") return notAllowed();
    return handleValidate(state, ctx, type, std::move(req.body), std::move(reply));
  }
  if (seg.size() == 2 && seg[1] == "_search") {
    if (method != "POST") return notAllowed();
    QueryParams all = params;
    for (auto& p : net::parseQuery(req.body)) all.push_back(std::move(p));
    handleSearch(state, ctx, type, all, PageCursor{}, 0, std::move(reply));
    return;
  }
  if (seg.size() == 2 && seg[1] == "_history") {
    if (method != "GET") return notAllowed();
    auto since = parseSince(params);
    if (!since.has_value()) return reply(errorResponse(since.error()));
    HistoryQuery hq;
    hq.type = type;
    if (*since >= 0) hq.since = *since;
    hq.count = countParam(*state, params, state->options.default_count);
    handleHistory(state, ctx, hq, "/" + type + "/_history", std::move(reply));
    return;
  }
  const std::string id = seg[1];
  if (!isValidId(id)) {
    reply(errorResponse(fhirError(
        "invalid", "invalid id \"" + id + "\": ids are 1-64 characters of A-Z a-z 0-9 - .")));
    return;
  }
  if (seg.size() == 2) {
    if (method == "GET" || method == "HEAD") {
      std::string if_none_match(req.headers.get("If-None-Match"));
      runDb(
          state, store::Access::Read,
          [state, ctx, type, id, if_none_match,
           &in](store::Transaction& tx) -> Result<net::Response> {
            CHTLINK_ASSIGN_OR_RETURN(Outcome o, in.read(tx, type, id));
            if (!if_none_match.empty() &&
                (if_none_match == fmt::format("W/\"{}\"", o.version->version) ||
                 if_none_match == fmt::format("\"{}\"", o.version->version))) {
              net::Response r;
              r.status = 304;
              setVersionHeaders(r, *o.version);
              return r;
            }
            return render(ctx, o, false);
          },
          std::move(reply));
    } else if (method == "PUT") {
      auto body = parseBody();
      if (!body.has_value()) return reply(errorResponse(body.error()));
      auto b = std::make_shared<Json>(std::move(body).value());
      std::string if_match(req.headers.get("If-Match"));
      std::string if_none_match(req.headers.get("If-None-Match"));
      runDb(
          state, store::Access::Write,
          [state, ctx, b, type, id, if_match, if_none_match,
           &in](store::Transaction& tx) -> Result<net::Response> {
            CHTLINK_ASSIGN_OR_RETURN(
                Outcome o, in.update(tx, type, id, std::move(*b), if_match, if_none_match));
            return render(ctx, o, true);
          },
          std::move(reply));
    } else if (method == "PATCH") {
      auto patch = parseJson(req.body);
      if (!patch.has_value())
        return reply(errorResponse(fhirError("structure", patch.error().message)));
      auto p = std::make_shared<Json>(std::move(patch).value());
      std::string if_match(req.headers.get("If-Match"));
      runDb(
          state, store::Access::Write,
          [state, ctx, p, type, id, if_match,
           &in](store::Transaction& tx) -> Result<net::Response> {
            CHTLINK_ASSIGN_OR_RETURN(Outcome o, in.patch(tx, type, id, *p, if_match));
            return render(ctx, o, true);
          },
          std::move(reply));
    } else if (method == "DELETE") {
      runDb(
          state, store::Access::Write,
          [state, ctx, type, id, &in](store::Transaction& tx) -> Result<net::Response> {
            CHTLINK_ASSIGN_OR_RETURN(Outcome o, in.remove(tx, type, id));
            return render(ctx, o, true);
          },
          std::move(reply));
    } else {
      notAllowed();
    }
    return;
  }
  if (seg[2] == "_history" && (seg.size() == 3 || seg.size() == 4)) {
    if (method != "GET" && method != "HEAD") return notAllowed();
    if (seg.size() == 3) {
      auto since = parseSince(params);
      if (!since.has_value()) return reply(errorResponse(since.error()));
      HistoryQuery hq;
      hq.type = type;
      hq.id = id;
      if (*since >= 0) hq.since = *since;
      hq.count = countParam(*state, params, state->options.default_count);
      handleHistory(state, ctx, hq, "/" + type + "/" + id + "/_history", std::move(reply));
      return;
    }
    std::string version = seg[3];
    runDb(
        state, store::Access::Read,
        [state, ctx, type, id, version, &in](store::Transaction& tx) -> Result<net::Response> {
          CHTLINK_ASSIGN_OR_RETURN(Outcome o, in.vread(tx, type, id, version));
          return render(ctx, o, false);
        },
        std::move(reply));
    return;
  }
  if (seg.size() == 3 && state->definitions->isCompartment(type) &&
      state->definitions->isResourceType(seg[2])) {
    // Compartment search: GET [base]/Patient/1/Observation?... is an Observation search
    // limited to the resources the Patient compartment definition links to Patient/1.
    if (method != "GET" && method != "HEAD") return notAllowed();
    QueryParams all = params;
    all.emplace_back("_compartment", type + "/" + id);
    handleSearch(state, ctx, seg[2], all, PageCursor{}, 0, std::move(reply));
    return;
  }
  reply(errorResponse(fhirError("not-found", "no FHIR interaction at " + req.path)));
}

}  // namespace chtlink::fhir
