// cht-sim: the CHT API endpoints of cht.md 2.2-2.7 and 6.2.
#include <algorithm>
#include <cctype>

#include "cht/emulator/seed.h"
#include "cht/emulator/sim_internal.h"

namespace chtlink::cht::emulator {
namespace {

std::string text(const OrderedJson& doc, const char* key) {
  auto found = doc.find(key);
  return found != doc.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// reported_date: ms number, a numeric string, or an ISO-8601 date with zone; default now.
std::optional<int64_t> parseReportedDate(const OrderedJson& value, int64_t now) {
  if (value.is_null()) return now;
  if (value.is_number()) return static_cast<int64_t>(value.get<double>());
  if (!value.is_string()) return std::nullopt;
  const std::string s = value.get<std::string>();
  if (!s.empty() &&
      std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::stoll(s);
  }
  std::tm parts{};
  int millis = 0;
  char zone = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &parts.tm_year, &parts.tm_mon, &parts.tm_mday,
                  &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &millis) == 7 ||
      std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%c", &parts.tm_year, &parts.tm_mon, &parts.tm_mday,
                  &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &zone) == 7) {
    parts.tm_year -= 1900;
    parts.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&parts)) * 1000 + millis;
  }
  return std::nullopt;
}

bool isPlaceType(const std::string& type, const OrderedJson& settings) {
  for (const auto& entry : settings.value("contact_types", OrderedJson::array())) {
    if (text(entry, "id") == type) return !entry.value("person", false);
  }
  return type == "district_hospital" || type == "health_center" || type == "clinic";
}

std::string effectiveType(const OrderedJson& doc) {
  const std::string type = text(doc, "type");
  return type == "contact" ? text(doc, "contact_type") : type;
}

OrderedJson writeAnswer(const Written& written, bool with_ok = true) {
  OrderedJson body = OrderedJson::object();
  if (with_ok) body["ok"] = true;
  body["id"] = written.id;
  body["rev"] = written.rev;
  return body;
}

OrderedJson stubOf(const OrderedJson& doc) {
  OrderedJson stub = OrderedJson::object();
  stub["_id"] = doc["_id"];
  if (doc.contains("parent") && doc["parent"].is_object()) stub["parent"] = doc["parent"];
  return stub;
}

// Deep merge of `patch` into `target` (PUT /api/v1/settings default).
void deepMerge(OrderedJson& target, const OrderedJson& patch) {
  for (const auto& [key, value] : patch.items()) {
    if (value.is_object() && target.contains(key) && target[key].is_object()) {
      deepMerge(target[key], value);
    } else {
      target[key] = value;
    }
  }
}

}  // namespace

void ChtSimImpl::addApiRoutes(net::Router& router) {
  auto wrap = [this](AuthenticatedFn fn) { return authenticated(std::move(fn)); };
  router.add("GET", "/api/v1/settings",
             wrap([this](const UserCtx& u, const net::Request&) { return getSettings(u); }));
  router.add("PUT", "/api/v1/settings",
             wrap([this](const UserCtx& u, const net::Request& r) { return putSettings(u, r); }));
  router.add("PUT", "/api/v1/credentials/{key}",
             wrap([this](const UserCtx& u, const net::Request& r) {
               return putCredential(u, std::string(r.param("key")), r);
             }));
  router.add("POST", "/api/v1/people",
             wrap([this](const UserCtx& u, const net::Request& r) { return createPerson(u, r); }));
  router.add("POST", "/api/v1/places",
             wrap([this](const UserCtx& u, const net::Request& r) { return createPlace(u, r); }));
  for (const char* path : {"/api/v1/records", "/api/v2/records"}) {
    router.add("POST", path, wrap([this](const UserCtx& u, const net::Request& r) {
                 return createRecord(u, r);
               }));
  }
  router.add("POST", "/api/v1/users", wrap([this](const UserCtx& u, const net::Request& r) {
               return createUsers(u, r, false);
             }));
  router.add("POST", "/api/v2/users", wrap([this](const UserCtx& u, const net::Request& r) {
               return createUsers(u, r, true);
             }));
  for (const char* path : {"/api/v1/users", "/api/v2/users"}) {
    router.add("GET", path,
               wrap([this](const UserCtx& u, const net::Request&) { return listUsers(u); }));
  }
  router.add("GET", "/api/v1/person/{id}", wrap([this](const UserCtx& u, const net::Request& r) {
               return getPerson(u, std::string(r.param("id")), r);
             }));
  for (const char* method : {"GET", "POST"}) {
    router.add(method, "/api/v1/hydrate",
               wrap([this](const UserCtx& u, const net::Request& r) { return hydrateDocs(u, r); }));
  }
  router.add("GET", "/api/v2/monitoring",
             wrap([this](const UserCtx& u, const net::Request&) { return monitoring(u); }));
}

