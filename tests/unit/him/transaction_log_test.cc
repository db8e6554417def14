#include "him/transaction_log.h"

#include <gtest/gtest.h>

#include <thread>

#include "him/repository.h"
#include "store/migrations.h"
#include "test_database.h"

namespace chtlink::him {
namespace {

Json tx(int i, const std::string& status) {
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

TEST(TransactionLogTest, InterruptedTransactionsAreMarkedFailed) {
  chtlink::testing::TempDir dir;
  auto db = chtlink::testing::openTestDatabase(dir);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(store::migrate(**db, migrations()).has_value());
  Json done = tx(2, "Successful");
  done["response"] = {{"status", 200}};
  std::vector<Json> docs = {tx(1, "Processing"), done};
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
