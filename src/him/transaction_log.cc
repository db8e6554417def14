#include "him/transaction_log.h"

#include <spdlog/spdlog.h>

#include "him/repository.h"

namespace chtlink::him {
namespace {

Status upsertRecords(store::Transaction& tx, const std::vector<TransactionRecord>& records) {
  for (const auto& r : records) {
    CHTLINK_TRY(upsertTransactionRow(tx, r.id, r.channel_id, r.client_id, r.status, r.request_ts_ms,
                                     r.toJson()));
  }
  return ok();
}

}  // namespace

TransactionLog::TransactionLog(store::Database& db, std::shared_ptr<spdlog::logger> log,
                               size_t max_buffered)
    : db_(db), log_(std::move(log)), max_buffered_(max_buffered) {}

TransactionLog::~TransactionLog() { flush(); }

void TransactionLog::buffer(TransactionRecord record) {
  if (auto it = index_.find(record.id); it != index_.end() && !record.id.empty()) {
    buffer_[it->second] = std::move(record);
    return;
  }
  if (buffer_.size() >= max_buffered_) {
    buffer_.erase(buffer_.begin());
    ++dropped_;
    reindex();
  }
  buffer_.push_back(std::move(record));
  if (!buffer_.back().id.empty()) index_.emplace(buffer_.back().id, buffer_.size() - 1);
}

void TransactionLog::reindex() {
  index_.clear();
  for (size_t i = 0; i < buffer_.size(); ++i)
    if (!buffer_[i].id.empty()) index_[buffer_[i].id] = i;
}

void TransactionLog::record(TransactionRecord record) {
  std::vector<TransactionRecord> batch;
  {
    std::lock_guard lock(mu_);
    buffer(std::move(record));
    if (writing_) return;
    writing_ = true;
    batch.swap(buffer_);
    index_.clear();
  }
  post(std::move(batch));
}

// Called without mu_ held: when the pool refuses the work, post() runs `done` right here.
void TransactionLog::post(std::vector<TransactionRecord> records) {
  auto batch = std::make_shared<std::vector<TransactionRecord>>(std::move(records));
  db_.post(
      store::Access::Write, [batch](store::Transaction& tx) { return upsertRecords(tx, *batch); },
      [this, batch](Status status) { onWritten(std::move(status), std::move(*batch)); });
}

void TransactionLog::onWritten(Status status, std::vector<TransactionRecord> batch) {
  std::vector<TransactionRecord> next;
  {
    std::lock_guard lock(mu_);
    if (!status.has_value()) {
      if (log_) {
        log_->warn("transaction log: cannot write {} transactions ({}); kept for the next write",
                   batch.size(), status.error().message);
      }
      // Back in front, keeping order; a newer version recorded meanwhile wins.
      std::vector<TransactionRecord> newer = std::move(buffer_);
      buffer_ = std::move(batch);
      reindex();
      for (auto& record : newer) buffer(std::move(record));
      if (buffer_.size() > max_buffered_) {
        size_t excess = buffer_.size() - max_buffered_;
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(excess));
        dropped_ += excess;
        reindex();
      }
      writing_ = false;
      idle_.notify_all();
      return;
    }
    written_ += batch.size();
    if (buffer_.empty()) {
      writing_ = false;
      idle_.notify_all();
      return;
    }
    next.swap(buffer_);
    index_.clear();
  }
  // The written documents are freed here, on the store's thread, not on an I/O thread.
  batch.clear();
  post(std::move(next));
}

void TransactionLog::flush() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<TransactionRecord> batch;
    {
      std::unique_lock lock(mu_);
      idle_.wait(lock, [&] { return !writing_; });
      if (buffer_.empty()) return;
      writing_ = true;
      batch.swap(buffer_);
      index_.clear();
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

uint64_t TransactionLog::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

}  // namespace chtlink::him
