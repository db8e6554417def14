// RoutingTable: the channels and clients the router reads on every request, held in memory.
//
// The admin API replaces the whole state after each committed write (channels and clients
// change at human rates), so the hot path takes one shared_ptr copy under a mutex and never
// touches the database.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "him/channel.h"
#include "store/database.h"

namespace chtlink::him {

struct RoutingState {
  std::vector<Channel> channels;        // in selection order
  std::map<std::string, Json> clients;  // by clientID
};

class RoutingTable {
 public:
  std::shared_ptr<const RoutingState> get() const;
  void set(std::shared_ptr<const RoutingState> state);

  // Reads channels and clients. A stored channel that cannot be parsed is skipped (and
  // named in `skipped`), so one bad document does not stop routing for the others.
  static Result<std::shared_ptr<const RoutingState>> load(store::Transaction& tx,
                                                          std::vector<std::string>* skipped);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const RoutingState> state_ = std::make_shared<RoutingState>();
};

}  // namespace chtlink::him