net::Response ChtSimImpl::getSettings(const UserCtx&) {
  auto current = settings();
  if (!current) return errorFor(current.error());
  return jsonResponse(200, *current);
}

net::Response ChtSimImpl::putSettings(const UserCtx& user, const net::Request& request) {
  if (!hasAll(user, {"can_edit", "can_configure"})) return apiError(403, "Insufficient privileges");
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !body->is_object()) return apiError(400, "Settings must be a JSON object");
  auto stored = docs_.get(kMedic, "settings");
  if (!stored) return errorFor(stored.error());
  OrderedJson doc = *stored ? (*stored)->body : OrderedJson{{"_id", "settings"}};
  OrderedJson current = doc.value("settings", OrderedJson::object());
  const auto params = net::parseQuery(request.query);
  auto has = [&](const char* name) {
    return std::any_of(params.begin(), params.end(),
                       [&](const auto& p) { return p.first == name && p.second == "true"; });
  };
  OrderedJson next = current;
  if (has("overwrite")) {
    next = *body;
  } else if (has("replace")) {
    for (const auto& [key, value] : body->items()) next[key] = value;
  } else {
    deepMerge(next, *body);
  }
  const bool updated = next != current;
  doc["settings"] = std::move(next);
  if (updated) {
    auto written = docs_.put(kMedic, std::move(doc));
    if (!written) return errorFor(written.error());
    afterWrite();
  }
  OrderedJson answer = OrderedJson::object();
  answer["success"] = true;
  answer["updated"] = updated;
  return jsonResponse(200, answer);
}

net::Response ChtSimImpl::putCredential(const UserCtx& user, const std::string& key,
                                        const net::Request& request) {
  if (!user.admin) return apiError(403, "Insufficient privileges");
  if (key.empty() || request.body.empty()) {
    return apiError(400, "Missing required param: key or the secret in the body");
  }
  auto stored = docs_.get(kVault, "credential:" + key);
  if (!stored) return errorFor(stored.error());
  OrderedJson doc = OrderedJson::object();
  doc["_id"] = "credential:" + key;
  if (*stored) doc["_rev"] = (*stored)->rev;
  // CHT encrypts with a key derived from the CouchDB secret; the emulator keeps it as given.
  doc["password"] = request.body;
  auto written = docs_.put(kVault, std::move(doc));
  if (!written) return errorFor(written.error());
  return jsonResponse(200, OrderedJson{{"ok", true}});
}

Result<std::string> ChtSimImpl::resolvePlace(const OrderedJson& place) {
  CHTLINK_ASSIGN_OR_RETURN(auto app_settings, settings());
  if (place.is_string()) {
    CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kMedic, place.get<std::string>()));
    if (!stored || stored->deleted || !isPlaceType(effectiveType(stored->body), app_settings)) {
      return notFound("Failed to find place.");
    }
    return stored->id;
  }
  if (!place.is_object()) {
    return invalidArgument("Place must be a new object or string identifier (UUID).");
  }
  if (place.contains("_rev")) {
    return invalidArgument("Place must be a new object or string identifier (UUID).");
  }
  OrderedJson doc = place;
  const std::string id = doc.contains("_id") ? text(doc, "_id") : newContactId();
  if (!isPlaceType(effectiveType(doc), app_settings)) {
    return invalidArgument("Wrong type, object " + id + " is not a place.");
  }
  if (!doc.contains("name"))
    return invalidArgument("Place " + id + " is missing a \"name\" property.");
  if (!doc["name"].is_string()) return invalidArgument("Property \"name\" must be a string.");
  auto reported = parseReportedDate(doc.value("reported_date", OrderedJson()), nowMs());
  if (!reported)
    return invalidArgument("Reported date is invalid: " +
                           outbound::jsStringify(doc["reported_date"]));
  doc["reported_date"] = *reported;
  doc["_id"] = id;
  if (doc.contains("parent") && !doc["parent"].is_null() && doc["parent"] != "") {
    CHTLINK_ASSIGN_OR_RETURN(std::string parent_id, resolvePlace(doc["parent"]));
    CHTLINK_ASSIGN_OR_RETURN(auto parent, docs_.get(kMedic, parent_id));
    doc["parent"] = stubOf(parent->body);
  } else {
    doc.erase("parent");
  }
  OrderedJson contact;
  if (doc.contains("contact")) {
    contact = doc["contact"];
    doc.erase("contact");
  }
  CHTLINK_ASSIGN_OR_RETURN(auto written, saveMedic(doc));
  if (contact.is_string()) {
    CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kMedic, written.id));
    OrderedJson updated = stored->body;
    updated["contact"] = contact;
    CHTLINK_TRY(saveMedic(std::move(updated)));
  } else if (contact.is_object()) {
    contact["place"] = written.id;
    CHTLINK_ASSIGN_OR_RETURN(auto person, createPersonDoc(contact));
    CHTLINK_ASSIGN_OR_RETURN(auto person_doc, docs_.get(kMedic, person.id));
    CHTLINK_ASSIGN_OR_RETURN(auto stored, docs_.get(kMedic, written.id));
    OrderedJson updated = stored->body;
    updated["contact"] = stubOf(person_doc->body);
    CHTLINK_TRY(saveMedic(std::move(updated)));
  }
  return written.id;
}

