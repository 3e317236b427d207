#include "storage/contact_store.h"

#include "storage/integration_store.h"
#include "storage/pg_pool.h"
#include "storage/token_cipher.h"
#include "tests/storage/storage_test_env.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::Pair;
using ::wave::pipedrive::storage_test::IsOkAndHolds;
using ::wave::pipedrive::storage_test::StorageTest;
using ::wave::pipedrive::storage_test::UniqueId;
using ::wave::testing::StatusIs;

using DueList = std::vector<std::pair<std::string, std::string>>;

constexpr absl::Duration kNow = absl::ZeroDuration();
// Far enough out that a background worker would never pick the change.
constexpr absl::Duration kLater = absl::Hours(1);
// Large enough that rows of other test processes never crowd ours out.
constexpr int kAllDue = 1000000;

// Contact JSON as the service stores it (protobuf JSON mapping).
std::string Payload(const std::string& contact_id, int64_t version,
                    const std::string& first_name = "Jane") {
  return nlohmann::json{{"contactId", contact_id},
                        {"version", std::to_string(version)},
                        {"firstName", first_name}}
      .dump();
}

// jsonb re-orders keys and spacing, so JSON is compared by value.
MATCHER_P(JsonEq, expected, "is the same JSON as " + std::string(expected)) {
  return nlohmann::json::parse(arg) == nlohmann::json::parse(expected);
}

TokenCipher TestCipher() {
  absl::StatusOr<TokenCipher> cipher =
      TokenCipher::Create({{"k1", std::string(TokenCipher::kKeyBytes, 'a')}});
  EXPECT_OK(cipher);
  return *std::move(cipher);
}

class ContactStoreTest : public StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = std::make_unique<ContactStore>(pool_.get());
    integrations_ = std::make_unique<IntegrationStore>(pool_.get(), &cipher_);
    account_ = UniqueId("acct");
  }

  absl::StatusOr<AcceptOutcome> Upsert(int64_t version,
                                       absl::Duration delay = kLater,
                                       const std::string& contact = "c1") {
    return store_->AcceptUpsert(account_, contact, version,
                                Payload(contact, version), false, "", delay);
  }

  absl::StatusOr<AcceptOutcome> Delete(int64_t version,
                                       const std::string& contact = "c1") {
    return store_->AcceptDelete(account_, contact, version, kLater);
  }

  void Connect(const std::string& account) {
    NewConnection c;
    c.account_id = account;
    c.company_id = 880001;
    c.api_domain = "https://acme.pipedrive.com";
    c.access_token = "access";
    c.refresh_token = "refresh";
    c.access_expires_at = absl::Now() + absl::Hours(1);
    c.users = {{"alice@acme.example", 11}, {"bob@acme.example", 12}};
    ASSERT_OK(integrations_->SaveConnection(c));
  }

  // Rows in sync_queue for the contact; the API can only show one.
  int QueueRows(const std::string& contact = "c1") {
    return Raw("SELECT count(*) FROM sync_queue"
               " WHERE account_id = $1 AND contact_id = $2",
               account_, contact)[0][0]
        .as<int>();
  }

  std::optional<PendingChange> Pending(const std::string& contact = "c1") {
    absl::StatusOr<std::optional<PendingChange>> pending =
        store_->GetPending(account_, contact);
    EXPECT_OK(pending);
    return pending.ok() ? *pending : std::nullopt;
  }

  std::optional<ContactRecord> Record(const std::string& contact = "c1") {
    absl::StatusOr<std::optional<ContactRecord>> record =
        store_->Get(account_, contact);
    EXPECT_OK(record);
    return record.ok() ? *record : std::nullopt;
  }

  // The due changes of the accounts in `accounts`, in DueChanges order.
  DueList DueFor(const std::vector<std::string>& accounts) {
    absl::StatusOr<DueList> due = store_->DueChanges(kAllDue);
    EXPECT_OK(due);
    DueList mine;
    if (!due.ok()) return mine;
    for (const auto& entry : *due) {
      if (std::find(accounts.begin(), accounts.end(), entry.first) !=
          accounts.end()) {
        mine.push_back(entry);
      }
    }
    return mine;
  }

  // A finished delivery of `delivery`'s pending change.
  static DeliveryResult Delivered(const ContactDelivery& delivery) {
    DeliveryResult result;
    result.record = delivery.record();
    result.record.synced_version = delivery.pending()->version;
    result.done = true;
    return result;
  }

  TokenCipher cipher_ = TestCipher();
  std::unique_ptr<ContactStore> store_;
  std::unique_ptr<IntegrationStore> integrations_;
  std::string account_;
};

TEST_F(ContactStoreTest, AcceptUpsertQueuesTheChange) {
  EXPECT_THAT(Upsert(3), IsOkAndHolds(AcceptOutcome::kQueued));

  std::optional<ContactRecord> record = Record();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->account_id, account_);
  EXPECT_EQ(record->contact_id, "c1");
  EXPECT_EQ(record->latest_version, 3);
  EXPECT_EQ(record->synced_version, 0);
  EXPECT_EQ(record->deleted_version, std::nullopt);
  EXPECT_EQ(record->person_id, std::nullopt);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, 3);
  EXPECT_EQ(pending->kind, ChangeKind::kUpsert);
  EXPECT_THAT(pending->payload, JsonEq(Payload("c1", 3)));
  EXPECT_EQ(pending->attempts, 0);
  EXPECT_EQ(pending->last_error, "");
  EXPECT_EQ(QueueRows(), 1);
}

