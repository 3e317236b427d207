#include "storage/lease_store.h"

#include "storage/pg_status.h"
#include "storage/pg_transaction.h"

#include "pqxx/pqxx"

namespace wave::pipedrive {
namespace {

// Takes the lease when it is free or already the caller's.
constexpr char kUpsertLease[] =
    " ON CONFLICT (account_id) DO UPDATE SET owner = EXCLUDED.owner,"
    " expires_at = EXCLUDED.expires_at"
    " WHERE account_leases.expires_at <= now()"
    " OR account_leases.owner = EXCLUDED.owner"
    " RETURNING account_id";

}  // namespace

absl::StatusOr<std::vector<std::string>> LeaseStore::ClaimDueAccounts(
    const std::string& owner, int limit, absl::Duration ttl) {
  return InTransaction(
      *pool_, "claim accounts",
      [&](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::result rows = tx.exec_params(
            std::string(
                "WITH due AS ("
                " SELECT q.account_id, min(q.next_attempt_at) AS first_due"
                " FROM sync_queue q JOIN integrations i USING (account_id)"
                " WHERE q.next_attempt_at <= now()"
                " AND (i.state = 'connected' OR (i.state = 'paused'"
                "      AND coalesce(i.paused_until, now()) <= now()))"
                " AND NOT EXISTS (SELECT 1 FROM account_leases l"
                "   WHERE l.account_id = q.account_id AND l.expires_at > now()"
                "   AND l.owner <> $1)"
                " GROUP BY q.account_id ORDER BY first_due LIMIT $2)"
                " INSERT INTO account_leases (account_id, owner, expires_at)"
                " SELECT account_id, $1,"
                " now() + make_interval(secs => $3) FROM due") +
                kUpsertLease,
            owner, limit, absl::ToDoubleSeconds(ttl));
        tx.commit();
        std::vector<std::string> accounts;
        accounts.reserve(rows.size());
        for (const auto& row : rows)
          accounts.push_back(row[0].as<std::string>());
        return accounts;
      });
}

absl::StatusOr<bool> LeaseStore::Claim(const std::string& account_id,
                                       const std::string& owner,
                                       absl::Duration ttl) {
  return InTransaction(
      *pool_, "claim account", [&](pqxx::work& tx) -> absl::StatusOr<bool> {
        pqxx::result rows = tx.exec_params(
            std::string("INSERT INTO account_leases (account_id, owner,"
                        " expires_at) VALUES ($1, $2,"
                        " now() + make_interval(secs => $3))") +
                kUpsertLease,
            account_id, owner, absl::ToDoubleSeconds(ttl));
        tx.commit();
        return !rows.empty();
      });
}

absl::StatusOr<bool> LeaseStore::Renew(const std::string& account_id,
                                       const std::string& owner,
                                       absl::Duration ttl) {
  return InTransaction(
      *pool_, "renew lease", [&](pqxx::work& tx) -> absl::StatusOr<bool> {
        pqxx::result rows = tx.exec_params(
            "UPDATE account_leases"
            " SET expires_at = now() + make_interval(secs => $3)"
            " WHERE account_id = $1 AND owner = $2 RETURNING account_id",
            account_id, owner, absl::ToDoubleSeconds(ttl));
        tx.commit();
        return !rows.empty();
      });
}

absl::Status LeaseStore::Release(const std::string& account_id,
                                 const std::string& owner) {
  return InTransaction(
      *pool_, "release lease", [&](pqxx::work& tx) -> absl::Status {
        tx.exec_params(
            "DELETE FROM account_leases WHERE account_id = $1 AND owner = $2",
            account_id, owner);
        tx.commit();
        return absl::OkStatus();
      });
}

}  // namespace wave::pipedrive
