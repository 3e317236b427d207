#include "storage/pg_pool.h"

#include "tests/storage/storage_test_env.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

#include <optional>
#include <string>
#include <thread>

namespace wave::pipedrive {
namespace {

using ::testing::HasSubstr;
using ::testing::Ne;
using ::wave::pipedrive::storage_test::kNoDatabaseMessage;
using ::wave::pipedrive::storage_test::RawQuery;
using ::wave::pipedrive::storage_test::TestDatabaseUrl;
using ::wave::testing::StatusIs;

// Nothing listens on port 1; connect_timeout bounds a stray firewall.
constexpr char kUnreachableUrl[] =
    "host=127.0.0.1 port=1 user=postgres dbname=wave_test connect_timeout=5";
constexpr char kPoolExhausted[] = "database: no free connection in the pool";

int BackendPid(PgPool::Lease& lease) {
  pqxx::nontransaction tx(lease.conn());
  return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

// Ends the backend behind `pid` and waits until it has exited.
void TerminateBackend(int pid) {
  pqxx::result rows = RawQuery(TestDatabaseUrl(),
                               "SELECT pg_terminate_backend($1, 10000)", pid);
  ASSERT_TRUE(rows[0][0].as<bool>()) << "backend " << pid << " not ended";
}

class PgPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(TestDatabaseUrl().empty()) << kNoDatabaseMessage;
  }
};

TEST_F(PgPoolTest, LeaseRunsQueriesAndIsReused) {
  PgPool pool(TestDatabaseUrl(), 1);

  int first_pid = 0;
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_OK(lease);
    first_pid = BackendPid(*lease);
  }
  absl::StatusOr<PgPool::Lease> again = pool.Acquire();

  ASSERT_OK(again);
  EXPECT_EQ(BackendPid(*again), first_pid);
  EXPECT_EQ(pool.conninfo(), TestDatabaseUrl());
}

TEST_F(PgPoolTest, AcquireBeyondSizeWaitsForAReturnedLease) {
  PgPool pool(TestDatabaseUrl(), 2);
  absl::StatusOr<PgPool::Lease> first = pool.Acquire();
  ASSERT_OK(first);
  std::optional<PgPool::Lease> second;
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_OK(lease);
    second.emplace(*std::move(lease));
  }
  const int second_pid = BackendPid(*second);

  absl::Notification acquired;
  absl::Status waiter_status;
  int waiter_pid = 0;
  std::thread waiter([&] {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire(absl::Seconds(20));
    waiter_status = lease.status();
    if (lease.ok()) waiter_pid = BackendPid(*lease);
    acquired.Notify();
  });
  const bool acquired_early =
      acquired.WaitForNotificationWithTimeout(absl::Milliseconds(300));
  second.reset();
  const bool acquired_after_release =
      acquired.WaitForNotificationWithTimeout(absl::Seconds(20));
  waiter.join();

  EXPECT_FALSE(acquired_early) << "Acquire did not wait for a free lease";
  EXPECT_TRUE(acquired_after_release);
  EXPECT_OK(waiter_status);
  // The waiter got the connection that was handed back, not a new one.
  EXPECT_EQ(waiter_pid, second_pid);
}

TEST_F(PgPoolTest, AcquireGivesUpAfterItsWait) {
  PgPool pool(TestDatabaseUrl(), 1);
  absl::StatusOr<PgPool::Lease> held = pool.Acquire();
  ASSERT_OK(held);

  const absl::Time start = absl::Now();
  absl::StatusOr<PgPool::Lease> waited = pool.Acquire(absl::Milliseconds(100));
  const absl::Duration elapsed = absl::Now() - start;
  absl::StatusOr<PgPool::Lease> immediate = pool.Acquire(absl::ZeroDuration());

  EXPECT_THAT(waited, StatusIs(absl::StatusCode::kUnavailable, kPoolExhausted));
  EXPECT_GE(elapsed, absl::Milliseconds(90));
  EXPECT_LT(elapsed, absl::Seconds(5));
  EXPECT_THAT(immediate,
              StatusIs(absl::StatusCode::kUnavailable, kPoolExhausted));
}

TEST_F(PgPoolTest, UnreachableDatabaseIsUnavailableAndFreesTheSlot) {
  PgPool pool(kUnreachableUrl, 1);

  absl::StatusOr<PgPool::Lease> first = pool.Acquire(absl::Seconds(1));
  // A failed connect must hand its slot back: with size 1, a leaked slot
  // would make this second call report an exhausted pool instead.
  absl::StatusOr<PgPool::Lease> second = pool.Acquire(absl::ZeroDuration());

  EXPECT_THAT(first,
              StatusIs(absl::StatusCode::kUnavailable,
                       "database: connect failed: connection to PostgreSQL "
                       "lost"));
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("connect failed")));
}

TEST_F(PgPoolTest, ConnectionKilledWhileIdleIsReplaced) {
  PgPool pool(TestDatabaseUrl(), 1);
  int killed_pid = 0;
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_OK(lease);
    killed_pid = BackendPid(*lease);
  }
  TerminateBackend(killed_pid);

  absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
  ASSERT_OK(lease);
  int new_pid = 0;
  try {
    new_pid = BackendPid(*lease);
  } catch (const std::exception& e) {
    FAIL() << "the pool handed out the killed connection: " << e.what();
  }

  EXPECT_THAT(new_pid, Ne(killed_pid));
}

TEST_F(PgPoolTest, ConnectionBrokenWhileLeasedIsNotReturned) {
  PgPool pool(TestDatabaseUrl(), 1);
  int killed_pid = 0;
  {
    absl::StatusOr<PgPool::Lease> lease = pool.Acquire();
    ASSERT_OK(lease);
    killed_pid = BackendPid(*lease);
    pqxx::nontransaction tx(lease->conn());
    EXPECT_THROW(tx.exec("SELECT pg_terminate_backend(pg_backend_pid())"),
                 pqxx::broken_connection);
  }

  absl::StatusOr<PgPool::Lease> lease = pool.Acquire(absl::Seconds(5));

  ASSERT_OK(lease);
  EXPECT_THAT(BackendPid(*lease), Ne(killed_pid));
}

TEST_F(PgPoolTest, MovedLeaseIsReleasedOnce) {
  PgPool pool(TestDatabaseUrl(), 1);
  {
    absl::StatusOr<PgPool::Lease> original = pool.Acquire();
    ASSERT_OK(original);
    {
      PgPool::Lease moved(*std::move(original));
      EXPECT_GT(BackendPid(moved), 0);
      EXPECT_THAT(pool.Acquire(absl::ZeroDuration()),
                  StatusIs(absl::StatusCode::kUnavailable, kPoolExhausted));
    }
    // `original` (moved from) is still alive here; the slot is free once.
    absl::StatusOr<PgPool::Lease> reacquired = pool.Acquire();
    EXPECT_OK(reacquired);
  }

  absl::StatusOr<PgPool::Lease> only = pool.Acquire();
  ASSERT_OK(only);
  // A double release would have made room for a second lease of a pool of 1.
  EXPECT_THAT(pool.Acquire(absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kUnavailable, kPoolExhausted));
}

}  // namespace
}  // namespace wave::pipedrive
