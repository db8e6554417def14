// Rendering of searchset and history Bundles, and their paging tokens. Bundles are built as
// text around the stored resource JSON, so a page is never parsed and re-serialised unless
// _elements or _summary asks for a subset.
#include <fmt/format.h>

#include "fhir/rest/service_internal.h"
#include "fhir/search/date_range.h"

namespace chtlink::fhir {
namespace {

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64UrlEncode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64[(buf >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kB64[(buf << (6 - bits)) & 0x3F];
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    auto pos = kB64.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

const char* kSubsetted =
    R"({"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"Resource encoded in summary mode"})";

std::string subset(const StoredVersion& v, const search::SearchQuery& q) {
  if (q.elements.empty() && q.summary != search::Summary::Data &&
      q.summary != search::Summary::Text)
    return v.json;
  auto parsed = parseJson(v.json);
  if (!parsed.has_value()) return v.json;
  Json& r = *parsed;
  Json out = Json::object();
  if (!q.elements.empty()) {
    for (auto it = r.begin(); it != r.end(); ++it) {
      const std::string& k = it.key();
      bool keep = k == "resourceType" || k == "id" || k == "meta";
      for (const auto& e : q.elements) keep = keep || e == k;
      if (keep) out[k] = *it;
    }
  } else if (q.summary == search::Summary::Data) {
    out = r;
    out.erase("text");
  } else {
    for (const char* k : {"resourceType", "id", "meta", "text"})
      if (r.contains(k)) out[k] = r[k];
  }
  out["meta"]["tag"].push_back(Json::parse(kSubsetted));
  return dumpJson(out);
}

std::string queryString(const QueryParams& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += out.empty() ? "" : "&";
    out += percentEncode(k) + "=" + percentEncode(v);
  }
  return out;
}

}  // namespace

std::string percentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '|' ||
        c == ',' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string renderResource(const StoredVersion& v) { return v.json; }

std::string encodePageToken(const PageToken& t) {
  Json params = Json::array();
  for (const auto& [k, v] : t.params) params.push_back(Json::array({k, v}));
  Json j{{"k", t.kind},  {"t", t.type},   {"p", params}, {"s", t.snapshot},
         {"a", t.after}, {"o", t.offset}, {"c", t.count}};
  if (!t.id.empty()) j["i"] = t.id;
  if (t.since) j["since"] = *t.since;
  return base64UrlEncode(dumpJson(j));
}

Result<PageToken> decodePageToken(std::string_view text) {
  auto bad = [] {
    return invalidArgument("the paging link is not valid (_getpages); run the search again",
                           "invalid");
  };
  auto raw = base64UrlDecode(text);
  if (!raw) return bad();
  auto j = parseJson(*raw);
  if (!j.has_value() || !j->is_object()) return bad();
  try {
    PageToken t;
    t.kind = j->at("k").get<std::string>();
    t.type = j->at("t").get<std::string>();
    t.id = j->value("i", "");
    for (const auto& p : j->at("p"))
      t.params.emplace_back(p.at(0).get<std::string>(), p.at(1).get<std::string>());
    t.snapshot = j->at("s").get<int64_t>();
    t.after = j->at("a").get<int64_t>();
    t.offset = j->at("o").get<int64_t>();
    t.count = j->at("c").get<int>();
    if (j->contains("since")) t.since = j->at("since").get<int64_t>();
    return t;
  } catch (const Json::exception&) {
    return bad();
  }
}

