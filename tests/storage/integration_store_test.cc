#include "storage/integration_store.h"

#include "storage/contact_store.h"
#include "storage/token_cipher.h"
#include "tests/storage/storage_test_env.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;
using ::testing::StartsWith;
using ::wave::pipedrive::storage_test::IsOkAndHolds;
using ::wave::pipedrive::storage_test::StorageTest;
using ::wave::pipedrive::storage_test::UniqueId;
using ::wave::testing::StatusIs;

constexpr char kAccessToken[] = "access-token-0123456789abcdef";
constexpr char kRefreshToken[] = "refresh-token-fedcba9876543210";
constexpr int64_t kCompany = 770001;
constexpr int64_t kOtherCompany = 770002;

TokenCipher MakeCipher(std::vector<std::pair<std::string, std::string>> keys) {
  absl::StatusOr<TokenCipher> cipher = TokenCipher::Create(std::move(keys));
  EXPECT_OK(cipher);
  return *std::move(cipher);
}

std::string Key(char fill) { return std::string(TokenCipher::kKeyBytes, fill); }

class IntegrationStoreTest : public StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = std::make_unique<IntegrationStore>(pool_.get(), &cipher_);
    contacts_ = std::make_unique<ContactStore>(pool_.get());
    account_ = UniqueId("acct");
  }

  NewConnection Connection(int64_t company) const {
    NewConnection c;
    c.account_id = account_;
    c.company_id = company;
    c.company_name = "Acme Sales";
    c.company_domain = "acme-sales";
    c.pipedrive_user_id = 9001;
    c.api_domain = "https://acme-sales.pipedrive.com";
    c.access_token = kAccessToken;
    c.refresh_token = kRefreshToken;
    // Whole seconds plus micros, to see that sub-second precision survives.
    c.access_expires_at = absl::FromUnixMicros(1893456000123456);
    c.auto_sync = true;
    c.channel_option_id = 42;
    c.users = {{"alice@acme.example", 11}, {"bob@acme.example", 12}};
    return c;
  }

  // Queues version 1 of `contact_id` for the test's account.
  void Queue(const std::string& contact_id) {
    ASSERT_THAT(
        contacts_->AcceptUpsert(account_, contact_id, 1, R"({"contactId":"x"})",
                                false, "", absl::ZeroDuration()),
        IsOkAndHolds(AcceptOutcome::kQueued));
  }

  // Delivers the queued change of `contact_id` as a success or a failure.
  void Deliver(const std::string& contact_id, bool succeed) {
    auto delivery = contacts_->BeginDelivery(account_, contact_id, false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    ASSERT_TRUE((*delivery)->pending().has_value());
    DeliveryResult result;
    result.record = (*delivery)->record();
    result.done = true;
    if (succeed) {
      result.record.synced_version = (*delivery)->pending()->version;
      result.record.person_id = 5001;
    } else {
      result.record.failed_version = (*delivery)->pending()->version;
      result.record.last_error = "Pipedrive rejected the contact";
    }
    ASSERT_OK((*delivery)->Commit(result));
  }

  std::pair<std::optional<std::string>, std::optional<std::string>>
  StoredTokenColumns() {
    pqxx::result rows =
        Raw("SELECT access_token_enc, refresh_token_enc FROM integrations"
            " WHERE account_id = $1",
            account_);
    EXPECT_EQ(rows.size(), 1U);
    auto column = [&](int i) -> std::optional<std::string> {
      if (rows.empty() || rows[0][i].is_null()) return std::nullopt;
      return rows[0][i].as<std::string>();
    };
    return {column(0), column(1)};
  }

  TokenCipher cipher_ = MakeCipher({{"k1", Key('a')}});
  std::unique_ptr<IntegrationStore> store_;
  std::unique_ptr<ContactStore> contacts_;
  std::string account_;
};

