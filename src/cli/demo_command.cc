// `chtlink demo ltfu`: walks the Loss-to-Follow-Up flow of the reference deployment against a
// running chtlink (or any deployment with the same endpoints), printing every HTTP exchange
// and a verdict. The steps are those of the reference end-to-end test: CHT place and CHW,
// Endpoint and Organization through the mediator, a patient created in CHT and pushed to
// FHIR, the service request, the CHW's follow-up report, and the Encounter arriving at the
// requesting system's callback, which this command serves itself on a free local port.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "base/json.h"
#include "base/random.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/router.h"
#include "net/server.h"

namespace chtlink::cli {
namespace {

using Clock = std::chrono::steady_clock;

// What the requesting system's callback received.
class CallbackInbox {
 public:
  void add(std::string method, std::string path, std::string body) {
    std::lock_guard lock(mu_);
    received_.push_back({std::move(method), std::move(path), std::move(body)});
    cv_.notify_all();
  }
  // The first request whose path contains `needle`, waiting up to `timeout`.
  std::optional<std::array<std::string, 3>> waitFor(const std::string& needle,
                                                    std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<std::array<std::string, 3>> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& r : received_)
        if (r[1].find(needle) != std::string::npos) {
          found = r;
          return true;
        }
      return false;
    });
    return found;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::array<std::string, 3>> received_;
};

std::string shorten(const std::string& body, size_t max = 160) {
  std::string one_line;
  for (char c : body) one_line += (c == '\n' || c == '\r') ? ' ' : c;
  if (one_line.size() <= max) return one_line;
  return one_line.substr(0, max) + "...";
}

class Demo {
 public:
  Demo(const DemoArgs& args, net::HttpClient& client, std::ostream& out)
      : args_(args), client_(client), out_(out) {}

  // One HTTP exchange, printed. Transport errors are returned; any status is a value.
  Result<net::ClientResponse> call(const std::string& method, const std::string& url,
                                   const std::optional<Json>& body, const net::BasicAuth& auth,
                                   bool quiet = false) {
    net::ClientRequest request;
    request.method = method;
    request.url = url;
    request.auth = auth;
    if (body) {
      request.body = dumpJson(*body);
      request.headers.set("Content-Type", "application/json");
    }
    auto response = client_.sendSync(std::move(request));
    if (quiet) return response;
    out_ << "  " << method << " " << url << "\n";
    if (!response.has_value()) {
      out_ << "    -> " << response.error().message << "\n";
    } else {
      out_ << "    -> " << response->status << " " << shorten(response->body) << "\n";
    }
    return response;
  }

