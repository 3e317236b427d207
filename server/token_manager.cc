#include "server/token_manager.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include <utility>

namespace wave::pipedrive {
namespace {

Credentials CredentialsOf(const IntegrationRecord& r) {
  Credentials c{r.access_token, r.api_domain};
  // Pipedrive paces per user: the window outlives a token refresh.
  c.rate_key = absl::StrCat(r.company_id, ":", r.pipedrive_user_id);
  return c;
}

absl::Status NotUsable(const IntegrationRecord& r) {
  switch (r.state) {
    case IntegrationState::kDisconnected:
      return absl::FailedPreconditionError(
          "the Pipedrive integration is disconnected; connect it again");
    case IntegrationState::kNeedsReconnect:
      return absl::FailedPreconditionError(
          "the Pipedrive integration needs a reconnect: Pipedrive no longer "
          "accepts its refresh token");
    default:
      break;
  }
  if (r.refresh_token.empty()) {
    return absl::FailedPreconditionError(
        "the Pipedrive integration holds no tokens; connect it again");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Credentials> TokenManager::Get(
    const IntegrationRecord& integration) {
  if (absl::Status usable = NotUsable(integration); !usable.ok()) {
    return usable;
  }
  const absl::Time deadline = clock_() + refresh_ahead_;
  if (integration.access_expires_at > deadline) {
    return CredentialsOf(integration);
  }
  return RefreshIf(integration.account_id,
                   [deadline](const IntegrationRecord& current) {
                     return current.access_expires_at <= deadline;
                   });
}

absl::StatusOr<Credentials> TokenManager::Refresh(const std::string& account_id,
                                                  const Credentials& rejected) {
  return RefreshIf(account_id, [&rejected](const IntegrationRecord& current) {
    return current.access_token == rejected.access_token;
  });
}

absl::Status TokenManager::WithRetryOnUnauthenticated(
    const std::string& account_id, Credentials& creds,
    const std::function<absl::Status(const Credentials&)>& call) {
  absl::Status result = call(creds);
  if (!absl::IsUnauthenticated(result)) return result;
  auto refreshed = Refresh(account_id, creds);
  if (!refreshed.ok()) return refreshed.status();
  const bool background = creds.background;
  creds = *std::move(refreshed);
  creds.background = background;
  return call(creds);
}

absl::StatusOr<Credentials> TokenManager::RefreshIf(
    const std::string& account_id,
    const std::function<bool(const IntegrationRecord&)>& needed) {
  auto updated = store_->UpdateLocked(
      account_id, [&](IntegrationRecord& record) -> absl::Status {
        if (absl::Status usable = NotUsable(record); !usable.ok()) {
          return usable;
        }
        // Another caller, maybe in another process, refreshed already.
        if (!needed(record)) return absl::OkStatus();
        auto tokens = client_->RefreshToken(record.refresh_token);
        if (!tokens.ok()) {
          if (absl::IsUnauthenticated(tokens.status())) {
            spdlog::warn(
                "account {}: refresh token rejected; integration "
                "needs a reconnect",
                account_id);
            record.state = IntegrationState::kNeedsReconnect;
            return absl::FailedPreconditionError(
                "the Pipedrive integration needs a reconnect: Pipedrive "
                "rejected the refresh token");
          }
          return tokens.status();
        }
        spdlog::debug("account {}: access token refreshed", account_id);
        record.access_token = tokens->access_token;
        // Pipedrive does not rotate refresh tokens, but accept it if it does.
        if (!tokens->refresh_token.empty()) {
          record.refresh_token = tokens->refresh_token;
        }
        record.api_domain = tokens->api_domain;
        record.access_expires_at = tokens->expires_at;
        return absl::OkStatus();
      });
  if (!updated.ok()) return updated.status();
  return CredentialsOf(*updated);
}

}  // namespace wave::pipedrive