TEST_F(IntegrationStoreTest, SaveConnectionThenGetRoundTripsEveryField) {
  const absl::Time before = absl::Now();

  absl::StatusOr<bool> company_changed =
      store_->SaveConnection(Connection(kCompany));
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);

  ASSERT_OK(company_changed);
  EXPECT_FALSE(*company_changed);
  ASSERT_OK(got);
  EXPECT_EQ(got->account_id, account_);
  EXPECT_EQ(got->state, IntegrationState::kConnected);
  EXPECT_EQ(got->paused_reason, "");
  EXPECT_EQ(got->company_id, kCompany);
  EXPECT_EQ(got->company_name, "Acme Sales");
  EXPECT_EQ(got->company_domain, "acme-sales");
  EXPECT_EQ(got->pipedrive_user_id, 9001);
  EXPECT_EQ(got->api_domain, "https://acme-sales.pipedrive.com");
  EXPECT_EQ(got->access_token, kAccessToken);
  EXPECT_EQ(got->refresh_token, kRefreshToken);
  EXPECT_EQ(got->access_expires_at, absl::FromUnixMicros(1893456000123456));
  EXPECT_EQ(got->token_generation, 1);
  EXPECT_TRUE(got->auto_sync);
  EXPECT_THAT(got->channel_option_id, Optional(42));
  ASSERT_TRUE(got->connected_at.has_value());
  EXPECT_GE(*got->connected_at, before - absl::Seconds(5));
  EXPECT_LE(*got->connected_at, absl::Now() + absl::Seconds(5));
  EXPECT_EQ(got->last_success_at, std::nullopt);
  EXPECT_EQ(got->last_error, "");
}

TEST_F(IntegrationStoreTest, MissingOptionalFieldsRoundTripAsEmpty) {
  NewConnection c = Connection(kCompany);
  c.auto_sync = false;
  c.channel_option_id.reset();
  c.refresh_token.clear();
  ASSERT_OK(store_->SaveConnection(c));

  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);

  ASSERT_OK(got);
  EXPECT_FALSE(got->auto_sync);
  EXPECT_EQ(got->channel_option_id, std::nullopt);
  EXPECT_EQ(got->refresh_token, "");
  EXPECT_EQ(StoredTokenColumns().second, std::nullopt);
}

TEST_F(IntegrationStoreTest, TokenColumnsHoldCiphertextBoundToTheirColumn) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));

  auto [access, refresh] = StoredTokenColumns();

  ASSERT_TRUE(access.has_value());
  ASSERT_TRUE(refresh.has_value());
  EXPECT_THAT(*access,
              AllOf(StartsWith("v1.k1."), Not(HasSubstr(kAccessToken))));
  EXPECT_THAT(*refresh,
              AllOf(StartsWith("v1.k1."), Not(HasSubstr(kRefreshToken))));
  // A ciphertext moved to the other column does not decrypt there.
  Raw("UPDATE integrations SET refresh_token_enc = access_token_enc"
      " WHERE account_id = $1",
      account_);
  EXPECT_THAT(store_->Get(account_),
              StatusIs(absl::StatusCode::kDataLoss, Not(HasSubstr("token-"))));
}

TEST_F(IntegrationStoreTest, CiphertextOfAnotherAccountDoesNotDecrypt) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  const std::string victim = account_;
  account_ = UniqueId("acct");
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));

  Raw("UPDATE integrations SET access_token_enc ="
      " (SELECT access_token_enc FROM integrations WHERE account_id = $2)"
      " WHERE account_id = $1",
      account_, victim);

  EXPECT_THAT(store_->Get(account_),
              StatusIs(absl::StatusCode::kDataLoss, Not(HasSubstr("token-"))));
}

