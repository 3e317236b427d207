#include "storage/integration_store.h"

#include "storage/pg_status.h"
#include "storage/pg_transaction.h"

#include "absl/strings/str_cat.h"
#include "pqxx/transaction"

#include <utility>

namespace wave::pipedrive {
namespace {

constexpr char kSelectIntegration[] =
    "SELECT account_id, state, paused_reason, company_id, company_name,"
    " company_domain, pipedrive_user_id, api_domain, access_token_enc,"
    " refresh_token_enc,"
    " (extract(epoch FROM access_expires_at) * 1000000)::bigint,"
    " token_generation, auto_sync, channel_option_id,"
    " (extract(epoch FROM connected_at) * 1000000)::bigint,"
    " (extract(epoch FROM last_success_at) * 1000000)::bigint,"
    " last_error,"
    " (extract(epoch FROM paused_until) * 1000000)::bigint"
    " FROM integrations WHERE account_id = $1";

IntegrationState StateFromName(const std::string& name) {
  if (name == "connected") return IntegrationState::kConnected;
  if (name == "needs_reconnect") return IntegrationState::kNeedsReconnect;
  if (name == "paused") return IntegrationState::kPaused;
  return IntegrationState::kDisconnected;
}

std::optional<absl::Time> TimeFromMicros(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(f.as<int64_t>());
}

std::string AccessAad(const std::string& account_id) {
  return absl::StrCat("integration:", account_id, ":access_token");
}

std::string RefreshAad(const std::string& account_id) {
  return absl::StrCat("integration:", account_id, ":refresh_token");
}

absl::Status NotFound(const std::string& account_id) {
  return absl::NotFoundError(
      absl::StrCat("account ", account_id, " has no Pipedrive integration"));
}

}  // namespace

std::string IntegrationStateName(IntegrationState state) {
  switch (state) {
    case IntegrationState::kConnected:
      return "connected";
    case IntegrationState::kNeedsReconnect:
      return "needs_reconnect";
    case IntegrationState::kPaused:
      return "paused";
    case IntegrationState::kDisconnected:
      return "disconnected";
  }
  return "disconnected";
}

namespace {

absl::StatusOr<IntegrationRecord> ReadRecord(const pqxx::row& row,
                                             const TokenCipher& cipher) {
  IntegrationRecord r;
  r.account_id = row[0].as<std::string>();
  r.state = StateFromName(row[1].as<std::string>());
  r.paused_reason = row[2].as<std::string>();
  r.company_id = row[3].as<int64_t>(0);
  r.company_name = row[4].as<std::string>();
  r.company_domain = row[5].as<std::string>();
  r.pipedrive_user_id = row[6].as<int64_t>(0);
  r.api_domain = row[7].as<std::string>();
  if (!row[8].is_null()) {
    auto token =
        cipher.Decrypt(row[8].as<std::string>(), AccessAad(r.account_id));
    if (!token.ok()) return token.status();
    r.access_token = *std::move(token);
  }
  if (!row[9].is_null()) {
    auto token =
        cipher.Decrypt(row[9].as<std::string>(), RefreshAad(r.account_id));
    if (!token.ok()) return token.status();
    r.refresh_token = *std::move(token);
  }
  r.access_expires_at = TimeFromMicros(row[10]).value_or(absl::InfinitePast());
  r.token_generation = row[11].as<int64_t>();
  r.auto_sync = row[12].as<bool>();
  if (!row[13].is_null()) r.channel_option_id = row[13].as<int64_t>();
  r.connected_at = TimeFromMicros(row[14]);
  r.last_success_at = TimeFromMicros(row[15]);
  r.last_error = row[16].as<std::string>();
  r.paused_until = TimeFromMicros(row[17]);
  return r;
}

// Encrypts a token for its column; an empty token is stored as NULL.
absl::StatusOr<std::optional<std::string>> Seal(const TokenCipher& cipher,
                                                const std::string& token,
                                                const std::string& aad) {
  if (token.empty()) return std::optional<std::string>();
  auto sealed = cipher.Encrypt(token, aad);
  if (!sealed.ok()) return sealed.status();
  return std::optional<std::string>(*std::move(sealed));
}

}  // namespace

absl::StatusOr<IntegrationRecord> IntegrationStore::Get(
    const std::string& account_id) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "read integration",
      [&](pqxx::read_transaction& tx) -> absl::StatusOr<IntegrationRecord> {
        pqxx::result rows = tx.exec_params(kSelectIntegration, account_id);
        if (rows.empty()) return NotFound(account_id);
        return ReadRecord(rows[0], *cipher_);
      });
}

