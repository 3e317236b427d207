#ifndef WAVE_SERVER_INTEGRATION_MANAGER_H_
#define WAVE_SERVER_INTEGRATION_MANAGER_H_

#include "client/pipedrive_client.h"
#include "server/oauth_state.h"
#include "storage/integration_store.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {

// The company's active users with an email, as (lower-cased email, id),
// for owner matching.
std::vector<std::pair<std::string, int64_t>> UsersForOwnerMatching(
    const std::vector<User>& users);

struct IntegrationView {
  IntegrationRecord record;
  IntegrationCounts counts;
};

struct AuthorizationUrl {
  std::string url;
  std::string state;
  absl::Time expires_at;
};

// Connects Wave accounts to Pipedrive companies and disconnects them.
//
// Errors: INVALID_ARGUMENT for a bad or expired state or a code Pipedrive
// refuses; NOT_FOUND for an unknown account; UNAVAILABLE when Pipedrive or
// the database cannot be reached (nothing is changed then); INTERNAL when
// Pipedrive rejects the app's own credentials. Thread-safe.
class IntegrationManager {
 public:
  struct Options {
    std::string oauth_base_url = "https://oauth.pipedrive.com";
    std::string client_id;
    // Wave's page Pipedrive redirects back to; must match the app's
    // registered callback exactly.
    std::string redirect_uri;
  };

  IntegrationManager(IntegrationStore* store, PipedriveClient* pipedrive,
                     const OAuthStateSigner* signer, Options options)
      : store_(store),
        pipedrive_(pipedrive),
        signer_(signer),
        options_(std::move(options)) {}

  AuthorizationUrl BuildAuthorizationUrl(const std::string& account_id) const;

  // Exchanges the code and stores the connection. Leads carry
  // `channel_option_id` in `channel`; without one, the company's "Wave
  // Connect" Source channel option is looked up, and when that fails (no
  // such option, no deal scope, any Pipedrive error) leads carry no
  // channel and the connect still succeeds.
  absl::StatusOr<IntegrationView> Connect(
      const std::string& account_id, const std::string& code,
      const std::string& state, bool auto_sync,
      std::optional<int64_t> channel_option_id);

  absl::StatusOr<IntegrationView> Disconnect(const std::string& account_id,
                                             bool uninstalled_in_pipedrive);

  absl::StatusOr<IntegrationView> Get(const std::string& account_id);

 private:
  IntegrationStore* store_;
  PipedriveClient* pipedrive_;
  const OAuthStateSigner* signer_;
  Options options_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_INTEGRATION_MANAGER_H_