Result<Written> ChtSimImpl::createPersonDoc(OrderedJson person) {
  if (!person.is_object()) return invalidArgument("Person must be an object.");
  if (!person.contains("type")) person["type"] = "person";
  CHTLINK_ASSIGN_OR_RETURN(auto app_settings, settings());
  const std::string type = effectiveType(person);
  bool is_person = type == "person";
  for (const auto& entry : app_settings.value("contact_types", OrderedJson::array())) {
    if (text(entry, "id") == type) is_person = entry.value("person", false) || type == "person";
  }
  if (!is_person) return invalidArgument("Wrong type, this is not a person.");
  if (!person.contains("name")) return invalidArgument("Person is missing a \"name\" property.");
  if (!person["name"].is_string()) return invalidArgument("Property \"name\" must be a string.");
  auto reported = parseReportedDate(person.value("reported_date", OrderedJson()), nowMs());
  if (!reported) {
    return invalidArgument("Reported date is invalid: " +
                           outbound::jsStringify(person["reported_date"]));
  }
  person["reported_date"] = *reported;
  if (person.contains("place") && !person["place"].is_null() && person["place"] != "") {
    CHTLINK_ASSIGN_OR_RETURN(std::string place_id, resolvePlace(person["place"]));
    CHTLINK_ASSIGN_OR_RETURN(auto place, docs_.get(kMedic, place_id));
    person["parent"] = stubOf(place->body);
  }
  person.erase("place");
  if (!person.contains("_id")) person["_id"] = newContactId();
  return saveMedic(std::move(person));
}

net::Response ChtSimImpl::createPerson(const UserCtx& user, const net::Request& request) {
  if (!hasAll(user, {"can_edit", "can_create_people"})) {
    return apiError(403, "Insufficient privileges");
  }
  auto body = outbound::parseOrderedJson(request.body);
  if (request.body.empty() || !body) {
    return apiError(400,
                    "Request body is empty or Content-Type header was not set to "
                    "application/json.");
  }
  auto written = createPersonDoc(std::move(*body));
  if (!written) {
    return written.error().code == ErrorCode::NotFound ? apiError(404, written.error().message)
                                                       : apiError(400, written.error().message);
  }
  return jsonResponse(200, writeAnswer(*written));
}

net::Response ChtSimImpl::createPlace(const UserCtx& user, const net::Request& request) {
  if (!hasAll(user, {"can_edit", "can_create_places"})) {
    return apiError(403, "Insufficient privileges");
  }
  auto body = outbound::parseOrderedJson(request.body);
  if (request.body.empty() || !body || !body->is_object()) {
    return apiError(400,
                    "Request body is empty or Content-Type header was not set to "
                    "application/json.");
  }
  const bool new_contact = body->contains("contact") && (*body)["contact"].is_object();
  const bool existing_contact = body->contains("contact") && (*body)["contact"].is_string();
  auto id = resolvePlace(*body);
  if (!id) {
    return id.error().code == ErrorCode::NotFound ? apiError(404, id.error().message)
                                                  : apiError(400, id.error().message);
  }
  auto stored = docs_.get(kMedic, *id);
  if (!stored || !*stored) return apiError(500, "place vanished");
  OrderedJson answer = OrderedJson::object();
  if (!new_contact) answer["ok"] = true;
  answer["id"] = *id;
  answer["rev"] = (*stored)->rev;
  if (new_contact || existing_contact) {
    const auto& contact = (*stored)->body["contact"];
    answer["contact"] = OrderedJson{
        {"id", contact.is_string() ? contact.get<std::string>() : text(contact, "_id")}};
  }
  return jsonResponse(200, answer);
}

