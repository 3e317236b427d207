#include "storage/contact_store.h"

#include "storage/pg_status.h"
#include "storage/pg_transaction.h"

#include "absl/strings/str_cat.h"
#include "pqxx/pqxx"

#include <algorithm>
#include <utility>

namespace wave::pipedrive {
namespace {

constexpr char kSelectContact[] =
    "SELECT account_id, contact_id, latest_version, synced_version,"
    " deleted_version, person_id, lead_id, lead_gone, written_person::text,"
    " written_lead::text, owner_matched, owner_note, failed_version,"
    " last_error, last_error_action,"
    " (extract(epoch FROM updated_at) * 1000000)::bigint"
    " FROM contacts WHERE account_id = $1 AND contact_id = $2";

constexpr char kSelectPending[] =
    "SELECT q.version, q.kind, q.payload::text, q.attempts, q.last_error,"
    " q.import_id, q.source, coalesce(i.link_existing, false)"
    " FROM sync_queue q LEFT JOIN imports i ON i.import_id = q.import_id"
    " WHERE q.account_id = $1 AND q.contact_id = $2";

template <typename T>
std::optional<T> Opt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}

ContactRecord ReadContact(const pqxx::row& row) {
  ContactRecord r;
  r.account_id = row[0].as<std::string>();
  r.contact_id = row[1].as<std::string>();
  r.latest_version = row[2].as<int64_t>();
  r.synced_version = row[3].as<int64_t>();
  r.deleted_version = Opt<int64_t>(row[4]);
  r.person_id = Opt<int64_t>(row[5]);
  r.lead_id = Opt<std::string>(row[6]);
  r.lead_gone = row[7].as<bool>();
  r.written_person = Opt<std::string>(row[8]);
  r.written_lead = Opt<std::string>(row[9]);
  r.owner_matched = row[10].as<bool>();
  r.owner_note = row[11].as<std::string>();
  r.failed_version = Opt<int64_t>(row[12]);
  r.last_error = row[13].as<std::string>();
  r.last_error_action = row[14].as<std::string>();
  r.updated_at = absl::FromUnixMicros(row[15].as<int64_t>());
  return r;
}

PendingChange ReadPending(const pqxx::row& row) {
  PendingChange p;
  p.version = row[0].as<int64_t>();
  p.kind = row[1].as<std::string>() == "delete" ? ChangeKind::kDelete
                                                : ChangeKind::kUpsert;
  p.payload = row[2].as<std::string>("");
  p.attempts = row[3].as<int>();
  p.last_error = row[4].as<std::string>();
  if (!row[5].is_null()) p.import_id = row[5].as<std::string>();
  p.from_import = row[6].as<std::string>() == "import";
  p.link_existing = row[7].as<bool>();
  return p;
}

// Part of the UPDATE of an import when one of its contacts is settled:
// the time between settlements, averaged over about the last ten (the
// current pace). A gap of over a minute is a pause, not the pace, and is
// left out. The clock is read now, not at the start of the transaction,
// which began before the delivery's Pipedrive calls.
constexpr char kTrackPace[] =
    "settle_interval_s = CASE"
    " WHEN last_settled_at IS NULL"
    "  OR clock_timestamp() - last_settled_at > interval '1 minute'"
    "  THEN settle_interval_s"
    " WHEN settle_interval_s IS NULL"
    "  THEN extract(epoch FROM clock_timestamp() - last_settled_at)"
    " ELSE 0.9 * settle_interval_s"
    "  + 0.1 * extract(epoch FROM clock_timestamp() - last_settled_at) END,"
    " last_settled_at = clock_timestamp()";

// Creates the contact's row if needed and locks it; returns it.
ContactRecord LockContact(pqxx::work& tx, const std::string& account_id,
                          const std::string& contact_id, int64_t version) {
  tx.exec_params(
      "INSERT INTO contacts (account_id, contact_id, latest_version)"
      " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      account_id, contact_id, version);
  return ReadContact(tx.exec_params1(
      absl::StrCat(kSelectContact, " FOR UPDATE"), account_id, contact_id));
}

// Queues a change unless a newer one is already queued for the contact.
// An import that takes over a contact another import still had queued
// counts it as superseded there.
void Enqueue(pqxx::work& tx, const std::string& account_id,
             const std::string& contact_id, int64_t version,
             const std::string& kind, const std::optional<std::string>& payload,
             const std::string& source,
             const std::optional<std::string>& import_id,
             absl::Duration worker_delay) {
  const pqxx::result queued = tx.exec_params(
      // `prior` sees the queue as it was before the insert.
      "WITH prior AS (SELECT import_id FROM sync_queue"
      "  WHERE account_id = $1 AND contact_id = $2)"
      " INSERT INTO sync_queue (account_id, contact_id, version,"
      " kind, payload, source, import_id, next_attempt_at)"
      " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7,"
      " now() + make_interval(secs => $8))"
      " ON CONFLICT (account_id, contact_id) DO UPDATE SET"
      " version = EXCLUDED.version, kind = EXCLUDED.kind,"
      " payload = EXCLUDED.payload,"
      // A real-time change keeps its priority over an import.
      " source = CASE WHEN sync_queue.source = 'realtime' THEN 'realtime'"
      "   ELSE EXCLUDED.source END,"
      // A real-time change replacing an imported one still settles that
      // contact for the import.
      " import_id = coalesce(EXCLUDED.import_id, sync_queue.import_id),"
      " enqueued_at = now(), attempts = 0,"
      " next_attempt_at = EXCLUDED.next_attempt_at, last_error = ''"
      " WHERE sync_queue.version < EXCLUDED.version"
      " OR (sync_queue.version = EXCLUDED.version"
      "     AND EXCLUDED.kind = 'delete')"
      // A later import of the same version takes the contact over, so
      // that the import that streamed it last settles and counts it.
      " OR (sync_queue.version = EXCLUDED.version"
      "     AND EXCLUDED.import_id IS NOT NULL"
      "     AND sync_queue.import_id IS DISTINCT FROM EXCLUDED.import_id)"
      " RETURNING import_id, (SELECT import_id FROM prior)",
      account_id, contact_id, version, kind, payload, source, import_id,
      absl::ToDoubleSeconds(worker_delay));
  // Rare: only when one import takes over from another.
  if (!queued.empty() && !queued[0][1].is_null() &&
      queued[0][0].as<std::string>("") != queued[0][1].as<std::string>()) {
    tx.exec_params(
        "UPDATE imports SET superseded = superseded + 1 WHERE import_id = $1",
        queued[0][1].as<std::string>());
  }
}

}  // namespace

ContactDelivery::ContactDelivery(PgPool::Lease lease,
                                 std::unique_ptr<pqxx::work> tx,
                                 ContactRecord record,
                                 std::optional<PendingChange> pending)
    : lease_(std::move(lease)),
      tx_(std::move(tx)),
      record_(std::move(record)),
      pending_(std::move(pending)) {}

ContactDelivery::~ContactDelivery() {
  if (tx_ == nullptr) return;
  try {
    tx_->abort();
  } catch (const std::exception&) {
    // The connection is gone; PostgreSQL rolled back already.
  }
}

absl::Status ContactDelivery::Commit(const DeliveryResult& result) {
  if (tx_ == nullptr) {
    return absl::FailedPreconditionError("delivery already committed");
  }
  const ContactRecord& r = result.record;
  try {
    tx_->exec_params(
        "UPDATE contacts SET synced_version = $3, person_id = $4,"
        " lead_id = $5, lead_gone = $6, written_person = $7::jsonb,"
        " written_lead = $8::jsonb, owner_matched = $9, owner_note = $10,"
        " failed_version = $11, last_error = $12, last_error_action = $13,"
        " updated_at = now()"
        " WHERE account_id = $1 AND contact_id = $2",
        r.account_id, r.contact_id, r.synced_version, r.person_id, r.lead_id,
        r.lead_gone, r.written_person, r.written_lead, r.owner_matched,
        r.owner_note, r.failed_version, r.last_error, r.last_error_action);
    // A create whose id is now stored is no longer in doubt; a delivered
    // change settles every doubt its kind can leave (a delivered deletion
    // all of them, a delivered update an interrupted deletion's).
    const bool delivered_delete = result.done && pending_.has_value() &&
                                  pending_->kind == ChangeKind::kDelete;
    const bool delivered_update =
        result.done && pending_.has_value() &&
        pending_->kind == ChangeKind::kUpsert &&
        r.failed_version != std::optional<int64_t>(pending_->version);
    tx_->exec_params(
        "DELETE FROM create_intents WHERE account_id = $1"
        " AND contact_id = $2 AND ($5 OR (kind = 'person' AND"
        " $3::bigint IS NOT NULL) OR (kind = 'lead' AND $4::text IS NOT NULL)"
        " OR (kind = 'deletion' AND $6))",
        r.account_id, r.contact_id, r.person_id, r.lead_id, delivered_delete,
        delivered_update);
    if (pending_.has_value()) {
      if (result.done) {
        pqxx::result removed = tx_->exec_params(
            "DELETE FROM sync_queue WHERE account_id = $1"
            " AND contact_id = $2 AND version = $3 RETURNING 1",
            r.account_id, r.contact_id, pending_->version);
        if (pending_->import_id.has_value() &&
            result.import_outcome != ImportOutcome::kNone) {
          static constexpr const char* kColumns[] = {
              "", "created", "updated", "unchanged", "failed", "linked"};
          const std::string column =
              kColumns[static_cast<int>(result.import_outcome)];
          if (!removed.empty()) {
            tx_->exec_params(
                absl::StrCat("UPDATE imports SET ", column, " = ", column,
                             " + 1, ", kTrackPace, " WHERE import_id = $1"),
                *pending_->import_id);
          } else {
            // Gone from the queue meanwhile. A newer change in its place is
            // counted when it is delivered. A disconnect that dropped it
            // while this delivery was under way counted it as dropped, but
            // it reached Pipedrive: count it for what it did.
            tx_->exec_params(
                absl::StrCat("UPDATE imports SET ", column, " = ", column,
                             " + 1, dropped = dropped - 1"
                             " WHERE import_id = $1 AND dropped > 0"
                             " AND cancelled_at IS NOT NULL AND NOT EXISTS"
                             " (SELECT 1 FROM sync_queue WHERE account_id = $2"
                             "  AND contact_id = $3)"),
                *pending_->import_id, r.account_id, r.contact_id);
          }
        }
      } else {
        tx_->exec_params(
            "UPDATE sync_queue SET attempts = attempts + 1,"
            " next_attempt_at = to_timestamp($4::double precision / 1000000),"
            " last_error = $5"
            " WHERE account_id = $1 AND contact_id = $2 AND version = $3",
            r.account_id, r.contact_id, pending_->version,
            absl::ToUnixMicros(result.retry_at), result.retry_error);
      }
    }
    tx_->commit();
    tx_.reset();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    tx_.reset();
    return StatusFromPqxx(e, "store delivery");
  }
}

absl::StatusOr<std::vector<CreateIntent>> ContactDelivery::Intents(
    const std::string& kind) {
  if (tx_ == nullptr) {
    return absl::FailedPreconditionError("delivery already committed");
  }
  try {
    pqxx::result rows = tx_->exec_params(
        "SELECT kind, name, email, phone FROM create_intents"
        " WHERE account_id = $1 AND contact_id = $2 AND kind = $3"
        " ORDER BY id DESC",
        record_.account_id, record_.contact_id, kind);
    std::vector<CreateIntent> intents;
    for (const auto& row : rows) {
      intents.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                         row[2].as<std::string>(), row[3].as<std::string>()});
    }
    return intents;
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "read create intents");
  }
}