TEST_F(ContactStoreTest, OlderVersionIsStale) {
  ASSERT_THAT(Upsert(5), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_THAT(Upsert(4), IsOkAndHolds(AcceptOutcome::kStale));

  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, 5);
  EXPECT_THAT(pending->payload, JsonEq(Payload("c1", 5)));
  ASSERT_TRUE(Record().has_value());
  EXPECT_EQ(Record()->latest_version, 5);
}

TEST_F(ContactStoreTest, SameVersionAgainWhileQueuedKeepsOneChange) {
  ASSERT_THAT(Upsert(5), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_THAT(
      store_->AcceptUpsert(account_, "c1", 5, Payload("c1", 5, "Retried"),
                           false, "", kLater),
      IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_EQ(QueueRows(), 1);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, 5);
  // A version is immutable: the first payload stands.
  EXPECT_THAT(pending->payload, JsonEq(Payload("c1", 5)));
}

TEST_F(ContactStoreTest, NewerVersionSupersedesTheQueuedOne) {
  ASSERT_THAT(Upsert(1), IsOkAndHolds(AcceptOutcome::kQueued));
  {
    // A failed attempt, so that the supersede must reset the retry state.
    auto delivery = store_->BeginDelivery(account_, "c1", false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    DeliveryResult retry;
    retry.record = (*delivery)->record();
    retry.retry_at = absl::Now() + kLater;
    retry.retry_error = "pipedrive: HTTP 503";
    ASSERT_OK((*delivery)->Commit(retry));
  }

  EXPECT_THAT(store_->AcceptUpsert(account_, "c1", 2, Payload("c1", 2, "Janet"),
                                   false, "", kLater),
              IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_EQ(QueueRows(), 1);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, 2);
  EXPECT_THAT(pending->payload, JsonEq(Payload("c1", 2, "Janet")));
  EXPECT_EQ(pending->attempts, 0);
  EXPECT_EQ(pending->last_error, "");
  ASSERT_TRUE(Record().has_value());
  EXPECT_EQ(Record()->latest_version, 2);
}

TEST_F(ContactStoreTest, SyncedVersionAgainIsAlreadySynced) {
  ASSERT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kQueued));
  {
    auto delivery = store_->BeginDelivery(account_, "c1", false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    ASSERT_OK((*delivery)->Commit(Delivered(**delivery)));
  }

  EXPECT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kAlreadySynced));
  EXPECT_THAT(Upsert(1), IsOkAndHolds(AcceptOutcome::kStale));

  EXPECT_EQ(QueueRows(), 0);
}

TEST_F(ContactStoreTest, DeletionLeavesATombstone) {
  EXPECT_THAT(Delete(5), IsOkAndHolds(AcceptOutcome::kQueued));
  std::optional<PendingChange> deletion = Pending();
  ASSERT_TRUE(deletion.has_value());
  EXPECT_EQ(deletion->kind, ChangeKind::kDelete);
  EXPECT_EQ(deletion->version, 5);
  EXPECT_EQ(deletion->payload, "");

  // An update delivered late, up to the deleted version, must not revive
  // the contact.
  EXPECT_THAT(Upsert(4), IsOkAndHolds(AcceptOutcome::kStale));
  EXPECT_THAT(Upsert(5), IsOkAndHolds(AcceptOutcome::kStale));
  std::optional<PendingChange> still = Pending();
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->kind, ChangeKind::kDelete);

  EXPECT_THAT(Upsert(6), IsOkAndHolds(AcceptOutcome::kQueued));
  std::optional<PendingChange> revived = Pending();
  ASSERT_TRUE(revived.has_value());
  EXPECT_EQ(revived->kind, ChangeKind::kUpsert);
  EXPECT_EQ(revived->version, 6);
  EXPECT_EQ(QueueRows(), 1);
  std::optional<ContactRecord> record = Record();
  ASSERT_TRUE(record.has_value());
  EXPECT_THAT(record->deleted_version, Optional(5));
  EXPECT_EQ(record->latest_version, 6);
}

TEST_F(ContactStoreTest, DeletionOlderThanLatestIsStaleButRecorded) {
  ASSERT_THAT(Upsert(10), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_THAT(Delete(7), IsOkAndHolds(AcceptOutcome::kStale));

  std::optional<ContactRecord> record = Record();
  ASSERT_TRUE(record.has_value());
  EXPECT_THAT(record->deleted_version, Optional(7));
  EXPECT_EQ(record->latest_version, 10);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->kind, ChangeKind::kUpsert);
  EXPECT_EQ(pending->version, 10);
  // The tombstone is what answers a repeat of that deletion.
  EXPECT_THAT(Delete(7), IsOkAndHolds(AcceptOutcome::kAlreadySynced));
}

