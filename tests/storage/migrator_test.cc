#include "storage/migrator.h"

#include "storage/pg_pool.h"
#include "tests/storage/storage_test_env.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::wave::pipedrive::storage_test::kNoDatabaseMessage;
using ::wave::pipedrive::storage_test::RawQuery;
using ::wave::pipedrive::storage_test::ScratchDatabase;
using ::wave::pipedrive::storage_test::TestDatabaseUrl;
using ::wave::testing::StatusIs;

struct AppliedRow {
  int version;
  std::string name;
  std::string applied_at;

  bool operator==(const AppliedRow& o) const {
    return version == o.version && name == o.name && applied_at == o.applied_at;
  }
};

std::ostream& operator<<(std::ostream& os, const AppliedRow& row) {
  return os << row.version << " " << row.name << " " << row.applied_at;
}

std::vector<AppliedRow> Applied(const std::string& url) {
  std::vector<AppliedRow> out;
  for (const auto& row : RawQuery(url,
                                  "SELECT version, name, applied_at::text"
                                  " FROM schema_migrations ORDER BY version")) {
    out.push_back(
        {row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>()});
  }
  return out;
}

std::vector<int> BuiltInVersions() {
  std::vector<int> versions;
  for (const Migration& m : BuiltInMigrations()) versions.push_back(m.version);
  return versions;
}

int LatestBuiltIn() { return BuiltInMigrations().back().version; }

bool TableExists(const std::string& url, const std::string& table) {
  return !RawQuery(url, "SELECT to_regclass($1)::text", table)[0][0].is_null();
}

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(TestDatabaseUrl().empty()) << kNoDatabaseMessage;
    scratch_ = std::make_unique<ScratchDatabase>();
    pool_ = std::make_unique<PgPool>(scratch_->url(), 2);
  }

  void TearDown() override {
    // Connections first: the database is dropped with the scratch object.
    pool_.reset();
    scratch_.reset();
  }

  std::unique_ptr<ScratchDatabase> scratch_;
  std::unique_ptr<PgPool> pool_;
};

TEST(BuiltInMigrations, AreNumberedFromOneInOrder) {
  const std::vector<Migration>& migrations = BuiltInMigrations();

  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    // The migrator takes back() as the newest version it knows.
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(migrations[i].name.empty());
    EXPECT_FALSE(migrations[i].sql.empty());
  }
  EXPECT_EQ(migrations.front().name, "initial_schema");
}

TEST_F(MigratorTest, FreshDatabaseGetsEveryBuiltInMigration) {
  ASSERT_OK(ApplyMigrations(*pool_, BuiltInMigrations()));

  std::vector<AppliedRow> applied = Applied(scratch_->url());
  ASSERT_EQ(applied.size(), BuiltInMigrations().size());
  for (size_t i = 0; i < applied.size(); ++i) {
    EXPECT_EQ(applied[i].version, BuiltInMigrations()[i].version);
    EXPECT_EQ(applied[i].name, BuiltInMigrations()[i].name);
  }
  for (const char* table : {"integrations", "pipedrive_users", "contacts",
                            "sync_queue", "imports"}) {
    EXPECT_TRUE(TableExists(scratch_->url(), table)) << table;
  }
}

TEST_F(MigratorTest, SecondRunChangesNothing) {
  ASSERT_OK(ApplyMigrations(*pool_, BuiltInMigrations()));
  const std::vector<AppliedRow> before = Applied(scratch_->url());

  ASSERT_OK(ApplyMigrations(*pool_, BuiltInMigrations()));

  // Same rows with the same applied_at: nothing was re-applied.
  EXPECT_THAT(Applied(scratch_->url()), ElementsAreArray(before));
}

TEST_F(MigratorTest, ConcurrentFirstRunsOnFreshDatabaseBothSucceed) {
  constexpr int kReplicas = 4;
  // Each replica has a pool of its own, as separate processes would.
  std::vector<std::unique_ptr<PgPool>> pools;
  for (int i = 0; i < kReplicas; ++i) {
    pools.push_back(std::make_unique<PgPool>(scratch_->url(), 1));
    // Connect up front so that the replicas start migrating together.
    ASSERT_OK(pools.back()->Acquire());
  }
  std::vector<absl::Status> results(kReplicas);
  absl::Barrier start(kReplicas);

  std::vector<std::thread> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.emplace_back([&, i] {
      start.Block();
      results[i] = ApplyMigrations(*pools[i], BuiltInMigrations());
    });
  }
  for (std::thread& t : replicas) t.join();

  for (int i = 0; i < kReplicas; ++i) EXPECT_OK(results[i]) << "replica " << i;
  std::vector<int> versions;
  for (const AppliedRow& row : Applied(scratch_->url())) {
    versions.push_back(row.version);
  }
  EXPECT_THAT(versions, ElementsAreArray(BuiltInVersions()));
}

TEST_F(MigratorTest, NewerDatabaseThanBinaryIsFailedPrecondition) {
  std::vector<Migration> newer = BuiltInMigrations();
  const int future = LatestBuiltIn() + 1000;
  newer.push_back(
      {future, "future_feature", "CREATE TABLE future_feature (id integer)"});
  ASSERT_OK(ApplyMigrations(*pool_, newer));
  const std::vector<AppliedRow> before = Applied(scratch_->url());

  absl::Status older_binary = ApplyMigrations(*pool_, BuiltInMigrations());

  EXPECT_THAT(
      older_binary,
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr(absl::StrCat("at version ", future)),
                     HasSubstr(absl::StrCat("only up to ", LatestBuiltIn())))));
  EXPECT_THAT(Applied(scratch_->url()), ElementsAreArray(before));
}

TEST_F(MigratorTest, FailingMigrationRecordsNothing) {
  ASSERT_OK(ApplyMigrations(*pool_, BuiltInMigrations()));
  std::vector<Migration> broken = BuiltInMigrations();
  const int good = LatestBuiltIn() + 1;
  broken.push_back({good, "good", "CREATE TABLE migrated_good (id integer)"});
  broken.push_back({good + 1, "bad", "CREATE TABL migrated_bad (id integer)"});

  absl::Status failed = ApplyMigrations(*pool_, broken);

  // 42601 is syntax_error; the message must not quote the statement.
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kInternal,
                               "database: schema migration failed "
                               "(SQLSTATE 42601)"));
  EXPECT_FALSE(TableExists(scratch_->url(), "migrated_good"));
  EXPECT_EQ(Applied(scratch_->url()).back().version, LatestBuiltIn());

  broken.pop_back();
  ASSERT_OK(ApplyMigrations(*pool_, broken));
  EXPECT_TRUE(TableExists(scratch_->url(), "migrated_good"));
  EXPECT_EQ(Applied(scratch_->url()).back().version, good);
}

TEST_F(MigratorTest, EmptyDatabaseWithNoMigrationsIsOk) {
  ASSERT_OK(ApplyMigrations(*pool_, {}));

  EXPECT_THAT(Applied(scratch_->url()), IsEmpty());
}

TEST(Migrator, UnreachableDatabaseIsUnavailable) {
  PgPool pool("host=127.0.0.1 port=1 user=postgres connect_timeout=5", 1);

  EXPECT_THAT(ApplyMigrations(pool, BuiltInMigrations()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("database: connect failed")));
}

}  // namespace
}  // namespace wave::pipedrive
