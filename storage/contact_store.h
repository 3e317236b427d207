#ifndef WAVE_STORAGE_CONTACT_STORE_H_
#define WAVE_STORAGE_CONTACT_STORE_H_

#include "storage/pg_pool.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pqxx/transaction"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace wave::pipedrive {

// A contact's mapping to Pipedrive and its sync bookkeeping.
struct ContactRecord {
  std::string account_id;
  std::string contact_id;
  int64_t latest_version = 0;
  int64_t synced_version = 0;
  std::optional<int64_t> deleted_version;
  std::optional<int64_t> person_id;
  std::optional<std::string> lead_id;
  bool lead_gone = false;
  // JSON of the Person and Lead fields last written to Pipedrive.
  std::optional<std::string> written_person;
  std::optional<std::string> written_lead;
  bool owner_matched = false;
  std::string owner_note;
  std::optional<int64_t> failed_version;
  std::string last_error;
  std::string last_error_action;
  absl::Time updated_at = absl::InfinitePast();
};

enum class ChangeKind { kUpsert, kDelete };

// A change waiting for delivery; at most one per contact.
struct PendingChange {
  int64_t version = 0;
  ChangeKind kind = ChangeKind::kUpsert;
  // The contact as JSON (protobuf JSON mapping), for upserts.
  std::string payload;
  int attempts = 0;
  std::string last_error;
  // The import the change came from, if any.
  std::optional<std::string> import_id;
  // Queued by an import (and not replaced by a real-time change since):
  // background work.
  bool from_import = false;
  // The import asked to link a Person that has the contact's primary email
  // instead of creating one.
  bool link_existing = false;
};

enum class AcceptOutcome {
  // Recorded and queued for delivery.
  kQueued,
  // A newer version, or a deletion covering this version, was seen before.
  kStale,
  // This version is already in Pipedrive.
  kAlreadySynced,
};

// One contact of an import, as AcceptImportBatch takes it.
struct ImportedContact {
  std::string contact_id;
  int64_t version = 0;
  std::string payload;  // the contact as JSON
};

// A create (or deletion) sent to Pipedrive whose outcome was never
// recorded, with what a create sent.
struct CreateIntent {
  std::string kind;  // "person", "lead" or "deletion"
  std::string name;
  std::string email;
  std::string phone;
};

// What a delivered imported change did, for the import's counters.
enum class ImportOutcome {
  kNone,
  kCreated,
  kUpdated,
  kUnchanged,
  kFailed,
  // Linked to a Person already in Pipedrive.
  kLinked,
};

// An import's progress.
struct ImportRecord {
  std::string import_id;
  std::string account_id;
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t failed = 0;
  int64_t linked = 0;
  int64_t pending = 0;
  bool link_existing = false;
  absl::Time started_at;
  std::optional<absl::Time> finished_at;  // when the stream ended
  // When the last batch of the stream was stored.
  absl::Time last_batch_at;
  // The stream broke before its end; what arrived before is delivered.
  bool interrupted = false;
  // The integration was disconnected before the import finished; `dropped`
  // of its contacts were still queued and are not delivered.
  std::optional<absl::Time> cancelled_at;
  int64_t dropped = 0;
  // The current pace: the time between settled contacts, averaged over
  // about the last ten, pauses left out. Unset before two are settled.
  std::optional<absl::Duration> settle_interval;
  // Contacts a later import of the account streamed again while they were
  // still queued here: that import settles and counts them.
  int64_t superseded = 0;
};

// What the caller decides after trying to deliver a pending change.
struct DeliveryResult {
  // The record as it should be stored (IDs, written fields, errors).
  ContactRecord record;
  // Remove the pending change (delivered, or failed for good), or keep it
  // for another attempt at `retry_at`.
  bool done = false;
  absl::Time retry_at = absl::InfinitePast();
  std::string retry_error;
  // Counted in the change's import when the change is done.
  ImportOutcome import_outcome = ImportOutcome::kNone;
};

// A contact locked for delivery: one process at a time delivers a contact.
// Commit() stores the result and releases the lock; destruction without
// Commit() rolls back.
class ContactDelivery {
 public:
  ContactDelivery(PgPool::Lease lease, std::unique_ptr<pqxx::work> tx,
                  ContactRecord record, std::optional<PendingChange> pending);
  ~ContactDelivery();

  const ContactRecord& record() const { return record_; }
  const std::optional<PendingChange>& pending() const { return pending_; }

  absl::Status Commit(const DeliveryResult& result);

  // The intents of `kind` left for this contact, newest first.
  absl::StatusOr<std::vector<CreateIntent>> Intents(const std::string& kind);

  // The account's active Pipedrive user with that (lower-cased) email,
  // read in the delivery's own transaction: a delivery must not wait for a
  // second connection while it holds the contact's lock.
  absl::StatusOr<std::optional<int64_t>> FindOwner(
      const std::string& email_lower);