net::Response ChtSimImpl::createRecord(const UserCtx& user, const net::Request& request) {
  if (!hasAll(user, {"can_create_records"})) return apiError(403, "Insufficient privileges");
  auto server_error = [](const std::string& details) {
    OrderedJson body = OrderedJson::object();
    body["code"] = 500;
    body["error"] = "Server error";
    body["details"] = details;
    return jsonResponse(500, body);
  };
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !body->is_object()) return server_error("Content type not supported.");
  if (!body->contains("_meta") || !(*body)["_meta"].is_object()) {
    return server_error("Missing _meta property.");
  }
  const OrderedJson meta = (*body)["_meta"];
  std::string form = text(meta, "form");
  if (form.empty()) return server_error("Missing required field: form");
  std::transform(form.begin(), form.end(), form.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto app_settings = settings();
  if (!app_settings) return errorFor(app_settings.error());
  const auto forms = app_settings->value("forms", OrderedJson::object());
  if (!forms.contains(form)) return server_error("Form not found: " + form);
  const auto declared = forms[form].value("fields", OrderedJson::object());
  OrderedJson input = OrderedJson::object();
  for (const auto& [key, value] : body->items()) {
    if (key == "_meta") continue;
    std::string lower = key;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    input[lower] = value;
  }
  auto reported = parseReportedDate(meta.value("reported_date", OrderedJson()), nowMs());
  OrderedJson doc = OrderedJson::object();
  doc["_id"] = newUuid(random_);
  doc["type"] = "data_record";
  if (meta.contains("from")) doc["from"] = meta["from"];
  doc["form"] = form;
  doc["errors"] = OrderedJson::array();
  doc["tasks"] = OrderedJson::array();
  doc["fields"] = OrderedJson::object();
  doc["reported_date"] = reported.value_or(nowMs());
  OrderedJson sms_message = meta;
  sms_message["form"] = form;
  doc["sms_message"] = sms_message;
  for (const auto& [key, definition] : declared.items()) {
    if (!definition.is_object()) continue;
    auto value = input.find(key);
    const std::string type = text(definition, "type");
    if (value == input.end()) {
      if (definition.value("required", false)) {
        doc["errors"].push_back(
            OrderedJson{{"code", "sys.missing_fields"}, {"message", "Missing fields: " + key}});
      }
      continue;
    }
    OrderedJson field = *value;
    if (type == "boolean" && field.is_number()) field = field.get<double>() != 0;
    const bool wrong = (type == "integer" && !field.is_number_integer()) ||
                       (type == "string" && !field.is_string()) ||
                       (type == "boolean" && !field.is_boolean());
    if (wrong) {
      doc["errors"].push_back(OrderedJson{{"code", "sys.incorrect_type"},
                                          {"message", "Incorrect type for field: " + key}});
    }
    doc["fields"][key] = field;
  }
  auto written = saveMedic(std::move(doc));
  if (!written) return errorFor(written.error());
  OrderedJson answer = OrderedJson::object();
  answer["success"] = true;
  answer["id"] = written->id;
  return jsonResponse(200, answer);
}

