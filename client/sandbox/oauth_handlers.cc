// Pipedrive's OAuth server: authorization (auto-approved), the token
// endpoint (code exchange and refresh) and RFC 7009 revocation. Error texts
// are those Pipedrive documents for its token endpoint.

#include "client/sandbox/handlers.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include <algorithm>
#include <map>
#include <string>

namespace wave::pipedrive::sandbox::internal {
namespace {

constexpr char kScope[] = "base,contacts:full,leads:full,users:read";
constexpr char kScopeWithDeals[] =
    "base,contacts:full,leads:full,users:read,deals:read";
constexpr char kInvalidClient[] =
    "Invalid client: cannot retrieve client credentials";
constexpr char kWrongContentType[] =
    "Invalid request: content must be application/x-www-form-urlencoded";
constexpr char kInvalidCode[] = "Invalid grant: authorization_code is invalid";
constexpr char kExpiredCode[] = "Invalid grant: authorization_code has expired";
constexpr char kInvalidRefresh[] = "Invalid grant: refresh_token is invalid";

// Checks `Authorization: Basic base64(client_id:client_secret)` against the
// registered app.
bool HasClientCredentials(const SandboxState& state,
                          const HttpRequest& request) {
  if (state.options.client_id.empty()) return false;
  const std::string header = request.Header("authorization");
  const size_t space = header.find(' ');
  if (space == std::string::npos ||
      !absl::EqualsIgnoreCase(header.substr(0, space), "basic")) {
    return false;
  }
  std::string decoded;
  const std::string encoded(
      absl::StripAsciiWhitespace(header.substr(space + 1)));
  if (!absl::Base64Unescape(encoded, &decoded)) return false;
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  return decoded.substr(0, colon) == state.options.client_id &&
         decoded.substr(colon + 1) == state.options.client_secret;
}

// Client authentication and content type, shared by token and revoke.
bool CheckTokenRequest(const SandboxState& state, const HttpRequest& request,
                       Reply* error) {
  if (!HasClientCredentials(state, request)) {
    *error = OAuthErrorReply(401, kInvalidClient);
    return false;
  }
  if (!IsMediaType(request.Header("content-type"),
                   "application/x-www-form-urlencoded")) {
    *error = OAuthErrorReply(400, kWrongContentType);
    return false;
  }
  return true;
}

Reply IssueAccessToken(SandboxState& state, const std::string& refresh_token,
                       const RefreshTokenState& grant) {
  // Real access tokens are long and grow; a short column must fail early.
  const std::string access_token =
      absl::StrCat("v1u:", RandomAlnum(state.gen, 320));
  AccessTokenState& access = state.access_tokens[access_token];
  access.company_id = grant.company_id;
  access.user_id = grant.user_id;
  access.refresh_token = refresh_token;
  access.expires_at = state.Now() + state.options.access_token_ttl;

  // Pipedrive reports one second less than the lifetime (3599 for 1 h).
  const int64_t expires_in = std::max<int64_t>(
      0, absl::ToInt64Seconds(state.options.access_token_ttl) - 1);
  return JsonReply(200, {{"access_token", access_token},
                         {"token_type", "Bearer"},
                         {"expires_in", expires_in},
                         {"refresh_token", refresh_token},
                         {"scope", state.deal_scope ? kScopeWithDeals : kScope},
                         {"api_domain", state.ApiDomainFor(grant.company_id)}});
}

Reply ExchangeCode(SandboxState& state,
                   const std::map<std::string, std::string>& form) {
  auto code_it = form.find("code");
  if (code_it == form.end()) return OAuthErrorReply(400, kInvalidCode);
  auto it = state.auth_codes.find(code_it->second);
  if (it == state.auth_codes.end() || it->second.used) {
    return OAuthErrorReply(400, kInvalidCode);
  }
  AuthCodeState& code = it->second;
  if (state.Now() - code.issued >= kAuthCodeLifetime) {
    return OAuthErrorReply(400, kExpiredCode);
  }
  auto redirect_it = form.find("redirect_uri");
  if (redirect_it == form.end() || redirect_it->second != code.redirect_uri) {
    return OAuthErrorReply(400, kInvalidCode);
  }

  code.used = true;
  const std::string refresh_token = absl::StrCat(
      code.company_id, ":", code.user_id, ":", RandomHex(state.gen, 40));
  RefreshTokenState& grant = state.refresh_tokens[refresh_token];
  grant.company_id = code.company_id;
  grant.user_id = code.user_id;
  return IssueAccessToken(state, refresh_token, grant);
}

Reply Refresh(SandboxState& state,
              const std::map<std::string, std::string>& form) {
  auto token_it = form.find("refresh_token");
  if (token_it == form.end()) return OAuthErrorReply(400, kInvalidRefresh);
  auto it = state.refresh_tokens.find(token_it->second);
  if (it == state.refresh_tokens.end() || it->second.revoked) {
    return OAuthErrorReply(400, kInvalidRefresh);
  }
  // Pipedrive does not rotate refresh tokens: the same one comes back.
  return IssueAccessToken(state, it->first, it->second);
}

bool RevokeRefreshToken(SandboxState& state, const std::string& token) {
  auto it = state.refresh_tokens.find(token);
  if (it == state.refresh_tokens.end()) return false;
  // Revoking the refresh token uninstalls the app: its access tokens die too.
  it->second.revoked = true;
  for (auto& [access_token, access] : state.access_tokens) {
    if (access.refresh_token == token) access.revoked = true;
  }
  return true;
}

bool RevokeAccessToken(SandboxState& state, const std::string& token) {
  auto it = state.access_tokens.find(token);
  if (it == state.access_tokens.end()) return false;
  it->second.revoked = true;
  return true;
}

const UserState* DefaultConsentingUser(const SandboxState& state) {
  for (const auto& [company_id, company] : state.companies) {
    for (const auto& [user_id, user] : state.users) {
      if (user.company_id == company_id && user.active) return &user;
    }
  }
  return nullptr;
}

}  // namespace

Reply OAuthErrorReply(int status, const std::string& message) {
  return JsonReply(
      status, {{"success", false}, {"message", message}, {"error", message}});
}

Reply HandleAuthorize(SandboxState& state, const HttpRequest& request) {
  const std::string client_id = request.Param("client_id").value_or("");
  if (state.options.client_id.empty() || client_id != state.options.client_id) {
    return OAuthErrorReply(400, "Invalid client: client is invalid");
  }
  const std::string redirect_uri = request.Param("redirect_uri").value_or("");
  if (redirect_uri.empty()) {
    return OAuthErrorReply(400, "Missing parameter: redirect_uri");
  }
  if (!absl::StartsWith(redirect_uri, "http://") &&
      !absl::StartsWith(redirect_uri, "https://")) {
    return OAuthErrorReply(400,
                           "Invalid request: redirect_uri is not a valid URI");
  }

  // Sandbox only: `login` picks the consenting user by email.
  const std::optional<std::string> login = request.Param("login");
  const UserState* user = login.has_value() ? state.FindUserByEmail(*login)
                                            : DefaultConsentingUser(state);
  if (user == nullptr) {
    return OAuthErrorReply(400,
                           "App cannot be installed for requested company");
  }
  const std::string code = RandomHex(state.gen, 40);
  AuthCodeState& grant = state.auth_codes[code];
  grant.company_id = user->company_id;
  grant.user_id = user->id;
  grant.redirect_uri = redirect_uri;
  grant.issued = state.Now();

  std::string location = absl::StrCat(
      redirect_uri, redirect_uri.find('?') == std::string::npos ? "?" : "&",
      "code=", UrlEncode(code));
  const std::optional<std::string> oauth_state = request.Param("state");
  if (oauth_state.has_value()) {
    absl::StrAppend(&location, "&state=", UrlEncode(*oauth_state));
  }
  Reply reply;
  reply.status = 302;
  reply.content_type = "text/plain";
  reply.SetHeader("Location", location);
  return reply;
}

Reply HandleToken(SandboxState& state, const HttpRequest& request) {
  Reply error;
  if (!CheckTokenRequest(state, request, &error)) return error;

  const std::map<std::string, std::string> form = ParseUrlEncoded(request.body);
  auto grant_type = form.find("grant_type");
  if (grant_type == form.end() || grant_type->second.empty()) {
    return OAuthErrorReply(400, "Missing parameter: grant_type");
  }
  if (grant_type->second == "authorization_code") {
    return ExchangeCode(state, form);
  }
  if (grant_type->second == "refresh_token") return Refresh(state, form);
  return OAuthErrorReply(400, "Unsupported grant type: grant_type is invalid");
}

Reply HandleRevoke(SandboxState& state, const HttpRequest& request) {
  Reply error;
  if (!CheckTokenRequest(state, request, &error)) return error;

  const std::map<std::string, std::string> form = ParseUrlEncoded(request.body);
  auto token = form.find("token");
  if (token == form.end() || token->second.empty()) {
    return OAuthErrorReply(400, "Missing parameter: token");
  }
  // The hint only orders the lookup (RFC 7009 section 2.1).
  auto hint = form.find("token_type_hint");
  if (hint != form.end() && hint->second == "access_token") {
    if (!RevokeAccessToken(state, token->second)) {
      RevokeRefreshToken(state, token->second);
    }
  } else if (!RevokeRefreshToken(state, token->second)) {
    RevokeAccessToken(state, token->second);
  }
  // 200 for unknown tokens too (RFC 7009 section 2.2).
  return JsonReply(200, nlohmann::json::object());
}

}  // namespace wave::pipedrive::sandbox::internal