absl::StatusOr<bool> IntegrationStore::SaveConnection(const NewConnection& c) {
  auto access = Seal(*cipher_, c.access_token, AccessAad(c.account_id));
  if (!access.ok()) return access.status();
  auto refresh = Seal(*cipher_, c.refresh_token, RefreshAad(c.account_id));
  if (!refresh.ok()) return refresh.status();
  auto lease = pool_->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(lease->conn());
    pqxx::result previous = tx.exec_params(
        "SELECT company_id FROM integrations WHERE account_id = $1 "
        "FOR UPDATE",
        c.account_id);
    const bool company_changed = !previous.empty() &&
                                 !previous[0][0].is_null() &&
                                 previous[0][0].as<int64_t>() != c.company_id;
    tx.exec_params(
        "INSERT INTO integrations (account_id, state, paused_reason,"
        " company_id, company_name, company_domain, pipedrive_user_id,"
        " api_domain, access_token_enc, refresh_token_enc,"
        " access_expires_at, token_generation, auto_sync, channel_option_id,"
        " connected_at, disconnected_at, last_error, updated_at)"
        " VALUES ($1, 'connected', '', $2, $3, $4, $5, $6, $7, $8,"
        " to_timestamp($9::double precision / 1000000), 1, $10, $11, now(),"
        " NULL, '', now())"
        " ON CONFLICT (account_id) DO UPDATE SET state = 'connected',"
        " paused_reason = '', company_id = EXCLUDED.company_id,"
        " company_name = EXCLUDED.company_name,"
        " company_domain = EXCLUDED.company_domain,"
        " pipedrive_user_id = EXCLUDED.pipedrive_user_id,"
        " api_domain = EXCLUDED.api_domain,"
        " access_token_enc = EXCLUDED.access_token_enc,"
        " refresh_token_enc = EXCLUDED.refresh_token_enc,"
        " access_expires_at = EXCLUDED.access_expires_at,"
        " token_generation = integrations.token_generation + 1,"
        " auto_sync = EXCLUDED.auto_sync, paused_until = NULL,"
        " channel_option_id = EXCLUDED.channel_option_id,"
        " connected_at = now(),"
        " disconnected_at = NULL, last_error = '', updated_at = now()",
        c.account_id, c.company_id, c.company_name, c.company_domain,
        c.pipedrive_user_id, c.api_domain, *access, *refresh,
        absl::ToUnixMicros(c.access_expires_at), c.auto_sync,
        c.channel_option_id);
    if (company_changed) {
      // Records in the old company mean nothing in the new one: forget the
      // mappings but keep versions and deletions, so pending changes go to
      // the new company and a late old update still cannot revive a
      // deleted contact.
      tx.exec_params(
          "UPDATE contacts SET synced_version = 0, person_id = NULL,"
          " lead_id = NULL, lead_gone = false, written_person = NULL,"
          " written_lead = NULL, owner_matched = false, owner_note = '',"
          " failed_version = NULL, last_error = '', last_error_action = '',"
          " updated_at = now() WHERE account_id = $1",
          c.account_id);
      tx.exec_params(
          "UPDATE integrations SET last_success_at = NULL"
          " WHERE account_id = $1",
          c.account_id);
    }
    // Work kept while the integration needed a reconnect resumes now.
    tx.exec_params(
        "UPDATE sync_queue SET next_attempt_at = now(), attempts = 0"
        " WHERE account_id = $1",
        c.account_id);
    tx.exec_params("DELETE FROM pipedrive_users WHERE account_id = $1",
                   c.account_id);
    for (const auto& [email, id] : c.users) {
      tx.exec_params(
          "INSERT INTO pipedrive_users (account_id, email_lower, user_id)"
          " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          c.account_id, email, id);
    }
    tx.exec_params(
        "UPDATE integrations SET users_loaded_at = now()"
        " WHERE account_id = $1",
        c.account_id);
    tx.commit();
    return company_changed;
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "save connection");
  }
}