absl::StatusOr<std::optional<int64_t>> ContactDelivery::FindOwner(
    const std::string& email_lower) {
  if (tx_ == nullptr) {
    return absl::FailedPreconditionError("delivery already committed");
  }
  try {
    pqxx::result rows = tx_->exec_params(
        "SELECT user_id FROM pipedrive_users"
        " WHERE account_id = $1 AND email_lower = $2",
        record_.account_id, email_lower);
    if (rows.empty()) return std::optional<int64_t>();
    return std::optional<int64_t>(rows[0][0].as<int64_t>());
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "find owner");
  }
}

absl::StatusOr<bool> ContactDelivery::ClaimPerson(int64_t person_id) {
  if (tx_ == nullptr) {
    return absl::FailedPreconditionError("delivery already committed");
  }
  try {
    tx_->exec_params(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))",
        record_.account_id, person_id);
    pqxx::result rows = tx_->exec_params(
        "SELECT 1 FROM contacts WHERE account_id = $1 AND person_id = $2"
        " AND contact_id <> $3 LIMIT 1",
        record_.account_id, person_id, record_.contact_id);
    return rows.empty();
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "claim person");
  }
}

namespace {

// AcceptUpsert's decision and writes, inside the caller's transaction.
AcceptOutcome AcceptUpsertIn(pqxx::work& tx, const std::string& account_id,
                             const std::string& contact_id, int64_t version,
                             const std::string& payload, bool from_import,
                             const std::string& import_id,
                             absl::Duration worker_delay) {
  ContactRecord c = LockContact(tx, account_id, contact_id, version);
  if (c.deleted_version.has_value() && version <= *c.deleted_version) {
    return AcceptOutcome::kStale;
  }
  if (version < c.latest_version) return AcceptOutcome::kStale;
  if (version == c.synced_version) return AcceptOutcome::kAlreadySynced;
  tx.exec_params(
      "UPDATE contacts SET latest_version = $3, updated_at = now()"
      " WHERE account_id = $1 AND contact_id = $2",
      account_id, contact_id, version);
  Enqueue(
      tx, account_id, contact_id, version, "upsert", payload,
      from_import ? "import" : "realtime",
      import_id.empty() ? std::nullopt : std::optional<std::string>(import_id),
      worker_delay);
  return AcceptOutcome::kQueued;
}

}  // namespace