TEST_F(ContactStoreTest, RepeatedDeletionIsAlreadySynced) {
  ASSERT_THAT(Delete(5), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_THAT(Delete(5), IsOkAndHolds(AcceptOutcome::kAlreadySynced));
  EXPECT_THAT(Delete(3), IsOkAndHolds(AcceptOutcome::kAlreadySynced));

  EXPECT_EQ(QueueRows(), 1);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->kind, ChangeKind::kDelete);
  EXPECT_EQ(pending->version, 5);
}

TEST_F(ContactStoreTest, DeletionReplacesQueuedUpsertOfSameVersion) {
  ASSERT_THAT(Upsert(5), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_THAT(Delete(5), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_EQ(QueueRows(), 1);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->kind, ChangeKind::kDelete);
  EXPECT_EQ(pending->version, 5);
}

TEST_F(ContactStoreTest, BeginDeliveryReturnsRecordAndPendingChange) {
  ASSERT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kQueued));

  auto delivery = store_->BeginDelivery(account_, "c1", false);

  ASSERT_OK(delivery);
  ASSERT_NE(*delivery, nullptr);
  EXPECT_EQ((*delivery)->record().account_id, account_);
  EXPECT_EQ((*delivery)->record().contact_id, "c1");
  EXPECT_EQ((*delivery)->record().latest_version, 2);
  ASSERT_TRUE((*delivery)->pending().has_value());
  EXPECT_EQ((*delivery)->pending()->version, 2);
  EXPECT_THAT((*delivery)->pending()->payload, JsonEq(Payload("c1", 2)));
}

TEST_F(ContactStoreTest, BeginDeliveryOfUnknownContactIsNull) {
  auto delivery = store_->BeginDelivery(account_, "never-seen", false);

  ASSERT_OK(delivery);
  EXPECT_EQ(*delivery, nullptr);
}

TEST_F(ContactStoreTest, CommitDoneRemovesChangeAndStoresFields) {
  ASSERT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kQueued));
  auto delivery = store_->BeginDelivery(account_, "c1", false);
  ASSERT_OK(delivery);
  ASSERT_NE(*delivery, nullptr);
  DeliveryResult result = Delivered(**delivery);
  result.record.person_id = 4242;
  result.record.lead_id = "adf21080-0e10-11eb-879b-05d71fb426ec";
  result.record.lead_gone = true;
  result.record.written_person = R"({"name": "Jane Doe", "owner_id": 12})";
  result.record.written_lead = R"({"title": "Jane Doe lead"})";
  result.record.owner_matched = true;
  result.record.owner_note = "owner matched by email";
  result.record.last_error = "earlier warning";
  result.record.last_error_action = "nothing to do";
  const absl::Time before = absl::Now();

  ASSERT_OK((*delivery)->Commit(result));

  EXPECT_THAT((*delivery)->Commit(result),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "delivery already committed"));
  EXPECT_EQ(Pending(), std::nullopt);
  EXPECT_EQ(QueueRows(), 0);
  std::optional<ContactRecord> record = Record();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->synced_version, 2);
  EXPECT_EQ(record->latest_version, 2);
  EXPECT_THAT(record->person_id, Optional(4242));
  EXPECT_THAT(record->lead_id,
              Optional(std::string("adf21080-0e10-11eb-879b-05d71fb426ec")));
  EXPECT_TRUE(record->lead_gone);
  ASSERT_TRUE(record->written_person.has_value());
  EXPECT_THAT(*record->written_person,
              JsonEq(R"({"name": "Jane Doe", "owner_id": 12})"));
  ASSERT_TRUE(record->written_lead.has_value());
  EXPECT_THAT(*record->written_lead, JsonEq(R"({"title": "Jane Doe lead"})"));
  EXPECT_TRUE(record->owner_matched);
  EXPECT_EQ(record->owner_note, "owner matched by email");
  EXPECT_EQ(record->failed_version, std::nullopt);
  EXPECT_EQ(record->last_error, "earlier warning");
  EXPECT_EQ(record->last_error_action, "nothing to do");
  EXPECT_GE(record->updated_at, before - absl::Seconds(5));
}

TEST_F(ContactStoreTest, CommitRetryKeepsChangeWithAttemptAndError) {
  ASSERT_THAT(Upsert(2, kNow), IsOkAndHolds(AcceptOutcome::kQueued));
  Connect(account_);
  const absl::Time retry_at = absl::Now() + absl::Minutes(10);

  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto delivery = store_->BeginDelivery(account_, "c1", false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    DeliveryResult retry;
    retry.record = (*delivery)->record();
    retry.record.last_error = "Delivery is retried automatically";
    retry.retry_at = retry_at;
    retry.retry_error = absl::StrCat("pipedrive: HTTP 429, attempt ", attempt);
    ASSERT_OK((*delivery)->Commit(retry));
  }

  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, 2);
  EXPECT_EQ(pending->attempts, 2);
  EXPECT_EQ(pending->last_error, "pipedrive: HTTP 429, attempt 2");
  const int64_t next_attempt_micros =
      Raw("SELECT (extract(epoch FROM next_attempt_at) * 1000000)::bigint"
          " FROM sync_queue WHERE account_id = $1 AND contact_id = $2",
          account_, "c1")[0][0]
          .as<int64_t>();
  EXPECT_EQ(absl::FromUnixMicros(next_attempt_micros),
            absl::FromUnixMicros(absl::ToUnixMicros(retry_at)));
  EXPECT_THAT(DueFor({account_}), IsEmpty());
  std::optional<ContactRecord> record = Record();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->synced_version, 0);
  EXPECT_EQ(record->last_error, "Delivery is retried automatically");
}