absl::StatusOr<IntegrationRecord> IntegrationStore::UpdateLocked(
    const std::string& account_id,
    const std::function<absl::Status(IntegrationRecord&)>& update) {
  return InTransaction(
      *pool_, "update integration",
      [&](pqxx::work& tx) -> absl::StatusOr<IntegrationRecord> {
        pqxx::result rows = tx.exec_params(
            absl::StrCat(kSelectIntegration, " FOR UPDATE"), account_id);
        if (rows.empty()) return NotFound(account_id);
        auto before = ReadRecord(rows[0], *cipher_);
        if (!before.ok()) return before.status();
        IntegrationRecord after = *before;
        absl::Status updated = update(after);
        if (!updated.ok()) {
          if (after.state != before->state) {
            tx.exec_params(
                "UPDATE integrations SET state = $2, paused_reason = $3,"
                " last_error = $4, updated_at = now() WHERE account_id = $1",
                account_id, IntegrationStateName(after.state),
                after.paused_reason, std::string(updated.message()));
            tx.commit();
          }
          return updated;
        }
        const bool tokens_changed =
            after.access_token != before->access_token ||
            after.refresh_token != before->refresh_token;
        auto access = Seal(*cipher_, after.access_token, AccessAad(account_id));
        if (!access.ok()) return access.status();
        auto refresh =
            Seal(*cipher_, after.refresh_token, RefreshAad(account_id));
        if (!refresh.ok()) return refresh.status();
        if (tokens_changed) ++after.token_generation;
        tx.exec_params(
            "UPDATE integrations SET state = $2, paused_reason = $3,"
            " api_domain = $4, access_token_enc = $5, refresh_token_enc = $6,"
            " access_expires_at = to_timestamp($7::double precision / 1000000),"
            " token_generation = $8, updated_at = now() WHERE account_id = $1",
            account_id, IntegrationStateName(after.state), after.paused_reason,
            after.api_domain, *access, *refresh,
            absl::ToUnixMicros(after.access_expires_at),
            after.token_generation);
        tx.commit();
        return after;
      });
}

absl::StatusOr<IntegrationRecord> IntegrationStore::MarkDisconnected(
    const std::string& account_id) {
  return InTransaction(
      *pool_, "disconnect integration",
      [&](pqxx::work& tx) -> absl::StatusOr<IntegrationRecord> {
        pqxx::result rows = tx.exec_params(
            "UPDATE integrations SET state = 'disconnected', paused_reason = "
            "'',"
            " access_token_enc = NULL, refresh_token_enc = NULL,"
            " access_expires_at = NULL,"
            " token_generation = token_generation + 1,"
            " disconnected_at = now(), updated_at = now()"
            " WHERE account_id = $1 RETURNING account_id",
            account_id);
        if (rows.empty()) return NotFound(account_id);
        // Queued work is dropped, and imports not yet through are cancelled
        // with the count of their contacts that will not be delivered. A
        // delivery already under way still lands; it corrects that count
        // when it commits (ContactDelivery::Commit).
        tx.exec_params(
            "WITH dropped AS (DELETE FROM sync_queue WHERE account_id = $1"
            "  RETURNING import_id)"
            " UPDATE imports i SET cancelled_at = now(),"
            " dropped = (SELECT count(*) FROM dropped d"
            "  WHERE d.import_id = i.import_id)"
            " WHERE i.account_id = $1 AND i.cancelled_at IS NULL"
            " AND (i.finished_at IS NULL OR i.import_id IN"
            "  (SELECT import_id FROM dropped))",
            account_id);
        tx.exec_params("DELETE FROM pipedrive_users WHERE account_id = $1",
                       account_id);
        pqxx::result record = tx.exec_params(kSelectIntegration, account_id);
        auto result = ReadRecord(record[0], *cipher_);
        tx.commit();
        return result;
      });
}

absl::Status IntegrationStore::RecordSuccess(const std::string& account_id) {
  return InTransaction(
      *pool_, "record success", [&](pqxx::work& tx) -> absl::Status {
        pqxx::result updated = tx.exec_params(
            "UPDATE integrations SET last_success_at = now(),"
            " state = CASE WHEN state = 'paused' THEN 'connected' ELSE state "
            "END,"
            " paused_reason = CASE WHEN state = 'paused' THEN ''"
            "   ELSE paused_reason END,"
            " paused_until = CASE WHEN state = 'paused' THEN NULL"
            "   ELSE paused_until END"
            " WHERE account_id = $1 RETURNING account_id",
            account_id);
        if (updated.empty()) return NotFound(account_id);
        tx.commit();
        return absl::OkStatus();
      });
}

