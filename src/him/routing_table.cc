#include "him/routing_table.h"

#include "him/repository.h"

namespace chtlink::him {

std::shared_ptr<const RoutingState> RoutingTable::get() const {
  std::lock_guard lock(mu_);
  return state_;
}

void RoutingTable::set(std::shared_ptr<const RoutingState> state) {
  std::lock_guard lock(mu_);
  state_ = std::move(state);
}

Result<std::shared_ptr<const RoutingState>> RoutingTable::load(store::Transaction& tx,
                                                               std::vector<std::string>* skipped) {
  auto state = std::make_shared<RoutingState>();
  CHTLINK_ASSIGN_OR_RETURN(auto channels, listDocs(tx, Collection::Channels));
  int64_t order = 0;
  for (const auto& stored : channels) {
    auto channel = parseChannel(stored.doc, order++);
    if (!channel.has_value()) {
      if (skipped) skipped->push_back(channel.error().message);
      continue;
    }
    state->channels.push_back(std::move(channel).value());
  }
  sortForSelection(state->channels);
  CHTLINK_ASSIGN_OR_RETURN(auto clients, listDocs(tx, Collection::Clients));
  for (auto& stored : clients) {
    std::string id = stored.doc.value("clientID", "");
    state->clients.emplace(std::move(id), std::move(stored.doc));
  }
  return std::shared_ptr<const RoutingState>(std::move(state));
}

}  // namespace chtlink::him