  // Whether Person `person_id` may become this contact's: no other contact
  // of the account has it. Holds a lock on the Person's id until Commit(),
  // so that two contacts delivered at once cannot both take it.
  absl::StatusOr<bool> ClaimPerson(int64_t person_id);

 private:
  PgPool::Lease lease_;
  std::unique_ptr<pqxx::work> tx_;
  ContactRecord record_;
  std::optional<PendingChange> pending_;
};

// Reads and writes contacts and the delivery queue in PostgreSQL.
//
// Every write locks the contact's row first, so acceptance and delivery of
// one contact are serialised across threads and processes. Errors are
// UNAVAILABLE when the database is unreachable, ABORTED for retryable
// conflicts, INTERNAL otherwise. Thread-safe.
class ContactStore {
 public:
  // `delivery_pool` serves deliveries (BeginDelivery), which hold a
  // connection while Pipedrive answers; `side_pool` the short writes made
  // meanwhile (the create intents). Both default to `pool`.
  explicit ContactStore(PgPool* pool, PgPool* side_pool = nullptr,
                        PgPool* delivery_pool = nullptr)
      : pool_(pool),
        side_pool_(side_pool != nullptr ? side_pool : pool),
        delivery_pool_(delivery_pool != nullptr ? delivery_pool : pool) {}

  // Records version `version` of a contact and queues it, unless it is
  // stale or already synced. `payload` is the contact as JSON. The queued
  // change is left to background delivery after `worker_delay`, which gives
  // a caller delivering it right away the first turn.
  absl::StatusOr<AcceptOutcome> AcceptUpsert(
      const std::string& account_id, const std::string& contact_id,
      int64_t version, const std::string& payload, bool from_import,
      const std::string& import_id, absl::Duration worker_delay);

  // AcceptUpsert for many imported contacts in one transaction; the
  // outcomes come in the batch's order.
  absl::StatusOr<std::vector<AcceptOutcome>> AcceptImportBatch(
      const std::string& account_id, const std::string& import_id,
      const std::vector<ImportedContact>& batch);

  // Records the deletion of a contact at `version` and queues it. Stale when
  // a newer update was seen; kAlreadySynced when a deletion at this or a
  // newer version was recorded before.
  absl::StatusOr<AcceptOutcome> AcceptDelete(const std::string& account_id,
                                             const std::string& contact_id,
                                             int64_t version,
                                             absl::Duration worker_delay);

  absl::StatusOr<std::optional<ContactRecord>> Get(
      const std::string& account_id, const std::string& contact_id);
  absl::StatusOr<std::optional<PendingChange>> GetPending(
      const std::string& account_id, const std::string& contact_id);

  // Locks the contact for delivery. With `skip_locked`, returns nullptr when
  // another process holds it; otherwise waits. nullptr also when the
  // contact is unknown.
  absl::StatusOr<std::unique_ptr<ContactDelivery>> BeginDelivery(
      const std::string& account_id, const std::string& contact_id,
      bool skip_locked);

  // Contacts of one account whose pending change is due: real-time changes
  // first, then in the order they became due.
  absl::StatusOr<std::vector<std::string>> DueContactsOf(
      const std::string& account_id, int limit);

  // Contacts of connected accounts whose pending change is due, real-time
  // changes first.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DueChanges(
      int limit);

  // Records, and commits at once, that a create of `intent.kind` (or a
  // deletion) is about to be sent for the contact; returns the intent's
  // id. Delivery commits remove it once its outcome is stored.
  absl::StatusOr<int64_t> RecordIntent(const std::string& account_id,
                                       const std::string& contact_id,
                                       const CreateIntent& intent);
  // Removes an intent whose create Pipedrive refused outright (a 4xx
  // answer): there is nothing to look up before trying again.
  absl::Status ForgetIntent(const std::string& account_id,
                            const std::string& contact_id, int64_t intent_id);

  // Starts an import's record; AcceptImportBatch adds to it.
  absl::Status StartImport(const std::string& import_id,
                           const std::string& account_id, bool link_existing);
  // Records that the import's stream ended, with its rejected count;
  // `interrupted` when it broke before the caller finished it.
  absl::Status FinishImport(const std::string& import_id, int64_t rejected,
                            bool interrupted);
  // NOT_FOUND when the account has no such import.
  absl::StatusOr<ImportRecord> GetImport(const std::string& account_id,
                                         const std::string& import_id);
  // The account's most recently started import, if it has any.
  absl::StatusOr<std::optional<ImportRecord>> LatestImport(
      const std::string& account_id);

 private:
  PgPool* pool_;
  PgPool* side_pool_;
  PgPool* delivery_pool_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_CONTACT_STORE_H_