std::string renderSearchBundle(const RequestContext& ctx, const search::SearchQuery& query,
                               const SearchPage& page, int count, int64_t offset) {
  std::string out = R"({"resourceType":"Bundle","type":"searchset")";
  if (page.total) out += fmt::format(R"(,"total":{})", *page.total);
  std::string self = ctx.base;
  QueryParams applied;
  if (query.compartment) self += "/" + query.compartment->type + "/" + query.compartment->id;
  if (!query.type.empty()) self += "/" + query.type;
  for (const auto& p : query.applied)
    if (p.first != "_compartment") applied.push_back(p);
  if (!applied.empty()) self += "?" + queryString(applied);
  out += R"(,"link":[{"relation":"self","url":)" + Json(self).dump() + "}";
  if (page.has_more) {
    PageToken t;
    t.kind = "search";
    t.type = query.type;
    t.params = query.applied;
    t.snapshot = page.snapshot;
    t.after = page.after;
    t.offset = offset + count;
    t.count = count;
    // Base-level, type-free link: clients that re-append only its query string to the base
    // (the CHT mediator) reach the same page (fhir.md section 0, rule 5).
    std::string next =
        fmt::format("{}?_getpages={}&_getpagesoffset={}&_count={}&_bundletype=searchset", ctx.base,
                    encodePageToken(t), t.offset, count);
    out += R"(,{"relation":"next","url":)" + Json(next).dump() + "}";
  }
  out += "]";
  bool any = false;
  auto entry = [&](const StoredVersion& v, const char* mode) {
    out += any ? "," : R"(,"entry":[)";
    any = true;
    out += R"({"fullUrl":)" + Json(ctx.base + "/" + v.type + "/" + v.id).dump() +
           R"(,"resource":)" + subset(v, query) + R"(,"search":{"mode":")" + mode + "\"}}";
  };
  if (query.summary != search::Summary::Count) {
    for (const auto& v : page.matches) entry(v, "match");
    for (const auto& v : page.included) entry(v, "include");
  }
  if (!query.ignored.empty()) {
    Json oo{{"resourceType", "OperationOutcome"}, {"issue", Json::array()}};
    for (const auto& msg : query.ignored)
      oo["issue"].push_back(
          {{"severity", "warning"}, {"code", "not-supported"}, {"diagnostics", msg}});
    out += any ? "," : R"(,"entry":[)";
    any = true;
    out += R"({"resource":)" + dumpJson(oo) + R"(,"search":{"mode":"outcome"}})";
  }
  if (any) out += "]";
  out += "}";
  return out;
}

std::string renderHistoryBundle(const RequestContext& ctx, const HistoryPage& page,
                                const std::string& self_path, const HistoryQuery& query) {
  std::string out =
      fmt::format(R"({{"resourceType":"Bundle","type":"history","total":{})", page.total);
  out += R"(,"link":[{"relation":"self","url":)" + Json(ctx.base + self_path).dump() + "}";
  if (page.has_more) {
    PageToken t;
    t.kind = "history";
    t.type = query.type;
    t.id = query.id;
    t.snapshot = page.snapshot;
    t.offset = query.offset + query.count;
    t.count = query.count;
    t.since = query.since;
    std::string next =
        fmt::format("{}?_getpages={}&_getpagesoffset={}&_count={}&_bundletype=history", ctx.base,
                    encodePageToken(t), t.offset, query.count);
    out += R"(,{"relation":"next","url":)" + Json(next).dump() + "}";
  }
  out += "]";
  bool any = false;
  for (const auto& v : page.versions) {
    out += any ? "," : R"(,"entry":[)";
    any = true;
    out += R"({"fullUrl":)" + Json(ctx.base + "/" + v.type + "/" + v.id).dump();
    if (!v.deleted) out += R"(,"resource":)" + v.json;
    const bool created = v.method == "POST" || (v.version == 1 && v.method != "DELETE");
    std::string url = v.method == "POST" ? v.type : v.type + "/" + v.id;
    std::string method = v.method == "PATCH" ? "PATCH" : v.method;
    out += fmt::format(
        R"(,"request":{{"method":"{}","url":{}}},"response":{{"status":"{}","etag":"W/\"{}\"","lastModified":"{}"}}}})",
        method, Json(url).dump(),
        v.deleted ? "204 No Content" : (created ? "201 Created" : "200 OK"), v.version,
        search::formatInstant(v.last_updated));
  }
  if (any) out += "]";
  out += "}";
  return out;
}

}  // namespace chtlink::fhir
