#include "server/integration_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include <utility>

namespace wave::pipedrive {
namespace {

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

// Explains a failed Pipedrive call made while connecting.
absl::Status ConnectError(const absl::Status& s, const std::string& step) {
  if (absl::IsUnauthenticated(s) && step == "code exchange") {
    return absl::InvalidArgumentError(
        "code: Pipedrive refused the authorization code (expired, already "
        "used, or issued for another redirect URI); send the user through "
        "the consent page again");
  }
  if (absl::IsFailedPrecondition(s) || absl::IsPermissionDenied(s)) {
    return absl::InternalError(absl::StrCat(
        "Pipedrive rejected the service's app credentials or scopes during ",
        step, "; operators must check the Pipedrive app configuration"));
  }
  if (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
      absl::IsResourceExhausted(s)) {
    return absl::UnavailableError(
        absl::StrCat("could not reach Pipedrive during ", step,
                     "; nothing was changed, try again (", s.message(), ")"));
  }
  return absl::Status(
      s.code(), absl::StrCat("Pipedrive ", step, " failed: ", s.message()));
}

// The deal field whose options a lead's `channel` names ("Source channel"),
// and the label of the option an admin creates for us.
constexpr char kChannelFieldCode[] = "channel";
constexpr char kWaveChannelLabel[] = "Wave Connect";

// The company's "Wave Connect" Source channel option, if an admin created
// one. Listing the options needs a deal scope the app may not hold, so any
// failure only leaves leads without a channel. No other label is taken:
// marking our leads as, say, "Marketplace" would misreport where they came
// from.
std::optional<int64_t> FindWaveChannelOption(PipedriveClient& pipedrive,
                                             const Credentials& creds,
                                             const std::string& account_id) {
  auto options = pipedrive.GetDealFieldOptions(creds, kChannelFieldCode);
  if (!options.ok()) {
    spdlog::info(
        "account {}: leads get no source channel: the channel options could "
        "not be listed ({}: {})",
        account_id, absl::StatusCodeToString(options.status().code()),
        std::string(options.status().message()));
    return std::nullopt;
  }

  for (const FieldOption& option : *options) {
    if (option.id > 0 &&
        absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(option.label),
                               kWaveChannelLabel)) {
      return option.id;
    }
  }
  spdlog::info(
      "account {}: leads get no source channel: the company has no \"{}\" "
      "channel option",
      account_id, kWaveChannelLabel);
  return std::nullopt;
}

}  // namespace

std::vector<std::pair<std::string, int64_t>> UsersForOwnerMatching(
    const std::vector<User>& users) {
  std::vector<std::pair<std::string, int64_t>> matching;
  for (const User& user : users) {
    if (!user.active || user.email.empty()) continue;
    matching.emplace_back(
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(user.email)), user.id);
  }
  return matching;
}

AuthorizationUrl IntegrationManager::BuildAuthorizationUrl(
    const std::string& account_id) const {
  OAuthStateSigner::Issued issued = signer_->Issue(account_id);
  AuthorizationUrl result;
  result.url =
      absl::StrCat(options_.oauth_base_url,
                   "/oauth/authorize?client_id=", UrlEncode(options_.client_id),
                   "&redirect_uri=", UrlEncode(options_.redirect_uri),
                   "&state=", UrlEncode(issued.state));
  result.state = issued.state;
  result.expires_at = issued.expires_at;
  return result;
}

absl::StatusOr<IntegrationView> IntegrationManager::Connect(
    const std::string& account_id, const std::string& code,
    const std::string& state, bool auto_sync,
    std::optional<int64_t> channel_option_id) {
  if (absl::Status valid = signer_->Verify(state, account_id); !valid.ok()) {
    return valid;
  }

  auto tokens = pipedrive_->ExchangeCode(code, options_.redirect_uri);
  if (!tokens.ok()) return ConnectError(tokens.status(), "code exchange");
  const Credentials creds{tokens->access_token, tokens->api_domain};
  auto me = pipedrive_->GetCurrentUser(creds);
  if (!me.ok()) return ConnectError(me.status(), "user lookup");
  auto users = pipedrive_->ListUsers(creds);
  if (!users.ok()) return ConnectError(users.status(), "user list");
  if (!channel_option_id.has_value()) {
    channel_option_id = FindWaveChannelOption(*pipedrive_, creds, account_id);
  }

  NewConnection connection;
  connection.account_id = account_id;
  connection.company_id = me->company_id;
  connection.company_name = me->company_name;
  connection.company_domain = me->company_domain;
  connection.pipedrive_user_id = me->id;
  connection.api_domain = tokens->api_domain;
  connection.access_token = tokens->access_token;
  connection.refresh_token = tokens->refresh_token;
  connection.access_expires_at = tokens->expires_at;
  connection.auto_sync = auto_sync;
  connection.channel_option_id = channel_option_id;
  connection.users = UsersForOwnerMatching(*users);
  auto company_changed = store_->SaveConnection(connection);
  if (!company_changed.ok()) return company_changed.status();
  spdlog::info("account {}: connected to Pipedrive company {}{}", account_id,
               me->company_id,
               *company_changed ? " (another company than before; mappings "
                                  "reset)"
                                : "");
  return Get(account_id);
}

absl::StatusOr<IntegrationView> IntegrationManager::Disconnect(
    const std::string& account_id, bool uninstalled_in_pipedrive) {
  auto record = store_->Get(account_id);
  if (!record.ok()) return record.status();
  if (!uninstalled_in_pipedrive && !record->refresh_token.empty()) {
    // Revoking the refresh token uninstalls the app for that user. If it
    // fails, the tokens are kept so that the caller can try again.
    absl::Status revoked =
        pipedrive_->RevokeRefreshToken(record->refresh_token);
    if (!revoked.ok()) return ConnectError(revoked, "token revocation");
  }
  auto disconnected = store_->MarkDisconnected(account_id);
  if (!disconnected.ok()) return disconnected.status();
  spdlog::info("account {}: disconnected from Pipedrive", account_id);
  return Get(account_id);
}

absl::StatusOr<IntegrationView> IntegrationManager::Get(
    const std::string& account_id) {
  auto record = store_->Get(account_id);
  if (!record.ok()) return record.status();
  auto counts = store_->Counts(account_id);
  if (!counts.ok()) return counts.status();
  return IntegrationView{*std::move(record), *counts};
}

}  // namespace wave::pipedrive