absl::StatusOr<AcceptOutcome> ContactStore::AcceptUpsert(
    const std::string& account_id, const std::string& contact_id,
    int64_t version, const std::string& payload, bool from_import,
    const std::string& import_id, absl::Duration worker_delay) {
  return InTransaction(*pool_, "accept contact",
                       [&](pqxx::work& tx) -> absl::StatusOr<AcceptOutcome> {
                         const AcceptOutcome outcome = AcceptUpsertIn(
                             tx, account_id, contact_id, version, payload,
                             from_import, import_id, worker_delay);
                         tx.commit();
                         return outcome;
                       });
}

absl::StatusOr<std::vector<AcceptOutcome>> ContactStore::AcceptImportBatch(
    const std::string& account_id, const std::string& import_id,
    const std::vector<ImportedContact>& batch) {
  // Rows are locked in contact id order, so that two batches touching the
  // same contacts cannot deadlock; the sort is stable, so repeats of one
  // contact keep their stream order.
  std::vector<size_t> order(batch.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return batch[a].contact_id < batch[b].contact_id;
  });
  return InTransaction(
      *pool_, "accept imported contacts",
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<AcceptOutcome>> {
        // A disconnect drops queued work and cancels the import: the rest
        // of its stream is not taken either. (The share lock waits for a
        // disconnect under way.)
        pqxx::result state = tx.exec_params(
            "SELECT state = 'disconnected' FROM integrations"
            " WHERE account_id = $1 FOR SHARE",
            account_id);
        if (state.empty()) {
          return absl::NotFoundError(absl::StrCat(
              "account ", account_id, " has no Pipedrive integration"));
        }
        if (state[0][0].as<bool>()) {
          return absl::FailedPreconditionError(
              absl::StrCat("account ", account_id,
                           ": the Pipedrive integration was disconnected"));
        }
        std::vector<AcceptOutcome> outcomes(batch.size());
        int64_t queued = 0;
        for (size_t i : order) {
          outcomes[i] = AcceptUpsertIn(tx, account_id, batch[i].contact_id,
                                       batch[i].version, batch[i].payload,
                                       /*from_import=*/true, import_id,
                                       absl::ZeroDuration());
          if (outcomes[i] == AcceptOutcome::kQueued) ++queued;
        }
        // Contacts Pipedrive already holds (or newer ones) need nothing.
        const int64_t total = static_cast<int64_t>(batch.size());
        tx.exec_params(
            "UPDATE imports SET accepted = accepted + $2,"
            " unchanged = unchanged + $3, last_batch_at = now()"
            " WHERE import_id = $1",
            import_id, total, total - queued);
        tx.commit();
        return outcomes;
      });
}