  // Repeats `attempt` until it returns true or the deadline passes; the last exchange is
  // printed. Waits because CHT's outbound push and rest-hook notifications are asynchronous.
  bool poll(const std::function<bool(bool last)>& attempt) {
    auto deadline = Clock::now() + std::chrono::milliseconds(args_.timeout_ms);
    while (Clock::now() < deadline) {
      if (attempt(false)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return attempt(true);
  }

  void step(const std::string& title) { out_ << "\n[" << ++step_ << "] " << title << "\n"; }

  int fail(const std::string& why) {
    out_ << "\nFAILED at step " << step_ << ": " << why << "\n";
    return kExitFailure;
  }

  int steps() const { return step_; }

 private:
  const DemoArgs& args_;
  net::HttpClient& client_;
  std::ostream& out_;
  int step_ = 0;
};

std::optional<Json> bodyJson(const Result<net::ClientResponse>& r) {
  if (!r.has_value()) return std::nullopt;
  auto parsed = parseJson(r->body);
  if (!parsed.has_value()) return std::nullopt;
  return *parsed;
}

bool statusIs(const Result<net::ClientResponse>& r, int status) {
  return r.has_value() && r->status == status;
}

std::string describe(const Result<net::ClientResponse>& r) {
  if (!r.has_value()) return r.error().message;
  return "HTTP " + std::to_string(r->status) + " " + shorten(r->body);
}

int64_t totalOf(const Result<net::ClientResponse>& r) {
  auto json = bodyJson(r);
  if (!json || !json->is_object() || !(*json)["total"].is_number_integer()) return -1;
  return (*json)["total"].get<int64_t>();
}

int runLtfu(const DemoArgs& args, net::HttpClient& client, uint16_t callback_port,
            CallbackInbox& inbox, std::ostream& out) {
  Demo demo(args, client, out);
  MtRandom random;
  const std::string run = newUuid(random).substr(0, 8);
  const net::BasicAuth interop{args.username, args.password};
  const net::BasicAuth cht_admin{args.cht_username, args.cht_password};
  const std::string router = args.url;
  const std::string cht = args.cht_url;
  const auto started = Clock::now();

  out << "LTFU walkthrough (run " << run << ")\n  router " << router << "\n  CHT    " << cht
      << "\n  callback http://127.0.0.1:" << callback_port << "/callback\n";

  demo.step("The mediator answers through the router");
  auto status = demo.call("GET", router + "/mediator/", std::nullopt, interop);
  if (!statusIs(status, 200))
    return demo.fail("the mediator is not reachable: " + describe(status));

  demo.step("CHT: create a place for the CHW (admin)");
  auto place =
      demo.call("POST", cht + "/api/v1/places",
                Json{{"name", "Demo Branch " + run}, {"type", "district_hospital"}}, cht_admin);
  auto place_json = bodyJson(place);
  if (!statusIs(place, 200) || !place_json || !(*place_json)["id"].is_string())
    return demo.fail("CHT refused the place: " + describe(place));
  const std::string place_id = (*place_json)["id"].get<std::string>();

  demo.step("CHT: create the CHW user");
  const std::string chw_name = "demo-chw-" + run;
  const std::string chw_password = "Demo-" + run + "-pass";
  auto user = demo.call(
      "POST", cht + "/api/v2/users",
      Json{{"username", chw_name},
           {"password", chw_password},
           {"type", "chw"},
           {"place",
            {{"name", "Demo Area " + run}, {"type", "health_center"}, {"parent", place_id}}},
           {"contact", {{"name", "Demo CHW " + run}, {"phone", "+254700000001"}}}},
      cht_admin);
  auto user_json = bodyJson(user);
  if (!statusIs(user, 200) || !user_json)
    return demo.fail("CHT refused the user: " + describe(user));
  const std::string chw_contact = user_json->value("/contact/id"_json_pointer, std::string());
  const std::string chw_place = user_json->value("/place/id"_json_pointer, place_id);
  const net::BasicAuth chw{chw_name, chw_password};

  demo.step("Requesting system: register its callback Endpoint through the mediator");
  const std::string endpoint_identifier = "demo-endpoint-" + run;
  auto endpoint = demo.call(
      "POST", router + "/mediator/endpoint",
      Json{{"resourceType", "Endpoint"},
           {"identifier", Json::array({{{"system", "official"}, {"value", endpoint_identifier}}})},
           {"status", "active"},
           {"connectionType",
            {{"system", "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"},
             {"code", "hl7-fhir-rest"}}},
           {"payloadType", Json::array({{{"text", "application/json"}}})},
           {"address", "http://127.0.0.1:" + std::to_string(callback_port) + "/callback"}},
      interop);
  auto endpoint_json = bodyJson(endpoint);
  if (!statusIs(endpoint, 201) || !endpoint_json || !(*endpoint_json)["id"].is_string())
    return demo.fail("the mediator did not create the Endpoint: " + describe(endpoint));
  const std::string endpoint_id = (*endpoint_json)["id"].get<std::string>();

  demo.step("Requesting system: register its Organization, pointing at the Endpoint");
  const std::string org_identifier = "demo-org-" + run;
  auto org = demo.call(
      "POST", router + "/mediator/organization",
      Json{{"resourceType", "Organization"},
           {"name", "Demo clinic " + run},
           {"identifier", Json::array({{{"system", "official"}, {"value", org_identifier}}})},
           {"endpoint", Json::array({{{"reference", "Endpoint/" + endpoint_id}}})}},
      interop);
  if (!statusIs(org, 201))
    return demo.fail("the mediator did not create the Organization: " + describe(org));
  auto org_search = demo.call("GET", router + "/fhir/Organization/?identifier=" + org_identifier,
                              std::nullopt, interop);
  if (totalOf(org_search) != 1)
    return demo.fail("FHIR should hold exactly one Organization " + org_identifier + ": " +
                     describe(org_search));

  demo.step("CHW: register a patient in CHT");
  auto person = demo.call("POST", cht + "/api/v1/people",
                          Json{{"name", "Demo Patient " + run},
                               {"phone", "+254700000002"},
                               {"date_of_birth", "1980-06-06"},
                               {"sex", "female"},
                               {"type", "person"},
                               {"role", "patient"},
                               {"contact_type", "patient"},
                               {"place", chw_place}},
                          chw);
  auto person_json = bodyJson(person);
  if (!statusIs(person, 200) || !person_json || !(*person_json)["id"].is_string())
    return demo.fail("CHT refused the patient: " + describe(person));
  const std::string patient_id = (*person_json)["id"].get<std::string>();

  demo.step("CHT's outbound push brings the patient to FHIR (through router and mediator)");
  Result<net::ClientResponse> patient_search = notFound("not asked yet");
  bool pushed = demo.poll([&](bool last) {
    patient_search = demo.call("GET", router + "/fhir/Patient/?identifier=" + patient_id,
                               std::nullopt, interop, !last);
    return totalOf(patient_search) == 1;
  });
  if (!pushed)
    return demo.fail(
        "the patient never reached FHIR within the timeout: " + describe(patient_search) +
        " (check `chtlink jobs list` and cht-sim's task:outbound docs)");
  out << "    -> found Patient with identifier " << patient_id << "\n";

  demo.step("Requesting system: ask for a follow-up (ServiceRequest through the mediator)");
  auto request = demo.call("POST", router + "/mediator/service-request",
                           Json{{"intent", "order"},
                                {"status", "active"},
                                {"subject", {{"reference", "Patient/" + patient_id}}},
                                {"requester", {{"reference", "Organization/" + org_identifier}}}},
                           interop);
  auto request_json = bodyJson(request);
  if (!statusIs(request, 201) || !request_json)
    return demo.fail("the mediator refused the service request: " + describe(request));
  const std::string criteria =
      request_json->value("criteria", "Encounter?identifier=" + patient_id);

  demo.step("CHT holds the interop_follow_up record that raises the CHW's task");
  Result<net::ClientResponse> records = notFound("not asked yet");
  bool recorded = demo.poll([&](bool last) {
    records = demo.call(
        "POST", cht + "/medic/_find",
        Json{{"selector", {{"type", "data_record"}, {"fields.patient_uuid", patient_id}}}},
        cht_admin, !last);
    auto json = bodyJson(records);
    return json && (*json)["docs"].is_array() && !(*json)["docs"].empty();
  });
  if (!recorded) return demo.fail("no follow-up record in CHT: " + describe(records));
  out << "    -> follow-up record present\n";

  demo.step("CHW: complete the task (the interop_follow_up report)");
  const std::string report_id = newUuid(random);
  Json report = {{"_id", report_id},
                 {"_rev", "1-" + newUuid(random)},
                 {"type", "data_record"},
                 {"form", "interop_follow_up"},
                 {"from", ""},
                 {"hidden_fields", Json::array({"meta"})},
                 {"reported_date", 0},
                 {"contact", {{"_id", chw_contact}, {"parent", {{"_id", chw_place}}}}},
                 {"fields",
                  {{"inputs",
                    {{"source", "task"},
                     {"is_covid_vaccine_referral", ""},
                     {"contact", {{"_id", patient_id}}}}},
                   {"vaccination_details", {{"interop_follow_up", "yes"}}},
                   {"meta", {{"instanceID", "uuid:" + newUuid(random)}}}}}};
  report["reported_date"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  auto bulk = demo.call("POST", cht + "/medic/_bulk_docs",
                        Json{{"docs", Json::array({report})}, {"new_edits", false}}, chw);
  if (!statusIs(bulk, 201)) return demo.fail("CHT refused the report: " + describe(bulk));

  demo.step("The requesting system's callback receives the Encounter (rest-hook)");
  auto notification =
      inbox.waitFor("/callback/Encounter/", std::chrono::milliseconds(args.timeout_ms));
  if (!notification)
    return demo.fail(
        "no notification reached the callback within the timeout (check the "
        "Subscription's status and `chtlink jobs list --kind fhir-subscription`)");
  out << "  " << (*notification)[0] << " " << (*notification)[1] << " (received)\n    "
      << shorten((*notification)[2]) << "\n";

  demo.step("FHIR holds the Encounter the subscription matched");
  auto encounters = demo.call("GET", router + "/fhir/" + criteria, std::nullopt, interop);
  if (totalOf(encounters) != 1)
    return demo.fail("expected exactly one Encounter for " + criteria + ": " +
                     describe(encounters));

  demo.step("The ServiceRequest is completed");
  Result<net::ClientResponse> service_requests = notFound("not asked yet");
  bool completed = demo.poll([&](bool last) {
    service_requests =
        demo.call("GET", router + "/fhir/ServiceRequest?subject:Patient.identifier=" + patient_id,
                  std::nullopt, interop, !last);
    auto json = bodyJson(service_requests);
    if (!json || !(*json)["entry"].is_array() || (*json)["entry"].empty()) return false;
    return (*json)["entry"][0].value("/resource/status"_json_pointer, std::string()) == "completed";
  });
  if (!completed)
    return demo.fail("the ServiceRequest did not become completed: " + describe(service_requests));

  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  out << "\nSUCCESS: the LTFU flow completed in " << demo.steps() << " steps, "
      << static_cast<int>(seconds * 1000) << " ms.\n";
  return kExitOk;
}

}  // namespace

int demoLtfuCommand(const DemoArgs& args) {
  auto quiet =
      std::make_shared<spdlog::logger>("demo", std::make_shared<spdlog::sinks::null_sink_mt>());
  net::EventLoop loop(1, quiet);
  net::ClientOptions client_options;
  client_options.request_timeout = std::chrono::milliseconds(10'000);
  client_options.verify_tls = !args.insecure;
  auto client = net::makeBeastHttpClient(loop, client_options);

  // The requesting system's callback: accepts whatever the subscription sends.
  CallbackInbox inbox;
  net::Router router;
  router.add("*", "/callback/{rest...}", [&inbox](net::Request request, net::Reply reply) {
    inbox.add(request.method, request.path, request.body);
    reply(net::Response::json(200, Json::object()));
  });
  net::ServerOptions options;
  options.name = "demo-callback";
  options.host = "127.0.0.1";
  options.port = 0;
  options.port_setting = "(the demo picks a free port)";
  net::Server server(loop, options, std::move(router), quiet);
  auto port = server.listen();
  if (!port.has_value()) {
    std::cerr << "cannot start the demo's callback receiver: " << port.error().message << "\n";
    return kExitFailure;
  }
  loop.start();
  int code = kExitFailure;
  if (args.flow == "ltfu") code = runLtfu(args, *client, *port, inbox, std::cout);
  server.shutdown(std::chrono::milliseconds(0), [] {});
  client.reset();
  loop.stop();
  loop.join();
  return code;
}

}  // namespace chtlink::cli
