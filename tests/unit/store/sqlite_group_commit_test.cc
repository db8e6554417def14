// Group commit in the SQLite backend: write tasks queued together share one transaction, each
// in its own savepoint. A failing or throwing task loses only its own changes, and every
// task's `done` sees its changes committed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/database.h"
#include "temp_dir.h"
#include "test_database.h"
#include "wait_until.h"

namespace chtlink::store {
namespace {

using ::chtlink::testing::TempDir;
using ::chtlink::testing::waitUntil;

class SqliteGroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = testing::openTestDatabase(dir_, StoreOptions{});
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(db).value();
    Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
      CHTLINK_TRY(tx.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)"));
      return ok();
    });
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }

  // Holds the writer thread inside a write task until release(), so that the writes posted
  // meanwhile queue up and are then served as one group.
  void blockWriter() {
    db_->post(
        Access::Write,
        [this](Transaction&) -> Status {
          std::unique_lock lock(mu_);
          blocked_ = true;
          cv_.notify_all();
          cv_.wait(lock, [&] { return released_; });
          return ok();
        },
        nullptr);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return blocked_; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  std::vector<std::string> keys() {
    auto rows = db_->runFor<Rows>(Access::Read, [](Transaction& tx) -> Result<Rows> {
      return tx.query("SELECT k FROM t ORDER BY k");
    });
    std::vector<std::string> out;
    if (!rows.has_value()) {
      ADD_FAILURE() << rows.error().message;
      return out;
    }
    for (size_t i = 0; i < rows->size(); ++i) out.push_back(rows->text(i, 0));
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool blocked_ = false;
  bool released_ = false;
};

TEST_F(SqliteGroupCommitTest, AFailingTaskLosesOnlyItsOwnChanges) {
  blockWriter();
  constexpr int kTasks = 12;
  std::vector<std::optional<Status>> results(kTasks);
  std::atomic<int> done{0};
  for (int i = 0; i < kTasks; ++i) {
    db_->post(
        Access::Write,
        [i](Transaction& tx) -> Status {
          std::string k = "k" + std::to_string(10 + i);
          CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", {k, int64_t{i}}));
          // Every third task fails after its insert; one of them by throwing.
          if (i % 3 == 1) return invalidArgument("task " + std::to_string(i) + " fails");
          if (i == 5) throw std::runtime_error("task 5 throws");
          // A constraint violation inside a task rolls back that task only.
          if (i == 9) CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('k10', 0)"));
          return ok();
        },
        [&, i](Status s) {
          results[static_cast<size_t>(i)] = std::move(s);
          done.fetch_add(1);
        });
  }
  release();
  ASSERT_TRUE(waitUntil([&] { return done.load() == kTasks; }, std::chrono::seconds(10)));
  std::vector<std::string> expected;
  for (int i = 0; i < kTasks; ++i) {
    bool fails = i % 3 == 1 || i == 5 || i == 9;
    ASSERT_TRUE(results[static_cast<size_t>(i)].has_value());
    EXPECT_EQ(results[static_cast<size_t>(i)]->has_value(), !fails) << "task " << i;
    if (!fails) expected.push_back("k" + std::to_string(10 + i));
  }
  EXPECT_EQ(keys(), expected);
}

TEST_F(SqliteGroupCommitTest, DoneRunsAfterTheCommitAndLaterTasksSeeEarlierOnes) {
  blockWriter();
  constexpr int kTasks = 8;
  std::atomic<int> done{0};
  std::atomic<int> visible{0};
  std::atomic<int> saw_previous{0};
  for (int i = 0; i < kTasks; ++i) {
    db_->post(
        Access::Write,
        [i, &saw_previous](Transaction& tx) -> Status {
          if (i > 0) {
            CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("SELECT COUNT(*) FROM t WHERE k = ?",
                                                         {"k" + std::to_string(i - 1)}));
            if (rows.integer(0, 0) == 1) saw_previous.fetch_add(1);
          }
          CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, 0)", {"k" + std::to_string(i)}));
          return ok();
        },
        [this, i, &done, &visible](Status s) {
          EXPECT_TRUE(s.has_value());
          // A reader (another connection) already sees the task's row.
          db_->post(
              Access::Read,
              [i, &visible](Transaction& tx) -> Status {
                CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("SELECT COUNT(*) FROM t WHERE k = ?",
                                                             {"k" + std::to_string(i)}));
                if (rows.integer(0, 0) == 1) visible.fetch_add(1);
                return ok();
              },
              [&done](Status) { done.fetch_add(1); });
        });
  }
  release();
  ASSERT_TRUE(waitUntil([&] { return done.load() == kTasks; }, std::chrono::seconds(10)));
  EXPECT_EQ(visible.load(), kTasks);
  EXPECT_EQ(saw_previous.load(), kTasks - 1);
}

TEST_F(SqliteGroupCommitTest, LongGroupsCommitEarlyAndLetUrgentWritesThrough) {
  blockWriter();
  constexpr int kTasks = 20;
  std::mutex order_mu;
  std::vector<std::string> order;  // completion order
  auto record = [&](std::string what) {
    std::lock_guard lock(order_mu);
    order.push_back(std::move(what));
  };
  std::atomic<int> done{0};
  for (int i = 0; i < kTasks; ++i) {
    db_->post(
        Access::Write,
        [i](Transaction& tx) -> Status {
          // A slow write: the whole queue takes far longer than one group may run.
          std::this_thread::sleep_for(std::chrono::milliseconds(3));
          CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, 0)", {"k" + std::to_string(i)}));
          return ok();
        },
        [&, i](Status s) {
          EXPECT_TRUE(s.has_value());
          record("w" + std::to_string(i));
          if (i == 0) {
            db_->postUrgentWrite(
                [](Transaction& tx) -> Status {
                  CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('urgent', 0)"));
                  return ok();
                },
                [&](Status u) {
                  EXPECT_TRUE(u.has_value());
                  record("urgent");
                  done.fetch_add(1);
                });
          }
          done.fetch_add(1);
        });
  }
  release();
  ASSERT_TRUE(waitUntil([&] { return done.load() == kTasks + 1; }, std::chrono::seconds(20)));
  std::lock_guard lock(order_mu);
  ASSERT_EQ(order.size(), static_cast<size_t>(kTasks + 1));
  auto urgent = std::find(order.begin(), order.end(), "urgent") - order.begin();
  // Without an early end, the urgent write would wait for the whole first group (all 20).
  EXPECT_LT(urgent, kTasks) << "the urgent write ran last";
  // The ordinary writes still complete in the order they were posted.
  std::vector<std::string> writes;
  for (const auto& o : order)
    if (o != "urgent") writes.push_back(o);
  for (int i = 0; i < kTasks; ++i)
    EXPECT_EQ(writes[static_cast<size_t>(i)], "w" + std::to_string(i));
  EXPECT_EQ(keys().size(), static_cast<size_t>(kTasks + 1));
}

}  // namespace
}  // namespace chtlink::store