absl::StatusOr<AcceptOutcome> ContactStore::AcceptDelete(
    const std::string& account_id, const std::string& contact_id,
    int64_t version, absl::Duration worker_delay) {
  return InTransaction(
      *pool_, "accept deletion",
      [&](pqxx::work& tx) -> absl::StatusOr<AcceptOutcome> {
        ContactRecord c = LockContact(tx, account_id, contact_id, version);
        if (c.deleted_version.has_value() && version <= *c.deleted_version) {
          return AcceptOutcome::kAlreadySynced;
        }
        // The tombstone holds even when a newer update wins: no update up to
        // this version may apply afterwards.
        tx.exec_params(
            "UPDATE contacts SET deleted_version = $3,"
            " latest_version = greatest(latest_version, $3), updated_at = now()"
            " WHERE account_id = $1 AND contact_id = $2",
            account_id, contact_id, version);
        if (version < c.latest_version) {
          tx.commit();
          return AcceptOutcome::kStale;
        }
        Enqueue(tx, account_id, contact_id, version, "delete", std::nullopt,
                "realtime", std::nullopt, worker_delay);
        tx.commit();
        return AcceptOutcome::kQueued;
      });
}

absl::StatusOr<std::optional<ContactRecord>> ContactStore::Get(
    const std::string& account_id, const std::string& contact_id) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "read contact",
      [&](pqxx::read_transaction& tx)
          -> absl::StatusOr<std::optional<ContactRecord>> {
        pqxx::result rows =
            tx.exec_params(kSelectContact, account_id, contact_id);
        if (rows.empty()) return std::optional<ContactRecord>();
        return std::optional<ContactRecord>(ReadContact(rows[0]));
      });
}

