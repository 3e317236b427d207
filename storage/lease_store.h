#ifndef WAVE_STORAGE_LEASE_STORE_H_
#define WAVE_STORAGE_LEASE_STORE_H_

#include "storage/pg_pool.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <string>
#include <vector>

namespace wave::pipedrive {

// Hands out accounts to delivering processes, one process per account at a
// time, through expiring leases in PostgreSQL.
//
// A holder renews its lease while it works; one that stops renewing (it
// died, or lost the database) loses the account when the lease expires,
// and another process claims it. Errors are the storage layer's
// (UNAVAILABLE, INTERNAL). Thread-safe.
class LeaseStore {
 public:
  explicit LeaseStore(PgPool* pool) : pool_(pool) {}

  // Leases to `owner` up to `limit` accounts that have due work and are
  // free (no lease, or an expired one): connected accounts, and paused ones
  // whose pause has run out.
  absl::StatusOr<std::vector<std::string>> ClaimDueAccounts(
      const std::string& owner, int limit, absl::Duration ttl);

  // Leases one account to `owner` if it is free or already `owner`'s.
  absl::StatusOr<bool> Claim(const std::string& account_id,
                             const std::string& owner, absl::Duration ttl);

  // Extends `owner`'s lease; false when it no longer holds it.
  absl::StatusOr<bool> Renew(const std::string& account_id,
                             const std::string& owner, absl::Duration ttl);

  absl::Status Release(const std::string& account_id, const std::string& owner);

 private:
  PgPool* pool_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_LEASE_STORE_H_