TEST_F(ContactStoreTest, FindOwnerReadsInTheDeliveryTransaction) {
  Connect(account_);
  ASSERT_THAT(Upsert(1), IsOkAndHolds(AcceptOutcome::kQueued));
  // One connection only: a lookup that needed a second one would wait for
  // the pool and fail.
  PgPool single(url(), 1);
  ContactStore store(&single);
  auto delivery = store.BeginDelivery(account_, "c1", false);
  ASSERT_OK(delivery);
  ASSERT_NE(*delivery, nullptr);

  EXPECT_THAT((*delivery)->FindOwner("bob@acme.example"),
              IsOkAndHolds(Optional(12)));
  EXPECT_THAT((*delivery)->FindOwner("nobody@acme.example"),
              IsOkAndHolds(Eq(std::nullopt)));
  ASSERT_OK((*delivery)->Commit(Delivered(**delivery)));
  EXPECT_THAT((*delivery)->FindOwner("bob@acme.example"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "delivery already committed"));
}

TEST_F(ContactStoreTest, FindOwnerIsScopedToTheAccount) {
  Connect(account_);
  const std::string other = UniqueId("acct-b");
  ASSERT_OK(store_->AcceptUpsert(other, "c1", 1, "{}", false, "", kLater));

  auto delivery = store_->BeginDelivery(other, "c1", false);

  ASSERT_OK(delivery);
  ASSERT_NE(*delivery, nullptr);
  EXPECT_THAT((*delivery)->FindOwner("alice@acme.example"),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(ContactStoreTest, DeliveryDroppedWithoutCommitRollsBack) {
  ASSERT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kQueued));
  {
    auto delivery = store_->BeginDelivery(account_, "c1", false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
  }

  // The lock went with it: another worker may start at once.
  auto next = store_->BeginDelivery(account_, "c1", /*skip_locked=*/true);

  ASSERT_OK(next);
  ASSERT_NE(*next, nullptr);
  ASSERT_TRUE((*next)->pending().has_value());
  EXPECT_EQ((*next)->pending()->attempts, 0);
  EXPECT_EQ((*next)->record().synced_version, 0);
}

TEST_F(ContactStoreTest, SkipLockedReturnsNullWhileAnotherDeliveryHoldsIt) {
  ASSERT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kQueued));
  // Another process: a pool and a store of its own.
  PgPool other_pool(url(), 2);
  ContactStore other(&other_pool);
  auto held = store_->BeginDelivery(account_, "c1", false);
  ASSERT_OK(held);
  ASSERT_NE(*held, nullptr);

  absl::Notification returned;
  absl::StatusOr<std::unique_ptr<ContactDelivery>> skipped;
  std::thread worker([&] {
    skipped = other.BeginDelivery(account_, "c1", /*skip_locked=*/true);
    returned.Notify();
  });
  const bool returned_while_held =
      returned.WaitForNotificationWithTimeout(absl::Seconds(5));
  // Committing also frees a call that (wrongly) waits for the lock.
  const absl::Status committed = (*held)->Commit(Delivered(**held));
  worker.join();

  EXPECT_TRUE(returned_while_held) << "skip_locked waited for the lock";
  ASSERT_OK(committed);
  ASSERT_OK(skipped);
  EXPECT_EQ(*skipped, nullptr);

  auto after = other.BeginDelivery(account_, "c1", /*skip_locked=*/true);
  ASSERT_OK(after);
  ASSERT_NE(*after, nullptr);
  EXPECT_EQ((*after)->pending(), std::nullopt);
  EXPECT_EQ((*after)->record().synced_version, 2);
}

TEST_F(ContactStoreTest, BlockingBeginDeliveryWaitsForTheHolder) {
  ASSERT_THAT(Upsert(2), IsOkAndHolds(AcceptOutcome::kQueued));
  PgPool other_pool(url(), 2);
  ContactStore other(&other_pool);
  auto held = store_->BeginDelivery(account_, "c1", false);
  ASSERT_OK(held);
  ASSERT_NE(*held, nullptr);

  absl::Notification locked;
  absl::StatusOr<std::unique_ptr<ContactDelivery>> second;
  std::thread worker([&] {
    second = other.BeginDelivery(account_, "c1", /*skip_locked=*/false);
    locked.Notify();
  });
  const bool locked_early =
      locked.WaitForNotificationWithTimeout(absl::Milliseconds(300));
  const absl::Status committed = (*held)->Commit(Delivered(**held));
  const bool locked_after =
      locked.WaitForNotificationWithTimeout(absl::Seconds(20));
  worker.join();

  EXPECT_FALSE(locked_early) << "two deliveries held one contact at once";
  EXPECT_OK(committed);
  EXPECT_TRUE(locked_after);
  ASSERT_OK(second);
  ASSERT_NE(*second, nullptr);
  // It sees the first delivery's outcome, not the state before it.
  EXPECT_EQ((*second)->pending(), std::nullopt);
  EXPECT_EQ((*second)->record().synced_version, 2);
}