TEST_F(IntegrationStoreTest, ReconnectToSameCompanyKeepsContacts) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  ASSERT_NO_FATAL_FAILURE(Queue("c1"));
  ASSERT_NO_FATAL_FAILURE(Deliver("c1", /*succeed=*/true));
  ASSERT_OK(store_->RecordSuccess(account_));

  NewConnection again = Connection(kCompany);
  again.access_token = "access-after-reconnect";
  absl::StatusOr<bool> company_changed = store_->SaveConnection(again);

  ASSERT_OK(company_changed);
  EXPECT_FALSE(*company_changed);
  auto contact = contacts_->Get(account_, "c1");
  ASSERT_OK(contact);
  ASSERT_TRUE(contact->has_value());
  EXPECT_THAT((*contact)->person_id, Optional(5001));
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->access_token, "access-after-reconnect");
  EXPECT_EQ(got->token_generation, 2);
  EXPECT_NE(got->last_success_at, std::nullopt);
}

TEST_F(IntegrationStoreTest, ReconnectToAnotherCompanyForgetsMappings) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  ASSERT_NO_FATAL_FAILURE(Queue("c1"));
  ASSERT_NO_FATAL_FAILURE(Deliver("c1", /*succeed=*/true));
  ASSERT_OK(store_->RecordSuccess(account_));

  absl::StatusOr<bool> company_changed =
      store_->SaveConnection(Connection(kOtherCompany));

  ASSERT_OK(company_changed);
  EXPECT_TRUE(*company_changed);
  auto contact = contacts_->Get(account_, "c1");
  ASSERT_OK(contact);
  ASSERT_TRUE(contact->has_value());
  EXPECT_EQ((*contact)->person_id, std::nullopt);
  EXPECT_EQ((*contact)->lead_id, std::nullopt);
  EXPECT_EQ((*contact)->written_person, std::nullopt);
  EXPECT_EQ((*contact)->synced_version, 0);
  EXPECT_GT((*contact)->latest_version, 0);
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->company_id, kOtherCompany);
  EXPECT_EQ(got->last_success_at, std::nullopt);
  absl::StatusOr<IntegrationCounts> counts = store_->Counts(account_);
  ASSERT_OK(counts);
  EXPECT_EQ(counts->synced, 0);
}

// SaveConnection promises that changes pending at a company switch "stay
// queued and go to the new company". Delivery starts from the contact row,
// so the queued change must still be deliverable after the switch.
TEST_F(IntegrationStoreTest, ReconnectToAnotherCompanyKeepsPendingDeliverable) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  ASSERT_NO_FATAL_FAILURE(Queue("c1"));

  ASSERT_OK(store_->SaveConnection(Connection(kOtherCompany)));

  auto pending = contacts_->GetPending(account_, "c1");
  ASSERT_OK(pending);
  ASSERT_TRUE(pending->has_value()) << "the pending change was dropped";
  auto delivery = contacts_->BeginDelivery(account_, "c1", false);
  ASSERT_OK(delivery);
  ASSERT_NE(*delivery, nullptr)
      << "the change is queued (and listed by DueChanges) but BeginDelivery "
         "finds no contact row, so it can never be delivered";
  EXPECT_TRUE((*delivery)->pending().has_value());
}

TEST_F(IntegrationStoreTest, ReconnectReplacesUsers) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  NewConnection again = Connection(kCompany);
  again.users = {{"bob@acme.example", 22}, {"carol@acme.example", 23}};

  ASSERT_OK(store_->SaveConnection(again));

  EXPECT_THAT(store_->FindUserByEmail(account_, "alice@acme.example"),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store_->FindUserByEmail(account_, "bob@acme.example"),
              IsOkAndHolds(Optional(22)));
  EXPECT_THAT(store_->FindUserByEmail(account_, "carol@acme.example"),
              IsOkAndHolds(Optional(23)));
  absl::StatusOr<IntegrationCounts> counts = store_->Counts(account_);
  ASSERT_OK(counts);
  EXPECT_EQ(counts->pipedrive_users, 2);
}