net::Response ChtSimImpl::createUsers(const UserCtx& user, const net::Request& request, bool v2) {
  if (!hasAll(user, {"can_edit", "can_create_users"}))
    return apiError(403, "Insufficient privileges");
  auto body = outbound::parseOrderedJson(request.body);
  if (!body || !(body->is_object() || (v2 && body->is_array()))) {
    return apiError(400,
                    "Request body is empty or Content-Type header was not set to "
                    "application/json.");
  }
  auto app_settings = settings();
  if (!app_settings) return errorFor(app_settings.error());
  auto createOne = [&](OrderedJson input) -> Result<OrderedJson> {
    const std::string username = text(input, "username");
    const std::string password = text(input, "password");
    std::vector<std::string> missing;
    if (username.empty()) missing.push_back("username");
    if (password.empty()) missing.push_back("password");
    std::vector<std::string> roles;
    if (input.contains("roles") && input["roles"].is_array()) {
      for (const auto& role : input["roles"]) {
        if (role.is_string()) roles.push_back(role.get<std::string>());
      }
    } else if (!text(input, "type").empty()) {
      roles.push_back(text(input, "type"));
    }
    bool offline = false;
    for (const auto& role : roles) {
      const auto definition =
          app_settings->value("roles", OrderedJson::object()).value(role, OrderedJson::object());
      offline = offline || definition.value("offline", false);
    }
    if (offline && !input.contains("place")) missing.push_back("place");
    if (offline && !input.contains("contact")) missing.push_back("contact");
    if (!missing.empty()) {
      std::string list;
      for (const auto& field : missing) list += (list.empty() ? "" : ", ") + field;
      return invalidArgument("Missing required fields: " + list);
    }
    if (!std::all_of(username.begin(), username.end(), [](unsigned char c) {
          return std::islower(c) || std::isdigit(c) || c == '_' || c == '-';
        })) {
      return invalidArgument(
          "Invalid user name. Valid characters are lower case letters, "
          "numbers, underscore (_), and hyphen (-).");
    }
    if (password.size() < 8)
      return invalidArgument("The password must be at least 8 characters long.");
    CHTLINK_ASSIGN_OR_RETURN(auto taken, docs_.get(kUsers, "org.couchdb.user:" + username));
    if (taken && !taken->deleted)
      return invalidArgument("Username \"" + username + "\" already taken.");
    std::optional<std::string> place_id;
    if (input.contains("place")) {
      CHTLINK_ASSIGN_OR_RETURN(place_id, resolvePlace(input["place"]));
    }
    OrderedJson answer = OrderedJson::object();
    std::string contact_id;
    if (input.contains("contact")) {
      if (input["contact"].is_string()) {
        contact_id = input["contact"].get<std::string>();
      } else {
        OrderedJson contact = input["contact"];
        if (place_id) contact["place"] = *place_id;
        CHTLINK_ASSIGN_OR_RETURN(auto person, createPersonDoc(contact));
        contact_id = person.id;
        answer["contact"] = OrderedJson{{"id", person.id}, {"rev", person.rev}};
      }
    }
    if (!offline) roles.push_back("mm-online");
    const std::string salt = std::to_string(random_.next64());
    OrderedJson login = OrderedJson::object();
    login["_id"] = "org.couchdb.user:" + username;
    login["name"] = username;
    login["type"] = "user";
    login["roles"] = roles;
    login["facility_id"] = place_id ? OrderedJson(*place_id) : OrderedJson();
    login["contact_id"] = contact_id.empty() ? OrderedJson() : OrderedJson(contact_id);
    login["salt"] = salt;
    login["derived_key"] = passwordHash(salt, password);
    login["password_change_required"] = true;
    CHTLINK_ASSIGN_OR_RETURN(auto user_written, docs_.put(kUsers, login));
    OrderedJson settings_doc = OrderedJson::object();
    settings_doc["_id"] = "org.couchdb.user:" + username;
    settings_doc["name"] = username;
    settings_doc["type"] = "user-settings";
    settings_doc["roles"] = roles;
    settings_doc["facility_id"] = login["facility_id"];
    settings_doc["contact_id"] = login["contact_id"];
    for (const char* field : {"fullname", "email", "phone", "external_id", "known"}) {
      if (input.contains(field)) settings_doc[field] = input[field];
    }
    CHTLINK_ASSIGN_OR_RETURN(auto settings_written, saveMedic(settings_doc));
    answer["user"] = OrderedJson{{"id", user_written.id}, {"rev", user_written.rev}};
    answer["user-settings"] =
        OrderedJson{{"id", settings_written.id}, {"rev", settings_written.rev}};
    return answer;
  };
  if (body->is_array()) {
    OrderedJson answers = OrderedJson::array();
    for (auto& item : *body) {
      auto one = createOne(item);
      answers.push_back(one ? *one : OrderedJson{{"error", one.error().message}});
    }
    return jsonResponse(200, answers);
  }
  auto one = createOne(*body);
  if (!one) {
    OrderedJson error = OrderedJson::object();
    error["code"] = 400;
    error["error"] = OrderedJson{{"message", one.error().message}};
    return jsonResponse(one.error().code == ErrorCode::NotFound ? 404 : 400, error);
  }
  return jsonResponse(200, *one);
}