TEST_F(ContactStoreTest, AcceptDuringDeliveryWaitsAndLandsAfterIt) {
  ASSERT_THAT(Upsert(1), IsOkAndHolds(AcceptOutcome::kQueued));
  PgPool other_pool(url(), 2);
  ContactStore other(&other_pool);
  auto delivery = store_->BeginDelivery(account_, "c1", false);
  ASSERT_OK(delivery);
  ASSERT_NE(*delivery, nullptr);

  absl::Notification accepted;
  absl::StatusOr<AcceptOutcome> outcome;
  std::thread caller([&] {
    outcome = other.AcceptUpsert(account_, "c1", 2, Payload("c1", 2), false, "",
                                 kLater);
    accepted.Notify();
  });
  const bool accepted_early =
      accepted.WaitForNotificationWithTimeout(absl::Milliseconds(300));
  const absl::Status committed = (*delivery)->Commit(Delivered(**delivery));
  const bool accepted_after =
      accepted.WaitForNotificationWithTimeout(absl::Seconds(20));
  caller.join();

  EXPECT_FALSE(accepted_early) << "accept did not wait for the delivery";
  EXPECT_OK(committed);
  EXPECT_TRUE(accepted_after) << "accept and delivery deadlocked";
  EXPECT_THAT(outcome, IsOkAndHolds(AcceptOutcome::kQueued));
  // The delivery removed version 1 only; version 2 waits for the next one.
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, 2);
  std::optional<ContactRecord> record = Record();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->synced_version, 1);
  EXPECT_EQ(record->latest_version, 2);
}

TEST_F(ContactStoreTest, ConcurrentAcceptsKeepTheNewestVersion) {
  constexpr int kCallers = 6;
  constexpr int kVersionsEach = 5;
  std::vector<std::thread> callers;
  std::vector<absl::Status> failures;
  absl::Mutex mu;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      for (int j = 0; j < kVersionsEach; ++j) {
        // Interleaved versions, so newer and older ones race.
        const int64_t version = 1 + j * kCallers + i;
        absl::StatusOr<AcceptOutcome> outcome = Upsert(version, kLater, "hot");
        if (!outcome.ok()) {
          absl::MutexLock lock(&mu);
          failures.push_back(outcome.status());
        }
      }
    });
  }
  for (std::thread& t : callers) t.join();

  EXPECT_THAT(failures, IsEmpty());
  const int64_t newest = kCallers * kVersionsEach;
  std::optional<PendingChange> pending = Pending("hot");
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->version, newest);
  EXPECT_THAT(pending->payload, JsonEq(Payload("hot", newest)));
  ASSERT_TRUE(Record("hot").has_value());
  EXPECT_EQ(Record("hot")->latest_version, newest);
  EXPECT_EQ(QueueRows("hot"), 1);
}

TEST_F(ContactStoreTest, DueChangesListsDueChangesOfConnectedAccounts) {
  Connect(account_);
  const std::string never_connected = UniqueId("acct-none");
  const std::string disconnected = UniqueId("acct-off");
  Connect(disconnected);
  ASSERT_OK(integrations_->MarkDisconnected(disconnected));
  const std::string needs_reconnect = UniqueId("acct-reauth");
  const std::string paused = UniqueId("acct-paused");
  for (const auto& [account, state] :
       {std::make_pair(needs_reconnect, IntegrationState::kNeedsReconnect),
        std::make_pair(paused, IntegrationState::kPaused)}) {
    Connect(account);
    auto updated = integrations_->UpdateLocked(
        account, [state = state](IntegrationRecord& r) {
          r.state = state;
          return absl::OkStatus();
        });
    ASSERT_OK(updated);
  }
  ASSERT_OK(store_->AcceptUpsert(account_, "import-first", 1, "{}", true,
                                 "imp-1", kNow));
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_OK(
      store_->AcceptUpsert(account_, "realtime", 1, "{}", false, "", kNow));
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_OK(store_->AcceptDelete(account_, "deleted", 1, kNow));
  ASSERT_OK(
      store_->AcceptUpsert(account_, "not-yet", 1, "{}", false, "", kLater));
  for (const std::string& other :
       {never_connected, disconnected, needs_reconnect, paused}) {
    ASSERT_OK(store_->AcceptUpsert(other, "c1", 1, "{}", false, "", kNow));
  }

  DueList due = DueFor(
      {account_, never_connected, disconnected, needs_reconnect, paused});

  // Real-time changes (upserts and deletions) first, then the import.
  EXPECT_THAT(due,
              ElementsAre(Pair(account_, "realtime"), Pair(account_, "deleted"),
                          Pair(account_, "import-first")));
}

