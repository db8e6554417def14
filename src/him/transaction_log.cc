#include "him/transaction_log.h"

#include <spdlog/spdlog.h>

#include "him/repository.h"

namespace chtlink::him {

TransactionLog::TransactionLog(store::Database& db, std::shared_ptr<spdlog::logger> log,
                               size_t max_buffered)
    : db_(db), log_(std::move(log)), max_buffered_(max_buffered) {}

TransactionLog::~TransactionLog() { flush(); }

void TransactionLog::record(Json doc) {
  std::vector<Json> batch;
  {
    std::lock_guard lock(mu_);
    if (buffer_.size() >= max_buffered_) {
      buffer_.erase(buffer_.begin());
      ++dropped_;
    }
    buffer_.push_back(std::move(doc));
    if (writing_) return;
    writing_ = true;
    batch.swap(buffer_);
  }
  post(std::move(batch));
}

// Called without mu_ held: when the pool refuses the work, post() runs `done` right here.
void TransactionLog::post(std::vector<Json> docs) {
  auto batch = std::make_shared<std::vector<Json>>(std::move(docs));
  db_.post(
      store::Access::Write,
      [batch](store::Transaction& tx) { return upsertTransactions(tx, *batch); },
      [this, batch](Status status) { onWritten(std::move(status), std::move(*batch)); });
}

void TransactionLog::onWritten(Status status, std::vector<Json> batch) {
  std::vector<Json> next;
  {
    std::lock_guard lock(mu_);
    if (!status.has_value()) {
      if (log_) {
        log_->warn("transaction log: cannot write {} transactions ({}); kept for the next write",
                   batch.size(), status.error().message);
      }
      // Back in front, keeping order; retried by the next record() or flush().
      batch.insert(batch.end(), std::make_move_iterator(buffer_.begin()),
                   std::make_move_iterator(buffer_.end()));
      buffer_ = std::move(batch);
      while (buffer_.size() > max_buffered_) {
        buffer_.erase(buffer_.begin());
        ++dropped_;
      }
      writing_ = false;
      idle_.notify_all();
      return;
    }
    if (buffer_.empty()) {
      writing_ = false;
      idle_.notify_all();
      return;
    }
    next.swap(buffer_);
  }
  post(std::move(next));
}

void TransactionLog::flush() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<Json> batch;
    {
      std::unique_lock lock(mu_);
      idle_.wait(lock, [&] { return !writing_; });
      if (buffer_.empty()) return;
      writing_ = true;
      batch.swap(buffer_);
    }
    post(std::move(batch));
  }
  std::unique_lock lock(mu_);
  idle_.wait(lock, [&] { return !writing_; });
}

uint64_t TransactionLog::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace chtlink::him
