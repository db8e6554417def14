// Template part of engine.h.
#pragma once

#include <future>
#include <utility>

namespace chtlink::script {

template <typename T>
Result<T> Engine::runSync(std::string doc_json, std::function<Result<T>(Session&)> work) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  post(std::move(doc_json),
       [&promise, &work](Session& session) { promise.set_value(work(session)); });
  return future.get();
}

}  // namespace chtlink::script