TEST_F(ContactStoreTest, DueChangesHonoursTheLimit) {
  Connect(account_);
  ASSERT_OK(Upsert(1, kNow, "a"));

  absl::StatusOr<DueList> none = store_->DueChanges(0);

  ASSERT_OK(none);
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(ContactStoreTest, RealTimeChangeKeepsPriorityOverLaterImport) {
  Connect(account_);
  const std::string later = UniqueId("acct-later");
  Connect(later);
  ASSERT_OK(store_->AcceptUpsert(account_, "c1", 1, "{}", false, "", kNow));
  absl::SleepFor(absl::Milliseconds(20));
  // The same contact again from an import: it stays a real-time change.
  ASSERT_OK(store_->AcceptUpsert(account_, "c1", 2, "{}", true, "imp", kNow));
  ASSERT_OK(store_->AcceptUpsert(later, "c9", 1, "{}", true, "imp", kNow));

  EXPECT_THAT(DueFor({account_, later}),
              ElementsAre(Pair(account_, "c1"), Pair(later, "c9")));
}

TEST_F(ContactStoreTest, WorkerDelayPostponesTheDueTime) {
  Connect(account_);
  const absl::Time before = absl::Now();

  ASSERT_OK(Upsert(1, absl::Milliseconds(700), "delayed"));
  ASSERT_OK(Upsert(1, kNow, "immediate"));

  EXPECT_THAT(DueFor({account_}), ElementsAre(Pair(account_, "immediate")));
  const int64_t due_micros =
      Raw("SELECT (extract(epoch FROM next_attempt_at) * 1000000)::bigint"
          " FROM sync_queue WHERE account_id = $1 AND contact_id = $2",
          account_, "delayed")[0][0]
          .as<int64_t>();
  EXPECT_GE(absl::FromUnixMicros(due_micros),
            before + absl::Milliseconds(700) - absl::Seconds(1));
  EXPECT_LE(absl::FromUnixMicros(due_micros),
            absl::Now() + absl::Milliseconds(700) + absl::Seconds(1));
  absl::SleepFor(absl::FromUnixMicros(due_micros) - absl::Now() +
                 absl::Milliseconds(50));
  EXPECT_THAT(DueFor({account_}), ElementsAre(Pair(account_, "immediate"),
                                              Pair(account_, "delayed")));
}

TEST_F(ContactStoreTest, ContactsOfOneAccountAreInvisibleToAnother) {
  const std::string other = UniqueId("acct-b");
  ASSERT_THAT(Upsert(5), IsOkAndHolds(AcceptOutcome::kQueued));

  EXPECT_THAT(store_->Get(other, "c1"), IsOkAndHolds(Eq(std::nullopt)));
  EXPECT_THAT(store_->GetPending(other, "c1"), IsOkAndHolds(Eq(std::nullopt)));
  auto delivery = store_->BeginDelivery(other, "c1", false);
  ASSERT_OK(delivery);
  EXPECT_EQ(*delivery, nullptr);
  // Account B's version 1 is not stale because of account A's version 5.
  EXPECT_THAT(
      store_->AcceptUpsert(other, "c1", 1, Payload("c1", 1), false, "", kLater),
      IsOkAndHolds(AcceptOutcome::kQueued));
  EXPECT_THAT(store_->AcceptDelete(other, "c1", 2, kLater),
              IsOkAndHolds(AcceptOutcome::kQueued));

  std::optional<ContactRecord> mine = Record();
  ASSERT_TRUE(mine.has_value());
  EXPECT_EQ(mine->latest_version, 5);
  EXPECT_EQ(mine->deleted_version, std::nullopt);
  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->kind, ChangeKind::kUpsert);
  EXPECT_EQ(pending->version, 5);
}

TEST_F(ContactStoreTest, ImportCountsWhatWasAcceptedAndWhatIsPending) {
  Connect(account_);
  const std::string import_id = UniqueId("import");
  ASSERT_OK(store_->StartImport(import_id, account_, /*link_existing=*/true));
  std::vector<ImportedContact> batch = {{"c1", 1, Payload("c1", 1)},
                                        {"c2", 1, Payload("c2", 1)}};
  ASSERT_OK(store_->AcceptImportBatch(account_, import_id, batch));
  // The same contact again in a later batch, older: nothing to do.
  ASSERT_OK(store_->AcceptImportBatch(account_, import_id,
                                      {{"c1", 1, Payload("c1", 1)}}));

  ASSERT_OK(store_->FinishImport(import_id, 3, /*interrupted=*/false));
  auto progress = store_->GetImport(account_, import_id);

  ASSERT_OK(progress);
  EXPECT_TRUE(progress->link_existing);
  EXPECT_FALSE(progress->interrupted);
  EXPECT_EQ(progress->accepted, 3);
  EXPECT_EQ(progress->rejected, 3);
  EXPECT_EQ(progress->unchanged, 0);  // the repeat was queued already
  EXPECT_EQ(progress->pending, 2);
  EXPECT_TRUE(progress->finished_at.has_value());
  EXPECT_THAT(
      store_->GetImport("other-account", import_id),
      StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr(import_id)));
  // Its queued changes are background work that carries the option.
  std::optional<PendingChange> pending = Pending("c2");
  ASSERT_TRUE(pending.has_value());
  EXPECT_TRUE(pending->from_import);
  EXPECT_TRUE(pending->link_existing);
  EXPECT_EQ(pending->import_id, import_id);
}