absl::Status IntegrationStore::Pause(const std::string& account_id,
                                     const std::string& reason,
                                     absl::Time until) {
  return InTransaction(
      *pool_, "pause integration", [&](pqxx::work& tx) -> absl::Status {
        // Only a working integration is paused: a disconnect or a needed
        // reconnect says more.
        pqxx::result updated = tx.exec_params(
            "UPDATE integrations SET state = 'paused', paused_reason = $2,"
            " paused_until = to_timestamp($3::double precision / 1000000),"
            " updated_at = now()"
            " WHERE account_id = $1 AND state IN ('connected', 'paused')"
            " RETURNING account_id",
            account_id, reason, absl::ToUnixMicros(until));
        tx.commit();
        return absl::OkStatus();
      });
}

absl::Status IntegrationStore::RecordError(const std::string& account_id,
                                           const std::string& error) {
  return InTransaction(
      *pool_, "record error", [&](pqxx::work& tx) -> absl::Status {
        pqxx::result updated = tx.exec_params(
            "UPDATE integrations SET last_error = $2 WHERE account_id = $1"
            " RETURNING account_id",
            account_id, error);
        if (updated.empty()) return NotFound(account_id);
        tx.commit();
        return absl::OkStatus();
      });
}

absl::StatusOr<bool> IntegrationStore::ClaimUsersReload(
    const std::string& account_id, absl::Duration min_age) {
  return InTransaction(
      *pool_, "claim users reload",
      [&](pqxx::work& tx) -> absl::StatusOr<bool> {
        pqxx::result rows = tx.exec_params(
            "UPDATE integrations SET users_loaded_at = now()"
            " WHERE account_id = $1 AND (users_loaded_at IS NULL"
            " OR users_loaded_at <= now() - make_interval(secs => $2))"
            " RETURNING account_id",
            account_id, absl::ToDoubleSeconds(min_age));
        tx.commit();
        return !rows.empty();
      });
}

absl::Status IntegrationStore::ReplaceUsers(
    const std::string& account_id,
    const std::vector<std::pair<std::string, int64_t>>& users) {
  return InTransaction(
      *pool_, "replace users", [&](pqxx::work& tx) -> absl::Status {
        tx.exec_params("DELETE FROM pipedrive_users WHERE account_id = $1",
                       account_id);
        for (const auto& [email, id] : users) {
          tx.exec_params(
              "INSERT INTO pipedrive_users (account_id, email_lower, user_id)"
              " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
              account_id, email, id);
        }
        tx.commit();
        return absl::OkStatus();
      });
}

absl::StatusOr<std::optional<int64_t>> IntegrationStore::FindUserByEmail(
    const std::string& account_id, const std::string& email_lower) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "find user",
      [&](pqxx::read_transaction& tx)
          -> absl::StatusOr<std::optional<int64_t>> {
        pqxx::result rows = tx.exec_params(
            "SELECT user_id FROM pipedrive_users"
            " WHERE account_id = $1 AND email_lower = $2",
            account_id, email_lower);
        if (rows.empty()) return std::optional<int64_t>();
        return std::optional<int64_t>(rows[0][0].as<int64_t>());
      });
}

absl::StatusOr<IntegrationCounts> IntegrationStore::Counts(
    const std::string& account_id) {
  return InTransaction<pqxx::read_transaction>(
      *pool_, "count contacts",
      [&](pqxx::read_transaction& tx) -> absl::StatusOr<IntegrationCounts> {
        pqxx::row row = tx.exec_params1(
            "SELECT"
            " (SELECT count(*) FROM contacts c WHERE c.account_id = $1"
            "   AND c.synced_version = c.latest_version"
            "   AND c.deleted_version IS NULL),"
            " (SELECT count(*) FROM sync_queue q WHERE q.account_id = $1),"
            " (SELECT count(*) FROM contacts c WHERE c.account_id = $1"
            "   AND c.failed_version = c.latest_version),"
            " (SELECT count(*) FROM pipedrive_users u WHERE u.account_id = $1)",
            account_id);
        IntegrationCounts counts;
        counts.synced = row[0].as<int64_t>();
        counts.queued = row[1].as<int64_t>();
        counts.failed = row[2].as<int64_t>();
        counts.pipedrive_users = row[3].as<int32_t>();
        return counts;
      });
}

}  // namespace wave::pipedrive
