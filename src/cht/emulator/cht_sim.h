// ChtSim: `chtlink cht-sim`, an emulator of the CHT API for offline tests, demos and config
// checks (cht.md 6). It keeps CHT's documented behaviour rather than a convenient fake's:
// CouchDB revisions, conflicts and changes feed (doc_store.h), CHT's endpoints, Basic auth with
// app_settings permissions and CHT's error envelopes, and a Sentinel that runs
// mark_for_outbound on every change through the shared outbound engine (cht/outbound).
//
// All request handling runs on one emulator thread (CouchDB-style serial writes, the Sentinel
// pass finished before the write is answered, as cht.md 6.3 asks for determinism); I/O
// threads only hand requests over. Outbound pushes are made from that thread with the
// injected HttpClient (a slow destination stalls Sentinel, as it does in CHT); failed pushes
// wait in `task:outbound:<id>` documents for the scheduler.
//
// Test hooks (only with options.test_hooks): POST /_sim/clock/advance {"ms":N} moves the
// emulator's clock, POST /_sim/scheduler/run runs the outbound scheduler now.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/random.h"
#include "base/result.h"
#include "net/client.h"
#include "net/router.h"
#include "script/engine.h"
#include "store/database.h"

namespace spdlog {
class logger;
}

namespace chtlink::cht::emulator {

struct ChtSimOptions {
  std::string admin_user = "medic";  // CouchDB admin (passes every permission check)
  std::string admin_password = "password";
  // --seed ltfu: the reference LTFU app_settings (cht.md 4.2, 4.5) with outbound pointing at
  // router_url, and credential openhim1 = openhim_password.
  bool seed_ltfu = false;
  std::string router_url = "http://127.0.0.1:5001";
  std::string openhim_user = "interop-client";
  std::string openhim_password = "interop-password";
  // How often Sentinel's scheduler retries queued pushes (CHT: 5 minutes).
  std::chrono::milliseconds scheduler_interval{5 * 60 * 1000};
  // Longest wait of a longpoll _changes request (CHT's default timeout is 60 s).
  std::chrono::milliseconds max_longpoll{60'000};
  bool test_hooks = false;  // serve /_sim/*
};

class ChtSim {
 public:
  // Seeds the databases on first start (settings doc, admin), keeps existing state otherwise.
  // The store must have the migrations of DocStore::migrations() applied. Every reference must
  // outlive the emulator.
  static Result<std::unique_ptr<ChtSim>> create(store::Database& database, script::Engine& engine,
                                                net::HttpClient& http, const Clock& clock,
                                                Random& random, ChtSimOptions options,
                                                std::shared_ptr<spdlog::logger> logger);
  virtual ~ChtSim() = default;

  // The emulator's routes, to serve on its own listener.
  virtual net::Router router() = 0;
  // Answers waiting longpoll/continuous _changes requests now, and later ones at once, so a
  // listener shutting down drains without waiting for their timeouts. Does not block.
  virtual void drainWaiters() = 0;
  // Finishes the request in progress, answers waiting longpolls, stops the threads.
  virtual void stop() = 0;
};

}  // namespace chtlink::cht::emulator