absl::StatusOr<std::optional<PendingChange>> ContactStore::GetPending(
    const std::string& account_id, const std::string& contact_id) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "read pending change",
      [&](pqxx::read_transaction& tx)
          -> absl::StatusOr<std::optional<PendingChange>> {
        pqxx::result rows =
            tx.exec_params(kSelectPending, account_id, contact_id);
        if (rows.empty()) return std::optional<PendingChange>();
        return std::optional<PendingChange>(ReadPending(rows[0]));
      });
}

absl::StatusOr<std::unique_ptr<ContactDelivery>> ContactStore::BeginDelivery(
    const std::string& account_id, const std::string& contact_id,
    bool skip_locked) {
  auto lease = delivery_pool_->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    auto tx = std::make_unique<pqxx::work>(lease->conn());
    pqxx::result rows = tx->exec_params(
        absl::StrCat(kSelectContact,
                     skip_locked ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE"),
        account_id, contact_id);
    if (rows.empty()) return std::unique_ptr<ContactDelivery>();
    ContactRecord record = ReadContact(rows[0]);
    pqxx::result pending =
        tx->exec_params(kSelectPending, account_id, contact_id);
    std::optional<PendingChange> change;
    if (!pending.empty()) change = ReadPending(pending[0]);
    return std::make_unique<ContactDelivery>(
        *std::move(lease), std::move(tx), std::move(record), std::move(change));
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "lock contact");
  }
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ContactStore::DueChanges(int limit) {
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::read_transaction tx(lease->conn());
    pqxx::result rows = tx.exec_params(
        "SELECT q.account_id, q.contact_id FROM sync_queue q"
        " JOIN integrations i ON i.account_id = q.account_id"
        " WHERE i.state = 'connected' AND q.next_attempt_at <= now()"
        " ORDER BY (q.source = 'import'), q.next_attempt_at LIMIT $1",
        limit);
    std::vector<std::pair<std::string, std::string>> due;
    due.reserve(rows.size());
    for (const auto& row : rows) {
      due.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
    }
    return due;
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "list due changes");
  }
}

absl::StatusOr<std::vector<std::string>> ContactStore::DueContactsOf(
    const std::string& account_id, int limit) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "list due contacts",
      [&](pqxx::read_transaction& tx)
          -> absl::StatusOr<std::vector<std::string>> {
        pqxx::result rows = tx.exec_params(
            "SELECT contact_id FROM sync_queue"
            " WHERE account_id = $1 AND next_attempt_at <= now()"
            " ORDER BY (source = 'import'), next_attempt_at, enqueued_at"
            " LIMIT $2",
            account_id, limit);
        std::vector<std::string> due;
        due.reserve(rows.size());
        for (const auto& row : rows) due.push_back(row[0].as<std::string>());
        return due;
      });
}

absl::StatusOr<int64_t> ContactStore::RecordIntent(
    const std::string& account_id, const std::string& contact_id,
    const CreateIntent& intent) {
  return InTransaction(
      *side_pool_, "record intent",
      [&](pqxx::work& tx) -> absl::StatusOr<int64_t> {
        const pqxx::row row = tx.exec_params1(
            "INSERT INTO create_intents (account_id, contact_id, kind, name,"
            " email, phone) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            account_id, contact_id, intent.kind, intent.name, intent.email,
            intent.phone);
        tx.commit();
        return row[0].as<int64_t>();
      });
}

absl::Status ContactStore::ForgetIntent(const std::string& account_id,
                                        const std::string& contact_id,
                                        int64_t intent_id) {
  return InTransaction(*side_pool_, "forget intent",
                       [&](pqxx::work& tx) -> absl::Status {
                         tx.exec_params(
                             "DELETE FROM create_intents WHERE account_id = $1"
                             " AND contact_id = $2 AND id = $3",
                             account_id, contact_id, intent_id);
                         tx.commit();
                         return absl::OkStatus();
                       });
}

