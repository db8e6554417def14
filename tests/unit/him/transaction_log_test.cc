#include "him/transaction_log.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "him/repository.h"
#include "store/migrations.h"
#include "test_database.h"

namespace chtlink::him {
namespace {

TransactionRecord tx(int i, const std::string& status) {
  TransactionRecord record;
  record.id = "t" + std::to_string(i);
  record.status = status;
  record.channel_id = "c";
  auto request = std::make_shared<RecordedRequest>();
  request->timestamp = "2024-05-01T10:11:12.000Z";
  record.request = std::move(request);
  return record;
}

Json txDoc(int i, const std::string& status) {
  return {{"_id", "t" + std::to_string(i)},
          {"status", status},
          {"channelID", "c"},
          {"request", {{"timestamp", "2024-05-01T10:11:12.000Z"}}}};
}

TEST(TransactionLogTest, BatchesFromManyThreadsAreAllWrittenAndLaterRecordsWin) {
  chtlink::testing::TempDir dir;
  auto db = chtlink::testing::openTestDatabase(dir);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(store::migrate(**db, migrations()).has_value());
  {
    TransactionLog log(**db, chtlink::testing::nullLogger());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 250; ++i) {
          log.record(tx(t * 1000 + i, "Processing"));
          log.record(tx(t * 1000 + i, "Successful"));
        }
      });
    }
    for (auto& th : threads) th.join();
    log.flush();
    EXPECT_EQ(log.dropped(), 0u);
  }
  std::vector<Json> docs;
  ASSERT_TRUE((*db)
                  ->run(store::Access::Read,
                        [&](store::Transaction& t) -> Status {
                          CHTLINK_ASSIGN_OR_RETURN(docs, listTransactions(t, {}));
                          return ok();
                        })
                  .has_value());
  ASSERT_EQ(docs.size(), 1000u);
  for (const auto& d : docs) EXPECT_EQ(d["status"], "Successful") << d.dump();
}

// While the store's writer is busy, a final record replaces the buffered Processing one:
// the transaction reaches the database once, in its final state.
TEST(TransactionLogTest, ALaterRecordReplacesAnUnwrittenOne) {
  chtlink::testing::TempDir dir;
  auto db = chtlink::testing::openTestDatabase(dir);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(store::migrate(**db, migrations()).has_value());
  TransactionLog log(**db, chtlink::testing::nullLogger());
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  bool blocking = false;
  // Holds the (single) writer until released, so the log's batches queue behind it.
  (*db)->post(
      store::Access::Write,
      [&](store::Transaction&) -> Status {
        std::unique_lock lock(mu);
        blocking = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        return ok();
      },
      [](Status) {});
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return blocking; }));
  }
  log.record(tx(1, "Processing"));  // posted: waits behind the blocker
  log.record(tx(2, "Processing"));  // buffered
  log.record(tx(3, "Processing"));  // buffered
  log.record(tx(2, "Successful"));  // replaces t2's buffered version
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  log.flush();
  EXPECT_EQ(log.written(), 3u);
  EXPECT_EQ(log.dropped(), 0u);
  std::vector<Json> docs;
  ASSERT_TRUE((*db)
                  ->run(store::Access::Read,
                        [&](store::Transaction& t) -> Status {
                          CHTLINK_ASSIGN_OR_RETURN(docs, listTransactions(t, {}));
                          return ok();
                        })
                  .has_value());
  ASSERT_EQ(docs.size(), 3u);
  std::map<std::string, std::string> status;
  for (const auto& d : docs) status[d["_id"]] = d["status"];
  EXPECT_EQ(status["t1"], "Processing");
  EXPECT_EQ(status["t2"], "Successful");
  EXPECT_EQ(status["t3"], "Processing");
}

TEST(TransactionLogTest, InterruptedTransactionsAreMarkedFailed) {
  chtlink::testing::TempDir dir;
  auto db = chtlink::testing::openTestDatabase(dir);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(store::migrate(**db, migrations()).has_value());
  Json done = txDoc(2, "Successful");
  done["response"] = {{"status", 200}};
  std::vector<Json> docs = {txDoc(1, "Processing"), done};
  ASSERT_TRUE((*db)
                  ->run(store::Access::Write,
                        [&](store::Transaction& t) { return upsertTransactions(t, docs); })
                  .has_value());
  auto failed = (*db)->runFor<int64_t>(store::Access::Write, [](store::Transaction& t) {
    return failInterruptedTransactions(t, "2024-05-01T10:11:13.000Z");
  });
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(*failed, 1);
  TransactionFilter f;
  f.status = "Failed";
  std::vector<Json> listed;
  ASSERT_TRUE((*db)
                  ->run(store::Access::Read,
                        [&](store::Transaction& t) -> Status {
                          CHTLINK_ASSIGN_OR_RETURN(listed, listTransactions(t, f));
                          return ok();
                        })
                  .has_value());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["_id"], "t1");
}

}  // namespace
}  // namespace chtlink::him