TEST_F(IntegrationStoreTest, FindUserByEmailIsScopedToTheAccount) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  const std::string other = UniqueId("acct");

  EXPECT_THAT(store_->FindUserByEmail(account_, "alice@acme.example"),
              IsOkAndHolds(Optional(11)));
  EXPECT_THAT(store_->FindUserByEmail(account_, "nobody@acme.example"),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store_->FindUserByEmail(other, "alice@acme.example"),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(IntegrationStoreTest, UpdateLockedStoresNewTokensAndBumpsGeneration) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  const auto [old_access, old_refresh] = StoredTokenColumns();
  const absl::Time new_expiry = absl::FromUnixMicros(1900000000654321);

  absl::StatusOr<IntegrationRecord> updated =
      store_->UpdateLocked(account_, [&](IntegrationRecord& r) {
        EXPECT_EQ(r.access_token, kAccessToken);
        EXPECT_EQ(r.token_generation, 1);
        r.access_token = "access-refreshed";
        r.refresh_token = "refresh-refreshed";
        r.access_expires_at = new_expiry;
        r.api_domain = "https://acme-sales-2.pipedrive.com";
        return absl::OkStatus();
      });

  ASSERT_OK(updated);
  EXPECT_EQ(updated->token_generation, 2);
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->access_token, "access-refreshed");
  EXPECT_EQ(got->refresh_token, "refresh-refreshed");
  EXPECT_EQ(got->access_expires_at, new_expiry);
  EXPECT_EQ(got->api_domain, "https://acme-sales-2.pipedrive.com");
  EXPECT_EQ(got->token_generation, 2);
  const auto [access, refresh] = StoredTokenColumns();
  EXPECT_NE(access, old_access);
  EXPECT_NE(refresh, old_refresh);
  ASSERT_TRUE(access.has_value());
  EXPECT_THAT(*access,
              AllOf(StartsWith("v1.k1."), Not(HasSubstr("access-refreshed"))));
}

TEST_F(IntegrationStoreTest, UpdateLockedWithSameTokensKeepsGeneration) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));

  absl::StatusOr<IntegrationRecord> updated =
      store_->UpdateLocked(account_, [](IntegrationRecord& r) {
        r.api_domain = "https://moved.pipedrive.com";
        return absl::OkStatus();
      });

  ASSERT_OK(updated);
  EXPECT_EQ(updated->token_generation, 1);
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->token_generation, 1);
  EXPECT_EQ(got->api_domain, "https://moved.pipedrive.com");
  EXPECT_EQ(got->access_token, kAccessToken);
}

TEST_F(IntegrationStoreTest, FailedUpdateWritesNothing) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  const auto columns_before = StoredTokenColumns();

  absl::StatusOr<IntegrationRecord> updated =
      store_->UpdateLocked(account_, [](IntegrationRecord& r) {
        r.access_token = "half-done-access";
        r.api_domain = "https://half-done.pipedrive.com";
        return absl::UnavailableError("pipedrive: token endpoint timed out");
      });

  EXPECT_THAT(updated, StatusIs(absl::StatusCode::kUnavailable,
                                "pipedrive: token endpoint timed out"));
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->state, IntegrationState::kConnected);
  EXPECT_EQ(got->access_token, kAccessToken);
  EXPECT_EQ(got->api_domain, "https://acme-sales.pipedrive.com");
  EXPECT_EQ(got->token_generation, 1);
  EXPECT_EQ(got->last_error, "");
  EXPECT_EQ(StoredTokenColumns(), columns_before);
}

TEST_F(IntegrationStoreTest, FailedUpdateStoresOnlyItsStateChange) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  const auto columns_before = StoredTokenColumns();

  absl::StatusOr<IntegrationRecord> updated =
      store_->UpdateLocked(account_, [](IntegrationRecord& r) {
        r.state = IntegrationState::kNeedsReconnect;
        r.access_token = "must-not-be-stored";
        r.refresh_token.clear();
        return absl::UnauthenticatedError("pipedrive: refresh token revoked");
      });

  EXPECT_THAT(updated, StatusIs(absl::StatusCode::kUnauthenticated,
                                "pipedrive: refresh token revoked"));
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->state, IntegrationState::kNeedsReconnect);
  EXPECT_EQ(got->last_error, "pipedrive: refresh token revoked");
  EXPECT_EQ(got->access_token, kAccessToken);
  EXPECT_EQ(got->refresh_token, kRefreshToken);
  EXPECT_EQ(got->token_generation, 1);
  EXPECT_EQ(StoredTokenColumns(), columns_before);
}