absl::Status ContactStore::StartImport(const std::string& import_id,
                                       const std::string& account_id,
                                       bool link_existing) {
  return InTransaction(
      *pool_, "start import", [&](pqxx::work& tx) -> absl::Status {
        tx.exec_params(
            "INSERT INTO imports (import_id, account_id, link_existing)"
            " VALUES ($1, $2, $3)",
            import_id, account_id, link_existing);
        tx.commit();
        return absl::OkStatus();
      });
}

absl::Status ContactStore::FinishImport(const std::string& import_id,
                                        int64_t rejected, bool interrupted) {
  return InTransaction(
      *pool_, "finish import", [&](pqxx::work& tx) -> absl::Status {
        tx.exec_params(
            "UPDATE imports SET rejected = $2, finished_at = now(),"
            " interrupted = $3 WHERE import_id = $1",
            import_id, rejected, interrupted);
        tx.commit();
        return absl::OkStatus();
      });
}

namespace {

// Reads one import of the account, or without `import_id` its most
// recently started one.
std::optional<ImportRecord> ReadImport(
    pqxx::read_transaction& tx, const std::string& account_id,
    const std::optional<std::string>& import_id) {
  pqxx::result rows = tx.exec_params(
      "SELECT import_id, accepted, rejected, created, updated, unchanged,"
      " failed,"
      " (SELECT count(*) FROM sync_queue q WHERE q.import_id = i.import_id"
      "  AND q.account_id = $1),"
      " (extract(epoch FROM started_at) * 1000000)::bigint,"
      " (extract(epoch FROM finished_at) * 1000000)::bigint,"
      " linked, link_existing,"
      " (extract(epoch FROM last_batch_at) * 1000000)::bigint,"
      " interrupted,"
      " (extract(epoch FROM cancelled_at) * 1000000)::bigint, dropped,"
      " settle_interval_s, superseded"
      " FROM imports i WHERE account_id = $1"
      " AND ($2::text IS NULL OR import_id = $2)"
      " ORDER BY started_at DESC, import_id DESC LIMIT 1",
      account_id, import_id);
  if (rows.empty()) return std::nullopt;
  const pqxx::row& row = rows[0];
  ImportRecord r;
  r.import_id = row[0].as<std::string>();
  r.account_id = account_id;
  r.accepted = row[1].as<int64_t>();
  r.rejected = row[2].as<int64_t>();
  r.created = row[3].as<int64_t>();
  r.updated = row[4].as<int64_t>();
  r.unchanged = row[5].as<int64_t>();
  r.failed = row[6].as<int64_t>();
  r.pending = row[7].as<int64_t>();
  r.started_at = absl::FromUnixMicros(row[8].as<int64_t>());
  if (!row[9].is_null()) {
    r.finished_at = absl::FromUnixMicros(row[9].as<int64_t>());
  }
  r.linked = row[10].as<int64_t>();
  r.link_existing = row[11].as<bool>();
  r.last_batch_at = absl::FromUnixMicros(row[12].as<int64_t>());
  r.interrupted = row[13].as<bool>();
  if (!row[14].is_null()) {
    r.cancelled_at = absl::FromUnixMicros(row[14].as<int64_t>());
  }
  r.dropped = row[15].as<int64_t>();
  if (!row[16].is_null()) {
    r.settle_interval = absl::Seconds(row[16].as<double>());
  }
  r.superseded = row[17].as<int64_t>();
  return r;
}

}  // namespace

absl::StatusOr<ImportRecord> ContactStore::GetImport(
    const std::string& account_id, const std::string& import_id) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "read import",
      [&](pqxx::read_transaction& tx) -> absl::StatusOr<ImportRecord> {
        std::optional<ImportRecord> found =
            ReadImport(tx, account_id, import_id);
        if (!found.has_value()) {
          return absl::NotFoundError(absl::StrCat(
              "account ", account_id, " has no import ", import_id));
        }
        return *std::move(found);
      });
}

absl::StatusOr<std::optional<ImportRecord>> ContactStore::LatestImport(
    const std::string& account_id) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "read latest import",
      [&](pqxx::read_transaction& tx)
          -> absl::StatusOr<std::optional<ImportRecord>> {
        return ReadImport(tx, account_id, std::nullopt);
      });
}

}  // namespace wave::pipedrive
