// TransactionLog: writes router transactions to the store in batches, off the I/O thread.
//
// record() only appends the record to an in-memory buffer and, when no write is in flight,
// posts one to the store's writer; every document that arrives while a write runs goes into
// the next batch. So under load a batch holds what arrived during one commit, and the hot
// path never waits for the database (it takes one mutex for a few pointer moves; JSON is
// serialised on the store's thread).
//
// Records are keyed by id: a record of a transaction whose earlier version is still in
// the buffer replaces that version in place. The router records each transaction twice
// (`Processing` when it starts, the final document when every route has finished), so under
// load most short exchanges reach the database once, in their final state, which halves the
// writer's work; a slow exchange is still visible as `Processing` while it runs.
//
// What a crash can lose: documents in the buffer and in the batch being committed, i.e.
// those recorded in the last commit interval (milliseconds under load; nothing stays buffered
// while the store is idle). That is acceptable for a log, and making it lossless would put a
// synchronous commit on every request: the request itself was answered by the upstream, which
// holds the real record, and on restart a transaction left `Processing` is marked `Failed`
// (see Him::start) so no entry claims to be still running. When the store refuses a batch
// (overloaded, closing), the documents are kept and retried with the next record() or flush(),
// up to max_buffered, beyond which the oldest are dropped and counted (dropped()).
//
// Thread-safety: all methods from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "him/transaction_record.h"
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

  // Queues an insert-or-replace of the transaction `record.id`; replaces a not yet written
  // version of the same transaction.
  void record(TransactionRecord record);
  // Blocks until everything recorded before the call is committed or has failed. Not on an
  // I/O thread.
  void flush();
  uint64_t dropped() const;
  // Documents committed to the store so far (a replaced version is not counted).
  uint64_t written() const;

 private:
  // Appends to buffer_ or replaces the buffered version with the same _id. mu_ held.
  void buffer(TransactionRecord record);
  void reindex();  // rebuilds index_ after buffer_ changed wholesale. mu_ held.
  void post(std::vector<TransactionRecord> records);
  void onWritten(Status status, std::vector<TransactionRecord> batch);

  store::Database& db_;
  std::shared_ptr<spdlog::logger> log_;
  size_t max_buffered_;
  mutable std::mutex mu_;
  std::condition_variable idle_;
  std::vector<TransactionRecord> buffer_;
  std::unordered_map<std::string, size_t> index_;  // id -> position in buffer_
  bool writing_ = false;
  uint64_t dropped_ = 0;
  uint64_t written_ = 0;
};

}  // namespace chtlink::him
