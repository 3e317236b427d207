#ifndef WAVE_SERVER_TOKEN_MANAGER_H_
#define WAVE_SERVER_TOKEN_MANAGER_H_

#include "client/pipedrive_client.h"
#include "storage/integration_store.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <functional>
#include <string>

namespace wave::pipedrive {

// Provides valid Pipedrive credentials for an account, refreshing the access
// token ahead of expiry and after Pipedrive rejects it.
//
// A refresh happens under the account's row lock, so concurrent callers in
// any number of processes refresh once: the others find the new token. A
// refresh token that Pipedrive rejects moves the integration to
// NEEDS_RECONNECT and yields FAILED_PRECONDITION. Thread-safe.
class TokenManager {
 public:
  // `store` should use a connection pool of its own: a refresh may be needed
  // while the caller holds a connection of the main pool.
  TokenManager(IntegrationStore* store, PipedriveClient* client,
               std::function<absl::Time()> clock = absl::Now,
               absl::Duration refresh_ahead = absl::Minutes(5))
      : store_(store),
        client_(client),
        clock_(std::move(clock)),
        refresh_ahead_(refresh_ahead) {}

  // Credentials from `integration`, refreshed first when they expire soon.
  absl::StatusOr<Credentials> Get(const IntegrationRecord& integration);

  // Called after Pipedrive answered 401 to `rejected`: refreshes, unless
  // another caller already replaced that token.
  absl::StatusOr<Credentials> Refresh(const std::string& account_id,
                                      const Credentials& rejected);

  // Runs `call`, and once more with refreshed credentials when Pipedrive
  // answers UNAUTHENTICATED.
  template <typename T>
  absl::StatusOr<T> WithRetryOnUnauthenticated(
      const std::string& account_id, Credentials& creds,
      const std::function<absl::StatusOr<T>(const Credentials&)>& call);
  absl::Status WithRetryOnUnauthenticated(
      const std::string& account_id, Credentials& creds,
      const std::function<absl::Status(const Credentials&)>& call);

 private:
  absl::StatusOr<Credentials> RefreshIf(
      const std::string& account_id,
      const std::function<bool(const IntegrationRecord&)>& needed);

  IntegrationStore* store_;
  PipedriveClient* client_;
  std::function<absl::Time()> clock_;
  absl::Duration refresh_ahead_;
};

template <typename T>
absl::StatusOr<T> TokenManager::WithRetryOnUnauthenticated(
    const std::string& account_id, Credentials& creds,
    const std::function<absl::StatusOr<T>(const Credentials&)>& call) {
  absl::StatusOr<T> result = call(creds);
  if (result.ok() || !absl::IsUnauthenticated(result.status())) return result;
  auto refreshed = Refresh(account_id, creds);
  if (!refreshed.ok()) return refreshed.status();
  const bool background = creds.background;
  creds = *std::move(refreshed);
  creds.background = background;
  return call(creds);
}

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_TOKEN_MANAGER_H_