TEST_F(IntegrationStoreTest, UpdateLockedSerialisesConcurrentRefreshes) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  constexpr int kRefreshers = 4;

  std::vector<std::thread> refreshers;
  std::vector<absl::Status> results(kRefreshers);
  for (int i = 0; i < kRefreshers; ++i) {
    refreshers.emplace_back([&, i] {
      results[i] = store_
                       ->UpdateLocked(account_,
                                      [](IntegrationRecord& r) {
                                        // A slow token call: without the row
                                        // lock the other refreshers would read
                                        // the same token meanwhile.
                                        absl::SleepFor(absl::Milliseconds(50));
                                        r.access_token =
                                            absl::StrCat(r.access_token, "+");
                                        return absl::OkStatus();
                                      })
                       .status();
    });
  }
  for (std::thread& t : refreshers) t.join();

  for (const absl::Status& s : results) EXPECT_OK(s);
  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->access_token, absl::StrCat(kAccessToken, "++++"));
  EXPECT_EQ(got->token_generation, 1 + kRefreshers);
}

TEST_F(IntegrationStoreTest, MarkDisconnectedForgetsTokensQueueAndUsers) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  ASSERT_NO_FATAL_FAILURE(Queue("c1"));
  ASSERT_NO_FATAL_FAILURE(Queue("c2"));
  ASSERT_NO_FATAL_FAILURE(Deliver("c2", /*succeed=*/true));

  absl::StatusOr<IntegrationRecord> disconnected =
      store_->MarkDisconnected(account_);

  ASSERT_OK(disconnected);
  EXPECT_EQ(disconnected->state, IntegrationState::kDisconnected);
  EXPECT_EQ(disconnected->access_token, "");
  EXPECT_EQ(disconnected->refresh_token, "");
  EXPECT_EQ(disconnected->access_expires_at, absl::InfinitePast());
  EXPECT_EQ(disconnected->token_generation, 2);
  EXPECT_EQ(StoredTokenColumns(), std::make_pair(std::optional<std::string>(),
                                                 std::optional<std::string>()));
  EXPECT_THAT(contacts_->GetPending(account_, "c1"),
              IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store_->FindUserByEmail(account_, "alice@acme.example"),
              IsOkAndHolds(Eq(std::nullopt)));
  // The mappings stay, for a reconnect to the same company.
  auto kept = contacts_->Get(account_, "c2");
  ASSERT_OK(kept);
  EXPECT_TRUE(kept->has_value());
  absl::StatusOr<IntegrationCounts> counts = store_->Counts(account_);
  ASSERT_OK(counts);
  EXPECT_EQ(counts->queued, 0);
  EXPECT_EQ(counts->pipedrive_users, 0);
  EXPECT_EQ(counts->synced, 1);
}

TEST_F(IntegrationStoreTest, CountsSyncedQueuedFailedAndUsers) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  ASSERT_NO_FATAL_FAILURE(Queue("synced"));
  ASSERT_NO_FATAL_FAILURE(Deliver("synced", /*succeed=*/true));
  ASSERT_NO_FATAL_FAILURE(Queue("queued"));
  ASSERT_NO_FATAL_FAILURE(Queue("failed"));
  ASSERT_NO_FATAL_FAILURE(Deliver("failed", /*succeed=*/false));
  ASSERT_NO_FATAL_FAILURE(Queue("deleted"));
  ASSERT_NO_FATAL_FAILURE(Deliver("deleted", /*succeed=*/true));
  ASSERT_THAT(
      contacts_->AcceptDelete(account_, "deleted", 2, absl::ZeroDuration()),
      IsOkAndHolds(AcceptOutcome::kQueued));
  ASSERT_NO_FATAL_FAILURE(Deliver("deleted", /*succeed=*/true));

  absl::StatusOr<IntegrationCounts> counts = store_->Counts(account_);

  ASSERT_OK(counts);
  EXPECT_EQ(counts->synced, 1);
  EXPECT_EQ(counts->queued, 1);
  EXPECT_EQ(counts->failed, 1);
  EXPECT_EQ(counts->pipedrive_users, 2);
}