net::Response ChtSimImpl::listUsers(const UserCtx& user) {
  if (!hasAll(user, {"can_view_users"})) return apiError(403, "Insufficient privileges");
  auto users =
      docs_.all(kUsers, "org.couchdb.user:", "org.couchdb.user:\xef\xbf\xbf", 100000, false);
  if (!users) return errorFor(users.error());
  OrderedJson answer = OrderedJson::array();
  for (const auto& doc : *users) {
    OrderedJson item = OrderedJson::object();
    item["id"] = doc.id;
    item["rev"] = doc.rev;
    item["username"] = text(doc.body, "name");
    item["roles"] = doc.body.value("roles", OrderedJson::array());
    item["place"] = doc.body.value("facility_id", OrderedJson());
    item["contact"] = doc.body.value("contact_id", OrderedJson());
    answer.push_back(std::move(item));
  }
  return jsonResponse(200, answer);
}

net::Response ChtSimImpl::getPerson(const UserCtx& user, const std::string& id,
                                    const net::Request& request) {
  if (!user.online || !hasAll(user, {"can_view_contacts"})) {
    return apiError(403, "Insufficient privileges");
  }
  auto stored = docs_.get(kMedic, id);
  if (!stored) return errorFor(stored.error());
  auto app_settings = settings();
  if (!*stored || (*stored)->deleted || !app_settings ||
      isPlaceType(effectiveType((*stored)->body), *app_settings) ||
      effectiveType((*stored)->body).empty()) {
    return apiError(404, "Person not found");
  }
  const auto params = net::parseQuery(request.query);
  const bool lineage = std::any_of(params.begin(), params.end(), [](const auto& p) {
    return p.first == "with_lineage" && p.second == "true";
  });
  if (!lineage) return jsonResponse(200, (*stored)->body);
  auto hydrated = hydrate((*stored)->body);
  if (!hydrated) return errorFor(hydrated.error());
  return jsonResponse(200, *hydrated);
}

net::Response ChtSimImpl::hydrateDocs(const UserCtx& user, const net::Request& request) {
  if (!user.online) return apiError(403, "Insufficient privileges");
  OrderedJson ids;
  for (const auto& [key, value] : net::parseQuery(request.query)) {
    if (key == "doc_ids") {
      auto parsed = outbound::parseOrderedJson(value);
      if (parsed) ids = *parsed;
    }
  }
  if (!request.body.empty()) {
    auto parsed = outbound::parseOrderedJson(request.body);
    if (parsed && parsed->is_object() && parsed->contains("doc_ids")) ids = (*parsed)["doc_ids"];
  }
  if (!ids.is_array()) return apiError(400, "Invalid doc_ids param");
  // The requested docs in one read; ancestors shared by many of them are read once.
  std::vector<std::string> wanted;
  for (const auto& id : ids) {
    if (id.is_string()) wanted.push_back(id.get<std::string>());
  }
  auto found = docs_.getMany(kMedic, wanted);
  if (!found) return errorFor(found.error());
  HydrateMemo memo;
  for (const auto& [id, doc] : *found) {
    memo[id] = doc.deleted ? std::nullopt : std::optional<OrderedJson>(doc.body);
  }
  OrderedJson answer = OrderedJson::array();
  for (const auto& id : ids) {
    OrderedJson item = OrderedJson::object();
    item["id"] = id;
    std::optional<OrderedJson> stored;
    if (id.is_string()) {
      if (auto known = memo.find(id.get<std::string>()); known != memo.end())
        stored = known->second;
    }
    if (!stored) {
      item["error"] = "not_found";
    } else {
      auto hydrated = hydrate(*stored, &memo);
      if (!hydrated) return errorFor(hydrated.error());
      item["doc"] = std::move(*hydrated);
    }
    answer.push_back(std::move(item));
  }
  return jsonResponse(200, answer);
}

net::Response ChtSimImpl::monitoring(const UserCtx& user) {
  if (!user.admin) return apiError(403, "Insufficient privileges");
  auto tasks =
      docs_.all(kSentinel, "task:outbound:", "task:outbound:\xef\xbf\xbf", 10'000'000, false);
  if (!tasks) return errorFor(tasks.error());
  OrderedJson answer = OrderedJson::object();
  answer["outbound_push"] = OrderedJson{{"backlog", tasks->size()}};
  return jsonResponse(200, answer);
}

}  // namespace chtlink::cht::emulator
