#ifndef WAVE_SERVER_SYNC_ENGINE_H_
#define WAVE_SERVER_SYNC_ENGINE_H_

#include "client/pipedrive_client.h"
#include "server/retry_policy.h"
#include "server/token_manager.h"
#include "storage/contact_store.h"
#include "storage/integration_store.h"
#include "wave/integrations/pipedrive/v1/pipedrive_sync.pb.h"

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {

// What the service knows about one contact, for answers and GetContactSync.
struct ContactView {
  ContactRecord record;
  std::optional<PendingChange> pending;
};

// The result of a SyncContact or DeleteContact call.
struct ChangeOutcome {
  enum class Kind {
    kApplied,    // in Pipedrive now
    kUnchanged,  // Pipedrive already held this data; no call made
    kQueued,     // stored; delivered later (see reason)
    kStale,      // older than what was seen; nothing changed
    kAlreadyDeleted,
    kFailed,  // Pipedrive refused this version for good
  };
  Kind kind = Kind::kQueued;
  std::string reason;
  ContactView view;
};

// What one delivery attempt did.
struct DeliveryReport {
  bool attempted = false;  // a pending change was found and tried
  bool delivered = false;  // it is in Pipedrive now
  bool failed = false;     // refused for good
  bool paused = false;     // the account was paused by this attempt
  int64_t version = 0;     // the version tried
  int pipedrive_writes = 0;
  std::string reason;  // why it was not delivered
};

// Turns Wave contact changes into Pipedrive Persons and Leads.
//
// Every change is stored in PostgreSQL before anything else happens. The
// process holding the account's lease (DeliveryWorker) delivers it; the
// call that made the change wakes that worker and waits a short, bounded
// time for the outcome, so a slow Pipedrive delays the answer by at most
// `sync_wait` and never fails it. Delivery of one contact also holds that
// contact's row lock, so a contact never gets two Persons or two Leads.
// Only fields that differ from what was last written are sent. Thread-safe.
class SyncEngine {
 public:
  struct Options {
    // How long SyncContact and DeleteContact wait for their change to be
    // delivered before answering QUEUED.
    absl::Duration sync_wait = absl::Seconds(2);
    // When a paused account is tried again: after Pipedrive answered 402 or
    // 403, and after the company's daily API budget ran out.
    absl::Duration access_pause = absl::Minutes(15);
    absl::Duration budget_pause = absl::Hours(1);
    // An owner email no known user has reloads the company's users, at
    // most this often.
    absl::Duration users_reload_interval = absl::Minutes(5);
    // Retry backoff: full jitter over min(cap, base * 2^attempts).
    absl::Duration retry_base = absl::Seconds(5);
    absl::Duration retry_cap = absl::Minutes(30);
    std::function<absl::Time()> clock = absl::Now;
  };

  // `side_integrations` uses a pool of its own, for writes made while a
  // delivery holds a connection of the main pool.
  SyncEngine(IntegrationStore* integrations,
             IntegrationStore* side_integrations, ContactStore* contacts,
             TokenManager* tokens, PipedriveClient* pipedrive, Options options);

  // `contact` must be valid (ValidateContact).
  absl::StatusOr<ChangeOutcome> SyncContact(
      const std::string& account_id,
      const integrations::pipedrive::v1::Contact& contact);

  absl::StatusOr<ChangeOutcome> DeleteContact(const std::string& account_id,
                                              const std::string& contact_id,
                                              int64_t version);

  // Records a batch of imported contacts (valid ones) in one transaction;
  // delivery happens in the background, after real-time changes.
  absl::Status AcceptImported(
      const std::string& account_id, const std::string& import_id,
      const std::vector<integrations::pipedrive::v1::Contact>& contacts);

  // Import bookkeeping, see ContactStore.
  absl::Status StartImport(const std::string& import_id,
                           const std::string& account_id, bool link_existing) {
    return contacts_->StartImport(import_id, account_id, link_existing);
  }
  absl::Status FinishImport(const std::string& import_id, int64_t rejected,
                            bool interrupted) {
    return contacts_->FinishImport(import_id, rejected, interrupted);
  }
  absl::StatusOr<ImportRecord> GetImport(const std::string& account_id,
                                         const std::string& import_id) {
    return contacts_->GetImport(account_id, import_id);
  }
  absl::StatusOr<std::optional<ImportRecord>> LatestImport(
      const std::string& account_id) {
    return contacts_->LatestImport(account_id);
  }

  // NOT_FOUND when the contact was never seen.
  absl::StatusOr<ContactView> GetContact(const std::string& account_id,
                                         const std::string& contact_id);

  // Delivers the contact's pending change, if any. With `skip_locked`,
  // returns at once when another process is delivering it.
  absl::StatusOr<DeliveryReport> Deliver(const std::string& account_id,
                                         const std::string& contact_id,
                                         bool skip_locked);

  // Called with the account whenever a change is accepted, to wake the
  // delivering worker.
  void SetWakeCallback(std::function<void(const std::string&)> wake) {
    wake_ = std::move(wake);
  }

 private:
  // Fails with NOT_FOUND or FAILED_PRECONDITION when the account cannot
  // take changes.
  absl::StatusOr<IntegrationRecord> AcceptingIntegration(
      const std::string& account_id);
  // The answer for a change that needs no delivery.
  absl::StatusOr<ChangeOutcome> Unsent(const std::string& account_id,
                                       const std::string& contact_id,
                                       ChangeOutcome::Kind kind,
                                       const std::string& reason);
  // Wakes the worker and waits, up to sync_wait, for `version` of the
  // contact to be delivered, refused or superseded.
  absl::StatusOr<ChangeOutcome> AwaitDelivery(
      const IntegrationRecord& integration, const std::string& contact_id,
      int64_t version, bool is_delete);
  // Tells waiting callers what happened to a contact.
  void Publish(const std::string& account_id, const std::string& contact_id,
               const DeliveryReport& report);
  // Pauses the account when Pipedrive refuses the company as a whole.
  bool MaybePause(const std::string& account_id, const absl::Status& error,
                  absl::Time& retry_at);
  // `linked` tells whether the contact was linked to a Person already in
  // Pipedrive.
  absl::Status ApplyUpsert(const IntegrationRecord& integration,
                           Credentials& creds, ContactDelivery& delivery,
                           const PendingChange& change, ContactRecord& record,
                           int& writes, bool& linked);
  // Reloads the company's users when `email_lower` matches none of them
  // and the last load is old enough.
  absl::Status MaybeReloadUsers(const std::string& account, Credentials& creds,
                                ContactDelivery& delivery,
                                const std::string& email_lower);
  absl::Status SyncPerson(const std::string& account, Credentials& creds,
                          ContactDelivery& delivery, PersonWrite desired,
                          bool link_existing, ContactRecord& record,
                          int& writes, bool& linked);
  // A live Person whose primary email is `email`, not yet the record of
  // another contact of the account; the oldest when several are. With it,
  // `desired` gains the Person's other emails and phones, so that linking
  // keeps what the sales team added.
  absl::StatusOr<std::optional<int64_t>> FindPersonToLink(
      const std::string& account, Credentials& creds, ContactDelivery& delivery,
      const std::string& email, PersonWrite& desired, int& calls);
  absl::Status SyncLead(const std::string& account, Credentials& creds,
                        ContactDelivery& delivery, LeadWrite lead,
                        ContactRecord& record, int& writes);
  // After a create whose outcome was never recorded (a crash, a lost
  // answer), finds the record it may have made, so that it is not made
  // twice. Costs Pipedrive calls only in that case.
  absl::StatusOr<std::optional<int64_t>> RecoverPerson(
      const std::string& account, Credentials& creds, ContactDelivery& delivery,
      int& calls);
  // Before a Person whose id is not stored yet is rewritten: records how
  // it will look, so that RecoverPerson finds it should the attempt die
  // after the write.
  absl::Status RememberPersonWrite(const std::string& account,
                                   const std::string& contact_id,
                                   const PersonWrite& write);
  // A live Person named `name` with that email, else that phone. With
  // `claim`, only one no other contact of the account has, claimed for
  // that delivery's contact.
  absl::StatusOr<std::optional<int64_t>> FindPerson(
      const std::string& account, Credentials& creds, const std::string& name,
      const std::string& email, const std::string& phone, int& calls,
      ContactDelivery* claim = nullptr);
  // Drops the intent of a create Pipedrive refused outright.
  void ForgetRefusedCreate(const std::string& account,
                           const std::string& contact_id, int64_t intent_id,
                           const absl::Status& error);
  absl::StatusOr<std::optional<std::string>> RecoverLead(
      const std::string& account, Credentials& creds, ContactDelivery& delivery,
      const ContactRecord& record, int& calls);
  absl::Status ApplyDelete(const std::string& account_id, Credentials& creds,
                           ContactDelivery& delivery, ContactRecord& record,
                           int& writes);
  absl::Time RetryAt(int attempts, const absl::Status& error);

  IntegrationStore* integrations_;
  IntegrationStore* side_integrations_;
  ContactStore* contacts_;
  TokenManager* tokens_;
  PipedriveClient* pipedrive_;
  Options options_;
  RetryPolicy retry_;
  std::function<void(const std::string&)> wake_;

  // Outcomes for callers waiting in this process, by (account, contact).
  struct Waiting {
    int waiters = 0;
    std::optional<DeliveryReport> report;
  };
  absl::Mutex waiting_mu_;
  std::map<std::pair<std::string, std::string>, Waiting> waiting_
      ABSL_GUARDED_BY(waiting_mu_);
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_SYNC_ENGINE_H_