TEST_F(IntegrationStoreTest, RecordSuccessAndError) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  const absl::Time before = absl::Now();

  ASSERT_OK(store_->RecordError(account_, "pipedrive: rate limited"));
  ASSERT_OK(store_->RecordSuccess(account_));

  absl::StatusOr<IntegrationRecord> got = store_->Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->last_error, "pipedrive: rate limited");
  ASSERT_TRUE(got->last_success_at.has_value());
  EXPECT_GE(*got->last_success_at, before - absl::Seconds(5));
}

TEST_F(IntegrationStoreTest, UnknownAccountIsNotFound) {
  const std::string unknown = UniqueId("nobody");
  const std::string message =
      absl::StrCat("account ", unknown, " has no Pipedrive integration");
  bool update_called = false;

  EXPECT_THAT(store_->Get(unknown),
              StatusIs(absl::StatusCode::kNotFound, message));
  EXPECT_THAT(store_->UpdateLocked(unknown,
                                   [&](IntegrationRecord&) {
                                     update_called = true;
                                     return absl::OkStatus();
                                   }),
              StatusIs(absl::StatusCode::kNotFound, message));
  EXPECT_THAT(store_->MarkDisconnected(unknown),
              StatusIs(absl::StatusCode::kNotFound, message));
  EXPECT_FALSE(update_called);
}

TEST_F(IntegrationStoreTest, TokenUnderAnUnloadedKeyIsFailedPrecondition) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  TokenCipher other_key = MakeCipher({{"k2", Key('b')}});
  IntegrationStore other(pool_.get(), &other_key);
  bool update_called = false;

  absl::StatusOr<IntegrationRecord> got = other.Get(account_);
  absl::StatusOr<IntegrationRecord> updated =
      other.UpdateLocked(account_, [&](IntegrationRecord&) {
        update_called = true;
        return absl::OkStatus();
      });

  EXPECT_THAT(got, StatusIs(absl::StatusCode::kFailedPrecondition,
                            AllOf(HasSubstr("k1"), Not(HasSubstr("token-")))));
  EXPECT_THAT(updated,
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("k1")));
  EXPECT_FALSE(update_called);
}

TEST_F(IntegrationStoreTest, RotatedCipherReadsOldTokensAndWritesNewKey) {
  ASSERT_OK(store_->SaveConnection(Connection(kCompany)));
  TokenCipher rotated = MakeCipher({{"k2", Key('b')}, {"k1", Key('a')}});
  IntegrationStore store(pool_.get(), &rotated);

  absl::StatusOr<IntegrationRecord> updated =
      store.UpdateLocked(account_, [](IntegrationRecord& r) {
        r.access_token = "access-under-k2";
        return absl::OkStatus();
      });

  ASSERT_OK(updated);
  EXPECT_EQ(updated->refresh_token, kRefreshToken);
  const auto [access, refresh] = StoredTokenColumns();
  ASSERT_TRUE(access.has_value());
  EXPECT_THAT(*access, StartsWith("v1.k2."));
  absl::StatusOr<IntegrationRecord> got = store.Get(account_);
  ASSERT_OK(got);
  EXPECT_EQ(got->access_token, "access-under-k2");
  EXPECT_EQ(got->refresh_token, kRefreshToken);
}

}  // namespace
}  // namespace wave::pipedrive