TEST_F(ContactStoreTest, InterruptedImportIsRecordedAsSuch) {
  Connect(account_);
  const std::string import_id = UniqueId("import");
  ASSERT_OK(store_->StartImport(import_id, account_, /*link_existing=*/false));
  ASSERT_OK(store_->AcceptImportBatch(account_, import_id,
                                      {{"c1", 1, Payload("c1", 1)}}));
  ASSERT_OK(store_->FinishImport(import_id, 0, /*interrupted=*/true));

  auto progress = store_->GetImport(account_, import_id);

  ASSERT_OK(progress);
  EXPECT_TRUE(progress->interrupted);
  EXPECT_FALSE(progress->link_existing);
  EXPECT_EQ(progress->accepted, 1);
  EXPECT_FALSE(Pending("c1")->link_existing);
  EXPECT_TRUE(Pending("c1")->from_import);
}

TEST_F(ContactStoreTest, DisconnectCancelsUnfinishedImportsAndRefusesTheRest) {
  Connect(account_);
  const std::string done = UniqueId("import");
  ASSERT_OK(store_->StartImport(done, account_, /*link_existing=*/false));
  ASSERT_OK(
      store_->AcceptImportBatch(account_, done, {{"c1", 1, Payload("c1", 1)}}));
  ASSERT_OK(store_->FinishImport(done, 0, /*interrupted=*/false));
  // Delivered: nothing of it is left in the queue.
  {
    auto delivery = store_->BeginDelivery(account_, "c1", false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    ASSERT_OK((*delivery)->Commit(Delivered(**delivery)));
  }
  const std::string running = UniqueId("import");
  ASSERT_OK(store_->StartImport(running, account_, /*link_existing=*/false));
  ASSERT_OK(store_->AcceptImportBatch(
      account_, running,
      {{"c2", 1, Payload("c2", 1)}, {"c3", 1, Payload("c3", 1)}}));

  ASSERT_OK(integrations_->MarkDisconnected(account_));

  auto cancelled = store_->GetImport(account_, running);
  ASSERT_OK(cancelled);
  EXPECT_TRUE(cancelled->cancelled_at.has_value());
  EXPECT_EQ(cancelled->dropped, 2);
  EXPECT_EQ(cancelled->pending, 0);
  auto finished = store_->GetImport(account_, done);
  ASSERT_OK(finished);
  EXPECT_FALSE(finished->cancelled_at.has_value());
  EXPECT_EQ(finished->dropped, 0);
  // The rest of the stream is not queued for a disconnected integration.
  EXPECT_THAT(store_->AcceptImportBatch(account_, running,
                                        {{"c4", 1, Payload("c4", 1)}}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("disconnected")));
  EXPECT_EQ(Pending("c4"), std::nullopt);
  EXPECT_THAT(store_->AcceptImportBatch("no-such-account", running,
                                        {{"c5", 1, Payload("c5", 1)}}),
              StatusIs(absl::StatusCode::kNotFound,
                       ::testing::HasSubstr("no-such-account")));
}

TEST_F(ContactStoreTest, LatestImportIsTheOneStartedLast) {
  Connect(account_);
  EXPECT_THAT(store_->LatestImport(account_), IsOkAndHolds(Eq(std::nullopt)));
  const std::string first = UniqueId("import");
  ASSERT_OK(store_->StartImport(first, account_, /*link_existing=*/false));
  absl::SleepFor(absl::Milliseconds(5));
  const std::string second = UniqueId("import");
  ASSERT_OK(store_->StartImport(second, account_, /*link_existing=*/true));
  ASSERT_OK(store_->AcceptImportBatch(account_, second,
                                      {{"c1", 1, Payload("c1", 1)}}));

  auto latest = store_->LatestImport(account_);

  ASSERT_OK(latest);
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->import_id, second);
  EXPECT_EQ((*latest)->accepted, 1);
  EXPECT_TRUE((*latest)->link_existing);
  EXPECT_THAT(store_->LatestImport("other-account"),
              IsOkAndHolds(Eq(std::nullopt)));
}

