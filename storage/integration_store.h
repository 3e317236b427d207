#ifndef WAVE_STORAGE_INTEGRATION_STORE_H_
#define WAVE_STORAGE_INTEGRATION_STORE_H_

#include "storage/pg_pool.h"
#include "storage/token_cipher.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace wave::pipedrive {

enum class IntegrationState {
  kConnected,
  kNeedsReconnect,
  kDisconnected,
  kPaused,
};

std::string IntegrationStateName(IntegrationState state);

// One Wave account's integration with one Pipedrive company. Tokens are
// plaintext here and encrypted only in the database.
struct IntegrationRecord {
  std::string account_id;
  IntegrationState state = IntegrationState::kDisconnected;
  std::string paused_reason;
  std::optional<absl::Time> paused_until;
  int64_t company_id = 0;
  std::string company_name;
  std::string company_domain;
  int64_t pipedrive_user_id = 0;
  std::string api_domain;
  std::string access_token;
  std::string refresh_token;
  absl::Time access_expires_at = absl::InfinitePast();
  int64_t token_generation = 0;
  bool auto_sync = false;
  std::optional<int64_t> channel_option_id;
  std::optional<absl::Time> connected_at;
  std::optional<absl::Time> last_success_at;
  std::string last_error;
};

// What ConnectIntegration learned from Pipedrive.
struct NewConnection {
  std::string account_id;
  int64_t company_id = 0;
  std::string company_name;
  std::string company_domain;
  int64_t pipedrive_user_id = 0;
  std::string api_domain;
  std::string access_token;
  std::string refresh_token;
  absl::Time access_expires_at;
  bool auto_sync = false;
  std::optional<int64_t> channel_option_id;
  // Active users of the company: (lower-cased email, user id).
  std::vector<std::pair<std::string, int64_t>> users;
};

struct IntegrationCounts {
  int64_t synced = 0;
  int64_t queued = 0;
  int64_t failed = 0;
  int32_t pipedrive_users = 0;
};

// Reads and writes integrations and their Pipedrive users in PostgreSQL.
//
// Every method is scoped to one account. Errors: NOT_FOUND for an unknown
// account, UNAVAILABLE when the database is unreachable, DATA_LOSS or
// FAILED_PRECONDITION when a stored token cannot be decrypted. Thread-safe.
class IntegrationStore {
 public:
  IntegrationStore(PgPool* pool, const TokenCipher* cipher)
      : pool_(pool), cipher_(cipher) {}

  absl::StatusOr<IntegrationRecord> Get(const std::string& account_id);

  // Stores a (re)connection. Reconnecting to the same Pipedrive company keeps
  // the account's contact mappings; another company starts fresh, which the
  // result reports as true.
  absl::StatusOr<bool> SaveConnection(const NewConnection& connection);

  // Locks the account's row, hands the record to `update`, and stores the
  // token fields, state and api_domain it leaves behind (bumping
  // token_generation when the tokens changed). `update` may call Pipedrive:
  // the lock makes one process at a time refresh an account's token. When
  // `update` fails nothing is written, except a state change it made.
  absl::StatusOr<IntegrationRecord> UpdateLocked(
      const std::string& account_id,
      const std::function<absl::Status(IntegrationRecord&)>& update);

  // Forgets the tokens and users, drops queued work, marks it disconnected.
  absl::StatusOr<IntegrationRecord> MarkDisconnected(
      const std::string& account_id);

  // Pauses delivery for the account until `until`, saying why. Work stays
  // queued.
  absl::Status Pause(const std::string& account_id, const std::string& reason,
                     absl::Time until);

  // Notes a successful delivery; a paused account is connected again.
  absl::Status RecordSuccess(const std::string& account_id);
  absl::Status RecordError(const std::string& account_id,
                           const std::string& error);

  // Takes the turn to reload the account's users when they were last loaded
  // at least `min_age` ago; false when another caller did so recently.
  absl::StatusOr<bool> ClaimUsersReload(const std::string& account_id,
                                        absl::Duration min_age);
  // Replaces the account's users: (lower-cased email, user id).
  absl::Status ReplaceUsers(
      const std::string& account_id,
      const std::vector<std::pair<std::string, int64_t>>& users);

  // The active Pipedrive user with that (lower-cased) email, if any.
  absl::StatusOr<std::optional<int64_t>> FindUserByEmail(
      const std::string& account_id, const std::string& email_lower);

  absl::StatusOr<IntegrationCounts> Counts(const std::string& account_id);

 private:
  PgPool* pool_;
  const TokenCipher* cipher_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_INTEGRATION_STORE_H_
