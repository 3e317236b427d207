#ifndef WAVE_TESTS_STORAGE_STORAGE_TEST_ENV_H_
#define WAVE_TESTS_STORAGE_STORAGE_TEST_ENV_H_

#include "storage/migrator.h"
#include "storage/pg_pool.h"
#include "tests/support/status_matchers.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace wave::pipedrive::storage_test {

// The database that tests/with_postgres.sh created, or "" outside it.
inline std::string TestDatabaseUrl() {
  const char* url = std::getenv("WAVE_TEST_DATABASE_URL");
  return url == nullptr ? "" : url;
}

inline constexpr char kNoDatabaseMessage[] =
    "WAVE_TEST_DATABASE_URL is not set: run the storage tests through "
    "tests/with_postgres.sh (e.g. 'tests/with_postgres.sh ctest')";

// Matches an OK absl::StatusOr<T> whose value matches `matcher`.
MATCHER_P(IsOkAndHolds, matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status().ToString();
    return false;
  }
  return ::testing::ExplainMatchResult(matcher, *arg, result_listener);
}

// Test processes share one database, so every test works under ids of its
// own rather than cleaning tables that other processes are using.
inline std::string UniqueId(const std::string& prefix) {
  absl::BitGen gen;
  return absl::StrCat(prefix, "-", absl::Uniform<uint64_t>(gen));
}

// The same server as `url`, database `dbname`. libpq keeps the last value
// of a repeated keyword, so appending overrides the dbname in `url`; this
// needs the keyword=value form that tests/with_postgres.sh exports.
inline std::string WithDatabase(const std::string& url,
                                const std::string& dbname) {
  return absl::StrCat(url, " dbname=", dbname);
}

// Runs one statement on a connection of its own, outside the code under
// test, to set up or inspect rows.
template <typename... Args>
pqxx::result RawQuery(const std::string& url, const std::string& sql,
                      Args&&... args) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  pqxx::result rows = tx.exec_params(sql, std::forward<Args>(args)...);
  tx.commit();
  return rows;
}

// A database of its own for a test that must see a fresh schema; dropped,
// with any connection still open to it, on destruction.
class ScratchDatabase {
 public:
  ScratchDatabase() : name_(MakeName()) {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::nontransaction tx(conn);
    tx.exec0(absl::StrCat("CREATE DATABASE ", name_));
  }

  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  ~ScratchDatabase() {
    try {
      pqxx::connection conn(TestDatabaseUrl());
      pqxx::nontransaction tx(conn);
      tx.exec0(
          absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop scratch database " << name_ << ": "
                    << e.what();
    }
  }

  const std::string& name() const { return name_; }
  std::string url() const { return WithDatabase(TestDatabaseUrl(), name_); }

 private:
  static std::string MakeName() {
    absl::BitGen gen;
    return absl::StrCat("wave_scratch_", absl::Uniform<uint32_t>(gen));
  }

  std::string name_;
};

// Base for tests against the shared test database: a migrated schema and a
// pool of `pool_size` connections.
class StorageTest : public ::testing::Test {
 protected:
  explicit StorageTest(int pool_size = 8) : pool_size_(pool_size) {}

  void SetUp() override {
    ASSERT_FALSE(url().empty()) << kNoDatabaseMessage;
    pool_ = std::make_unique<PgPool>(url(), pool_size_);
    ASSERT_OK(ApplyMigrations(*pool_, BuiltInMigrations()));
  }

  static std::string url() { return TestDatabaseUrl(); }

  template <typename... Args>
  pqxx::result Raw(const std::string& sql, Args&&... args) {
    return RawQuery(url(), sql, std::forward<Args>(args)...);
  }

  const int pool_size_;
  std::unique_ptr<PgPool> pool_;
};

}  // namespace wave::pipedrive::storage_test

#endif  // WAVE_TESTS_STORAGE_STORAGE_TEST_ENV_H_
