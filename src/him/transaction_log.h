// TransactionLog: writes router transactions to the store in batches, off the I/O thread.
//
// record() only appends the document to a small in-memory buffer and, when no write is in
// flight, posts one to the store's writer; every document that arrives while a write runs
// goes into the next batch. So under load a batch holds what arrived during one commit, and
// the hot path never waits for the database.
//
// What a crash can lose: documents in the buffer and in the batch being committed, i.e.
// those recorded in the last commit interval (milliseconds). That is acceptable for a log:
// the request itself was answered by the upstream, which holds the real record; on restart
// a transaction left `Processing` is marked `Failed` (see Him::start). When the store
// refuses a batch (overloaded, closing), the documents are kept and retried with the next
// record() or flush(), up to max_buffered, beyond which the oldest are dropped and counted.
//
// Thread-safety: all methods from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/json.h"
#include "store/database.h"

namespace spdlog {
class logger;
}

namespace chtlink::him {

class TransactionLog {
 public:
  TransactionLog(store::Database& db, std::shared_ptr<spdlog::logger> log,
                 size_t max_buffered = 100'000);
  ~TransactionLog();
  TransactionLog(const TransactionLog&) = delete;
  TransactionLog& operator=(const TransactionLog&) = delete;

  // Queues an insert-or-replace of `doc` (keyed by its `_id`).
  void record(Json doc);
  // Blocks until everything recorded before the call is committed or has failed. Not on an
  // I/O thread.
  void flush();
  uint64_t dropped() const;

 private:
  void post(std::vector<Json> docs);
  void onWritten(Status status, std::vector<Json> batch);

  store::Database& db_;
  std::shared_ptr<spdlog::logger> log_;
  size_t max_buffered_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::vector<Json> buffer_;
  bool writing_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace chtlink::him