TEST_F(ContactStoreTest, ALaterImportTakesOverWhatIsStillQueued) {
  Connect(account_);
  const std::string first = UniqueId("import");
  ASSERT_OK(store_->StartImport(first, account_, /*link_existing=*/false));
  ASSERT_OK(store_->AcceptImportBatch(
      account_, first,
      {{"c1", 1, Payload("c1", 1)}, {"c2", 1, Payload("c2", 1)}}));
  // A real-time change of c3 waits too.
  ASSERT_THAT(Upsert(1, kLater, "c3"), IsOkAndHolds(AcceptOutcome::kQueued));

  // The same contacts streamed again, one of them newer, and c3.
  const std::string second = UniqueId("import");
  ASSERT_OK(store_->StartImport(second, account_, /*link_existing=*/false));
  ASSERT_OK(store_->AcceptImportBatch(account_, second,
                                      {{"c1", 1, Payload("c1", 1)},
                                       {"c2", 2, Payload("c2", 2)},
                                       {"c3", 1, Payload("c3", 1)}}));

  auto earlier = store_->GetImport(account_, first);
  ASSERT_OK(earlier);
  EXPECT_EQ(earlier->pending, 0);
  EXPECT_EQ(earlier->superseded, 2);
  auto later = store_->GetImport(account_, second);
  ASSERT_OK(later);
  EXPECT_EQ(later->accepted, 3);
  EXPECT_EQ(later->pending, 3);
  EXPECT_EQ(later->unchanged, 0);

  // Delivered, each counts for the later import.
  for (const char* contact : {"c1", "c2", "c3"}) {
    auto delivery = store_->BeginDelivery(account_, contact, false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    DeliveryResult result = Delivered(**delivery);
    result.import_outcome = ImportOutcome::kCreated;
    ASSERT_OK((*delivery)->Commit(result));
  }
  later = store_->GetImport(account_, second);
  ASSERT_OK(later);
  EXPECT_EQ(later->created, 3);
  EXPECT_EQ(later->pending, 0);
  earlier = store_->GetImport(account_, first);
  ASSERT_OK(earlier);
  EXPECT_EQ(earlier->created, 0);
}

TEST_F(ContactStoreTest, RealtimeChangeIsNotBackgroundWork) {
  ASSERT_THAT(Upsert(1), IsOkAndHolds(AcceptOutcome::kQueued));

  std::optional<PendingChange> pending = Pending();
  ASSERT_TRUE(pending.has_value());
  EXPECT_FALSE(pending->from_import);
  EXPECT_FALSE(pending->link_existing);
}

TEST_F(ContactStoreTest, APersonOfAnotherContactCannotBeClaimed) {
  ASSERT_THAT(Upsert(1), IsOkAndHolds(AcceptOutcome::kQueued));
  ASSERT_THAT(Upsert(1, kLater, "c2"), IsOkAndHolds(AcceptOutcome::kQueued));
  {
    auto delivery = store_->BeginDelivery(account_, "c1", false);
    ASSERT_OK(delivery);
    ASSERT_NE(*delivery, nullptr);
    EXPECT_THAT((*delivery)->ClaimPerson(77), IsOkAndHolds(true));
    DeliveryResult result = Delivered(**delivery);
    result.record.person_id = 77;
    ASSERT_OK((*delivery)->Commit(result));
  }

  auto other = store_->BeginDelivery(account_, "c2", false);
  ASSERT_OK(other);
  ASSERT_NE(*other, nullptr);
  EXPECT_THAT((*other)->ClaimPerson(77), IsOkAndHolds(false));
  EXPECT_THAT((*other)->ClaimPerson(78), IsOkAndHolds(true));
  other->reset();

  // c1 may claim its own Person again.
  auto same = store_->BeginDelivery(account_, "c1", false);
  ASSERT_OK(same);
  ASSERT_NE(*same, nullptr);
  EXPECT_THAT((*same)->ClaimPerson(77), IsOkAndHolds(true));
}

}  // namespace
}  // namespace wave::pipedrive

namespace wave::pipedrive::storage_test {
namespace {

class ImportBatchTest : public ContactStoreTest {};

TEST_F(ImportBatchTest, BatchAcceptsInOneGoAndKeepsVersionOrder) {
  Connect(account_);
  ASSERT_THAT(Delete(4, "c9"), IsOkAndHolds(AcceptOutcome::kQueued));
  std::vector<ImportedContact> batch = {
      {"c2", 3, Payload("c2", 3)}, {"c1", 5, Payload("c1", 5)},
      {"c1", 4, Payload("c1", 4)},  // older than the one before: stale
      {"c9", 2, Payload("c9", 2)},  // deleted at 4: stale
      {"c3", 1, Payload("c3", 1)},
  };

  auto outcomes = store_->AcceptImportBatch(account_, "imp-1", batch);

  ASSERT_OK(outcomes);
  EXPECT_THAT(*outcomes, ::testing::ElementsAre(
                             AcceptOutcome::kQueued, AcceptOutcome::kQueued,
                             AcceptOutcome::kStale, AcceptOutcome::kStale,
                             AcceptOutcome::kQueued));
  auto pending = store_->GetPending(account_, "c1");
  ASSERT_OK(pending);
  ASSERT_TRUE(pending->has_value());
  EXPECT_EQ((*pending)->version, 5);
  EXPECT_THAT((*pending)->payload, JsonEq(Payload("c1", 5)));
}

}  // namespace
}  // namespace wave::pipedrive::storage_test
