#include "him/transaction_log.h"

#include <spdlog/spdlog.h>

#include "him/repository.h"

namespace chtlink::him {
namespace {

std::string idOf(const Json& doc) {
  auto it = doc.find("_id");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

TransactionLog::TransactionLog(store::Database& db, std::shared_ptr<spdlog::logger> log,
                               size_t max_buffered)
    : db_(db), log_(std::move(log)), max_buffered_(max_buffered) {}

TransactionLog::~TransactionLog() { flush(); }

void TransactionLog::buffer(Json doc) {
  std::string id = idOf(doc);
  if (auto it = index_.find(id); it != index_.end() && !id.empty()) {
    buffer_[it->second] = std::move(doc);
    return;
  }
  if (buffer_.size() >= max_buffered_) {
    buffer_.erase(buffer_.begin());
    ++dropped_;
    reindex();
  }
  buffer_.push_back(std::move(doc));
  if (!id.empty()) index_.emplace(std::move(id), buffer_.size() - 1);
}

void TransactionLog::reindex() {
  index_.clear();
  for (size_t i = 0; i < buffer_.size(); ++i) {
    std::string id = idOf(buffer_[i]);
    if (!id.empty()) index_[std::move(id)] = i;
  }
}

void TransactionLog::record(Json doc) {
  std::vector<Json> batch;
  {
    std::lock_guard lock(mu_);
    buffer(std::move(doc));
    if (writing_) return;
    writing_ = true;
    batch.swap(buffer_);
    index_.clear();
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
      // Back in front, keeping order; a newer version recorded meanwhile wins.
      std::vector<Json> newer = std::move(buffer_);
      buffer_ = std::move(batch);
      reindex();
      for (auto& doc : newer) buffer(std::move(doc));
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
    std::vector<Json> batch;
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
