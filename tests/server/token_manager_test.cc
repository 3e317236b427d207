// TokenManager against a gMock PipedriveClient and the real PostgreSQL (the
// row lock that makes one refresh per account is the database's).

#include "server/token_manager.h"

#include "storage/integration_store.h"
#include "storage/migrator.h"
#include "tests/server/mock_pipedrive_client.h"
#include "tests/support/status_matchers.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <atomic>
#include <thread>
#include <vector>

namespace wave::pipedrive::testing {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using ::wave::testing::StatusIs;

std::string DatabaseUrl() {
  const char* url = std::getenv("WAVE_TEST_DATABASE_URL");
  return url == nullptr ? "" : url;
}

class TokenManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(DatabaseUrl().empty())
        << "WAVE_TEST_DATABASE_URL is not set: run through "
           "tests/with_postgres.sh";
    pool_ = std::make_unique<PgPool>(DatabaseUrl(), 8);
    ASSERT_OK(ApplyMigrations(*pool_, BuiltInMigrations()));
    auto cipher = TokenCipher::FromKeyFile(TokenCipher::GenerateKeyLine("t1"));
    ASSERT_OK(cipher);
    cipher_ = std::make_unique<TokenCipher>(*std::move(cipher));
    store_ = std::make_unique<IntegrationStore>(pool_.get(), cipher_.get());
    absl::BitGen gen;
    account_ = absl::StrCat("acct-", absl::Uniform<uint64_t>(gen));
    NewConnection c;
    c.account_id = account_;
    c.company_id = 1;
    c.pipedrive_user_id = 2;
    c.api_domain = "https://acme.pipedrive.example";
    c.access_token = "old-access";
    c.refresh_token = "refresh-1";
    c.access_expires_at = now_ + absl::Hours(1);
    ASSERT_OK(store_->SaveConnection(c));
    manager_ = std::make_unique<TokenManager>(store_.get(), &client_,
                                              [this] { return now_; });
  }

  static TokenSet Fresh(const std::string& access) {
    TokenSet t;
    t.access_token = access;
    t.refresh_token = "refresh-1";
    t.api_domain = "https://moved.pipedrive.example";
    t.expires_at = absl::Now() + absl::Hours(1);
    return t;
  }

  absl::Time now_ = absl::Now();
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<TokenCipher> cipher_;
  std::unique_ptr<IntegrationStore> store_;
  MockPipedriveClient client_;
  std::unique_ptr<TokenManager> manager_;
  std::string account_;
};

TEST_F(TokenManagerTest, ValidTokenIsUsedWithoutRefresh) {
  EXPECT_CALL(client_, RefreshToken(_)).Times(0);
  auto record = store_->Get(account_);
  ASSERT_OK(record);

  auto creds = manager_->Get(*record);

  ASSERT_OK(creds);
  EXPECT_EQ(creds->access_token, "old-access");
  // Paced as the company's user the token acts for.
  EXPECT_EQ(creds->rate_key, "1:2");
}

TEST_F(TokenManagerTest, TokenNearExpiryIsRefreshedAhead) {
  now_ += absl::Minutes(56);  // four minutes left
  EXPECT_CALL(client_, RefreshToken("refresh-1"))
      .WillOnce(Return(Fresh("new-access")));
  auto record = store_->Get(account_);
  ASSERT_OK(record);

  auto creds = manager_->Get(*record);

  ASSERT_OK(creds);
  EXPECT_EQ(creds->access_token, "new-access");
  EXPECT_EQ(creds->api_domain, "https://moved.pipedrive.example");
  // The refreshed token goes on in the same user's window.
  EXPECT_EQ(creds->rate_key, "1:2");
  auto stored = store_->Get(account_);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->access_token, "new-access");
  EXPECT_EQ(stored->api_domain, "https://moved.pipedrive.example");
}

TEST_F(TokenManagerTest, ConcurrentRejectionsRefreshOnce) {
  std::atomic<int> refreshes{0};
  EXPECT_CALL(client_, RefreshToken("refresh-1"))
      .WillRepeatedly(Invoke([&](const std::string&) {
        ++refreshes;
        absl::SleepFor(absl::Milliseconds(50));
        return absl::StatusOr<TokenSet>(Fresh("new-access"));
      }));
  // Separate managers, as separate processes would have.
  std::vector<std::unique_ptr<TokenManager>> managers;
  for (int i = 0; i < 8; ++i) {
    managers.push_back(std::make_unique<TokenManager>(store_.get(), &client_,
                                                      [this] { return now_; }));
  }
  std::vector<std::thread> threads;
  std::atomic<int> got_new{0};
  for (auto& m : managers) {
    threads.emplace_back([&, manager = m.get()] {
      auto creds = manager->Refresh(
          account_, Credentials{"old-access", "https://acme.example"});
      if (creds.ok() && creds->access_token == "new-access") ++got_new;
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(refreshes.load(), 1);
  EXPECT_EQ(got_new.load(), 8);
}

TEST_F(TokenManagerTest, RejectedRefreshTokenNeedsReconnect) {
  EXPECT_CALL(client_, RefreshToken("refresh-1"))
      .WillOnce(Return(absl::UnauthenticatedError(
          "invalid_grant: refresh_token is invalid")));

  auto creds = manager_->Refresh(
      account_, Credentials{"old-access", "https://acme.example"});

  EXPECT_THAT(creds, StatusIs(absl::StatusCode::kFailedPrecondition,
                              HasSubstr("needs a reconnect")));
  auto stored = store_->Get(account_);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->state, IntegrationState::kNeedsReconnect);
  EXPECT_EQ(stored->refresh_token, "refresh-1");  // kept for the record
}

TEST_F(TokenManagerTest, PipedriveDownDuringRefreshKeepsTokens) {
  EXPECT_CALL(client_, RefreshToken(_))
      .WillOnce(Return(absl::UnavailableError("pipedrive: HTTP 503")));

  auto creds = manager_->Refresh(
      account_, Credentials{"old-access", "https://acme.example"});

  EXPECT_THAT(creds,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("503")));
  auto stored = store_->Get(account_);
  ASSERT_OK(stored);
  EXPECT_EQ(stored->state, IntegrationState::kConnected);
  EXPECT_EQ(stored->access_token, "old-access");
}

TEST_F(TokenManagerTest, RetryOnUnauthenticatedCallsOnceMoreWithNewToken) {
  EXPECT_CALL(client_, RefreshToken(_)).WillOnce(Return(Fresh("new-access")));
  Credentials creds{"old-access", "https://acme.pipedrive.example"};
  std::vector<std::string> seen;

  absl::Status result = manager_->WithRetryOnUnauthenticated(
      account_, creds, [&](const Credentials& c) {
        seen.push_back(c.access_token);
        return seen.size() == 1 ? absl::UnauthenticatedError("HTTP 401")
                                : absl::OkStatus();
      });

  EXPECT_OK(result);
  EXPECT_THAT(seen, ::testing::ElementsAre("old-access", "new-access"));
  EXPECT_EQ(creds.access_token, "new-access");
}

}  // namespace
}  // namespace wave::pipedrive::testing
