// cht options: the [cht] (pull mode) and [cht_sim] (emulator inside `chtlink serve`) sections
// of the configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace chtlink::cht {

// [cht]: pull mode. With mode "pull", serve follows medic/_changes of the CHT at `url` and
// delivers the app_settings outbound payloads through the durable queue.
struct ChtOptions {
  std::string mode = "off";  // off | pull
  // CHT API base URL (https://cht.example.org); user and password may be in it.
  std::string url;
  std::string username;
  std::string password;
  // app_settings JSON file whose `outbound` rules pull mode applies; empty reads them from
  // CHT (GET /api/v1/settings), again whenever the changes feed shows the settings doc.
  std::string settings_file;
  // JSON object {"<password_key or value_key>": "<secret>"}: the outbound credentials. CHT
  // keeps them encrypted in medic-vault, out of reach of its API, so pull mode has its own.
  std::string credentials_file;
  std::string checkpoint = "cht.pull";  // name of the stored checkpoint
  int batch = 500;                      // changes read per page
  std::chrono::milliseconds longpoll{30'000};
  int max_attempts = 0;  // per delivery job; 0 = queue.max_attempts
  // Several processes on one database: one follows the feed (the holder of an advisory lock
  // named after the checkpoint); the others try to take over this often.
  std::chrono::milliseconds leader_retry{5'000};
};

// [cht_sim]: the CHT emulator as one more listener of serve, sharing its store.
struct ChtSimServeOptions {
  bool enabled = false;
  std::string host = "127.0.0.1";
  uint16_t port = 5988;
  std::string seed = "ltfu";  // "ltfu" or "" (empty settings)
  // Where the seeded outbound configs push; empty = this serve's router (server.port).
  std::string router_url;
  std::string admin_user = "medic";
  std::string admin_password = "password";
  std::chrono::milliseconds scheduler_interval{5 * 60 * 1000};
  bool test_hooks = false;  // serve /_sim/* (clock, scheduler)
};

}  // namespace chtlink::cht
