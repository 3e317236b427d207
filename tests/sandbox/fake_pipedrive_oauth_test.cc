// OAuth, authentication, lifecycle and control API of the sandbox, over
// real HTTP on loopback.

#include "client/sandbox/fake_pipedrive.h"
#include "client/sandbox/sandbox_http.h"
#include "tests/sandbox/sandbox_test_env.h"
#include "tests/support/status_matchers.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <string>

namespace wave::pipedrive::sandbox {
namespace {

using testenv::BasicAuth;
using testenv::HttpAnswer;
using testenv::kClientId;
using testenv::kClientSecret;
using testenv::kRedirectUri;
using testenv::TestEnv;
using testenv::TokenPair;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::wave::testing::StatusIs;

std::string CodeForm(const std::string& code,
                     const std::string& redirect_uri = kRedirectUri) {
  return absl::StrCat("grant_type=authorization_code&code=", code,
                      "&redirect_uri=", internal::UrlEncode(redirect_uri));
}

std::string RefreshForm(const std::string& refresh_token) {
  return absl::StrCat("grant_type=refresh_token&refresh_token=",
                      internal::UrlEncode(refresh_token));
}

HttpAnswer Revoke(TestEnv& env, const std::string& token,
                  const std::string& hint) {
  return env.Raw("POST", "/oauth/revoke",
                 {{"Authorization", BasicAuth(kClientId, kClientSecret)}},
                 absl::StrCat("token=", internal::UrlEncode(token),
                              "&token_type_hint=", hint),
                 "application/x-www-form-urlencoded");
}

// The query parameter `name` of a URL.
std::string QueryParam(const std::string& url, const std::string& name) {
  const size_t question = url.find('?');
  if (question == std::string::npos) return "";
  const auto params = internal::ParseUrlEncoded(url.substr(question + 1));
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

// The Location header of a raw HTTP response.
std::string LocationOf(const std::string& response) {
  const std::string key = "\r\nLocation: ";
  const size_t start = response.find(key);
  if (start == std::string::npos) return "";
  const size_t end = response.find("\r\n", start + key.size());
  return response.substr(start + key.size(), end - start - key.size());
}

TEST(FakePipedriveOAuth, ExchangesCodeForTokens) {
  TestEnv env;
  const std::string code =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);

  const HttpAnswer answer = env.TokenRequest(CodeForm(code));

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body["token_type"], "Bearer");
  EXPECT_EQ(answer.body["expires_in"], 3599);
  EXPECT_EQ(answer.body["scope"],
            "base,contacts:full,leads:full,users:read,deals:read");
  EXPECT_EQ(answer.body["api_domain"], env.fake().base_url());
  ASSERT_TRUE(answer.body["access_token"].is_string());
  ASSERT_TRUE(answer.body["refresh_token"].is_string());
  EXPECT_GT(answer.body["access_token"].get<std::string>().size(), 255u);
  const HttpAnswer me =
      env.Api("GET", "/api/v1/users/me", answer.body["access_token"]);
  EXPECT_EQ(me.status, 200);
  EXPECT_EQ(me.body["data"]["id"], env.alice);
}

TEST(FakePipedriveOAuth, ScopeListsNoDealScopeWhenNotGranted) {
  SandboxOptions options;
  options.deal_scope = false;
  TestEnv env(options);
  const std::string first =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);
  const std::string second =
      env.fake().IssueAuthorizationCode(env.acme, env.bob, kRedirectUri);

  const HttpAnswer without = env.TokenRequest(CodeForm(first));
  env.fake().SetDealScope(true);
  const HttpAnswer with = env.TokenRequest(CodeForm(second));

  ASSERT_EQ(without.status, 200) << without.raw_body;
  EXPECT_EQ(without.body["scope"], "base,contacts:full,leads:full,users:read");
  ASSERT_EQ(with.status, 200) << with.raw_body;
  EXPECT_EQ(with.body["scope"],
            "base,contacts:full,leads:full,users:read,deals:read");
}

TEST(FakePipedriveOAuth, ReusedCodeIsInvalidGrant) {
  TestEnv env;
  const std::string code =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);
  ASSERT_EQ(env.TokenRequest(CodeForm(code)).status, 200);

  const HttpAnswer answer = env.TokenRequest(CodeForm(code));

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.body["message"],
            "Invalid grant: authorization_code is invalid");
  EXPECT_EQ(answer.body["success"], false);
}

TEST(FakePipedriveOAuth, WrongRedirectUriIsInvalidGrant) {
  TestEnv env;
  const std::string code =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);

  const HttpAnswer answer =
      env.TokenRequest(CodeForm(code, "https://evil.example/callback"));

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(), "Invalid grant: authorization_code is invalid");
}

TEST(FakePipedriveOAuth, CodeExpiresAfterFiveMinutes) {
  TestEnv env;
  const std::string code =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);
  env.clock().Advance(absl::Minutes(5) + absl::Seconds(1));

  const HttpAnswer answer = env.TokenRequest(CodeForm(code));

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(), "Invalid grant: authorization_code has expired");
}

TEST(FakePipedriveOAuth, WrongClientSecretIs401) {
  TestEnv env;
  const std::string code =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);

  const HttpAnswer answer =
      env.Raw("POST", "/oauth/token",
              {{"Authorization", BasicAuth(kClientId, "not-the-secret")}},
              CodeForm(code), "application/x-www-form-urlencoded");

  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.Error(),
            "Invalid client: cannot retrieve client credentials");
}

TEST(FakePipedriveOAuth, MissingBasicAuthIs401) {
  TestEnv env;

  const HttpAnswer answer =
      env.Raw("POST", "/oauth/token", {}, RefreshForm("x"),
              "application/x-www-form-urlencoded");

  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.Error(),
            "Invalid client: cannot retrieve client credentials");
}

TEST(FakePipedriveOAuth, JsonBodyIsRejected) {
  TestEnv env;
  const std::string code =
      env.fake().IssueAuthorizationCode(env.acme, env.alice, kRedirectUri);

  const HttpAnswer answer =
      env.Raw("POST", "/oauth/token",
              {{"Authorization", BasicAuth(kClientId, kClientSecret)}},
              nlohmann::json{{"grant_type", "authorization_code"},
                             {"code", code},
                             {"redirect_uri", kRedirectUri}}
                  .dump(),
              "application/json");

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(),
            "Invalid request: content must be "
            "application/x-www-form-urlencoded");
}

TEST(FakePipedriveOAuth, MissingAndUnknownGrantTypes) {
  TestEnv env;

  const HttpAnswer missing = env.TokenRequest("code=abc");
  const HttpAnswer unknown = env.TokenRequest("grant_type=password");

  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.Error(), "Missing parameter: grant_type");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.Error(), "Unsupported grant type: grant_type is invalid");
}

TEST(FakePipedriveOAuth, RefreshKeepsRefreshTokenAndIssuesNewAccessToken) {
  TestEnv env;
  const TokenPair first = env.Connect(env.acme, env.alice);

  const HttpAnswer answer = env.TokenRequest(RefreshForm(first.refresh_token));

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body["refresh_token"], first.refresh_token);
  EXPECT_NE(answer.body["access_token"], first.access_token);
  EXPECT_EQ(answer.body["api_domain"], env.fake().base_url());
  EXPECT_EQ(
      env.Api("GET", "/api/v1/users/me", answer.body["access_token"]).status,
      200);
}

TEST(FakePipedriveOAuth, RefreshAcceptsTrailingSlashPath) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);

  const HttpAnswer answer =
      env.TokenRequest(RefreshForm(tokens.refresh_token), "/oauth/token/");

  EXPECT_EQ(answer.status, 200) << answer.raw_body;
}

TEST(FakePipedriveOAuth, UnknownRefreshTokenIsInvalidGrant) {
  TestEnv env;

  const HttpAnswer answer = env.TokenRequest(RefreshForm("1:2:nonsense"));

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(), "Invalid grant: refresh_token is invalid");
}

TEST(FakePipedriveOAuth, RevokingRefreshTokenKillsItsAccessTokens) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);

  const HttpAnswer revoked = Revoke(env, tokens.refresh_token, "refresh_token");

  EXPECT_EQ(revoked.status, 200);
  EXPECT_EQ(revoked.body, nlohmann::json::object());
  EXPECT_TRUE(env.fake().IsRefreshTokenRevoked(tokens.refresh_token));
  const HttpAnswer refresh =
      env.TokenRequest(RefreshForm(tokens.refresh_token));
  EXPECT_EQ(refresh.status, 400);
  EXPECT_EQ(refresh.Error(), "Invalid grant: refresh_token is invalid");
  const HttpAnswer api =
      env.Api("GET", "/api/v1/users/me", tokens.access_token);
  EXPECT_EQ(api.status, 401);
  EXPECT_EQ(api.Error(), "Invalid token: access_token is invalid");
}

TEST(FakePipedriveOAuth, RevokingAccessTokenKeepsRefreshToken) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);

  EXPECT_EQ(Revoke(env, tokens.access_token, "access_token").status, 200);

  EXPECT_EQ(env.Api("GET", "/api/v1/users/me", tokens.access_token).status,
            401);
  EXPECT_FALSE(env.fake().IsRefreshTokenRevoked(tokens.refresh_token));
  EXPECT_EQ(env.TokenRequest(RefreshForm(tokens.refresh_token)).status, 200);
}

TEST(FakePipedriveOAuth, RevokingUnknownTokenIs200) {
  TestEnv env;

  const HttpAnswer answer = Revoke(env, "never-issued", "refresh_token");

  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.raw_body, "{}");
}

TEST(FakePipedriveOAuth, AuthorizeRedirectsWithCodeAndState) {
  TestEnv env;

  const std::string response = env.RawGet(
      absl::StrCat("/oauth/authorize?client_id=", kClientId,
                   "&redirect_uri=", internal::UrlEncode(kRedirectUri),
                   "&state=", internal::UrlEncode("a b&c")));

  ASSERT_THAT(response, StartsWith("HTTP/1.1 302"));
  const std::string location = LocationOf(response);
  EXPECT_THAT(location, StartsWith(absl::StrCat(kRedirectUri, "?code=")));
  EXPECT_THAT(location, EndsWith("&state=a%20b%26c"));
  EXPECT_EQ(QueryParam(location, "state"), "a b&c");
  const HttpAnswer tokens =
      env.TokenRequest(CodeForm(QueryParam(location, "code")));
  ASSERT_EQ(tokens.status, 200) << tokens.raw_body;
  const HttpAnswer me =
      env.Api("GET", "/api/v1/users/me", tokens.body["access_token"]);
  EXPECT_EQ(me.body["data"]["id"], env.alice);
}

TEST(FakePipedriveOAuth, AuthorizeLoginPicksTheUser) {
  TestEnv env;

  const HttpAnswer answer = env.Raw(
      "GET",
      absl::StrCat("/oauth/authorize?client_id=", kClientId,
                   "&redirect_uri=", internal::UrlEncode(kRedirectUri),
                   "&login=", internal::UrlEncode("GINA@globex.example")),
      {});

  ASSERT_EQ(answer.status, 302);
  const HttpAnswer tokens =
      env.TokenRequest(CodeForm(QueryParam(answer.Header("Location"), "code")));
  const HttpAnswer me =
      env.Api("GET", "/api/v1/users/me", tokens.body["access_token"]);
  EXPECT_EQ(me.body["data"]["id"], env.gina);
  EXPECT_EQ(me.body["data"]["company_id"], env.globex);
}

TEST(FakePipedriveOAuth, AuthorizeRejectsUnknownClientAndMissingRedirect) {
  TestEnv env;

  const HttpAnswer unknown_client =
      env.Raw("GET",
              absl::StrCat("/oauth/authorize?client_id=other&redirect_uri=",
                           internal::UrlEncode(kRedirectUri)),
              {});
  const HttpAnswer no_redirect = env.Raw(
      "GET", absl::StrCat("/oauth/authorize?client_id=", kClientId), {});

  EXPECT_EQ(unknown_client.status, 400);
  EXPECT_EQ(unknown_client.Error(), "Invalid client: client is invalid");
  EXPECT_EQ(no_redirect.status, 400);
  EXPECT_EQ(no_redirect.Error(), "Missing parameter: redirect_uri");
}

TEST(FakePipedriveOAuth, TokenResponsesFollowTheLatestApiDomain) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);
  const std::string moved =
      absl::StrCat("http://localhost:", env.fake().port());
  env.fake().SetApiDomain(env.acme, moved);

  const HttpAnswer answer = env.TokenRequest(RefreshForm(tokens.refresh_token));

  EXPECT_EQ(answer.body["api_domain"], moved);
}

TEST(FakePipedriveAuth, MissingBearerIsUnauthorizedAccess) {
  TestEnv env;

  const HttpAnswer answer = env.Raw("GET", "/api/v1/users/me", {});

  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.Error(), "unauthorized access");
  EXPECT_EQ(answer.body["errorCode"], 401);
  EXPECT_FALSE(answer.Header("x-ratelimit-limit").empty());
}

TEST(FakePipedriveAuth, UnknownTokenIsInvalidToken) {
  TestEnv env;

  const HttpAnswer answer = env.Api("GET", "/api/v1/users/me", "v1u:bogus");

  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.Error(), "Invalid token: access_token is invalid");
}

TEST(FakePipedriveAuth, ExpireAccessTokensMakesThemAnswer401) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);

  env.fake().ExpireAccessTokens();

  EXPECT_EQ(env.Api("GET", "/api/v1/users/me", tokens.access_token).status,
            401);
  const HttpAnswer refreshed =
      env.TokenRequest(RefreshForm(tokens.refresh_token));
  EXPECT_EQ(
      env.Api("GET", "/api/v1/users/me", refreshed.body["access_token"]).status,
      200);
}

TEST(FakePipedriveAuth, AccessTokenExpiresAfterItsLifetime) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);

  env.clock().Advance(absl::Minutes(59));
  const int before =
      env.Api("GET", "/api/v1/users/me", tokens.access_token).status;
  env.clock().Advance(absl::Minutes(1));
  const int after =
      env.Api("GET", "/api/v1/users/me", tokens.access_token).status;

  EXPECT_EQ(before, 200);
  EXPECT_EQ(after, 401);
}

TEST(FakePipedriveUsers, MeCarriesTheCompany) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.bob);

  const HttpAnswer answer =
      env.Api("GET", "/api/v1/users/me", tokens.access_token);

  ASSERT_EQ(answer.status, 200);
  const nlohmann::json& data = answer.body["data"];
  EXPECT_EQ(data["id"], env.bob);
  EXPECT_EQ(data["email"], "bob@acme.example");
  EXPECT_EQ(data["company_id"], env.acme);
  EXPECT_EQ(data["company_name"], "Acme Sales");
  EXPECT_EQ(data["company_domain"], "acme-sales");
  EXPECT_EQ(data["is_you"], true);
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 2);
}

TEST(FakePipedriveUsers, ListsTheCompanyUsersOnly) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.bob);

  const HttpAnswer answer =
      env.Api("GET", "/api/v1/users", tokens.access_token);

  ASSERT_EQ(answer.status, 200);
  ASSERT_EQ(answer.body["data"].size(), 3u);
  const nlohmann::json& ivan = answer.body["data"][2];
  EXPECT_EQ(ivan["id"], env.ivan);
  EXPECT_EQ(ivan["active_flag"], false);
  EXPECT_EQ(ivan["is_deleted"], false);
  EXPECT_EQ(ivan["is_you"], false);
  EXPECT_EQ(answer.body["data"][1]["is_you"], true);
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 20);
}

TEST(FakePipedriveLifecycle, StartTwiceFails) {
  TestEnv env;

  EXPECT_THAT(
      env.fake().Start(),
      StatusIs(absl::StatusCode::kFailedPrecondition, "already started"));
}

TEST(FakePipedriveLifecycle, BusyPortIsUnavailable) {
  TestEnv env;
  SandboxOptions options;
  options.port = env.fake().port();
  FakePipedrive second(options);

  EXPECT_THAT(second.Start(), StatusIs(absl::StatusCode::kUnavailable,
                                       HasSubstr("cannot listen on")));
}

TEST(FakePipedriveLifecycle, StopIsIdempotentAndClosesThePort) {
  TestEnv env;

  env.fake().Stop();
  env.fake().Stop();

  EXPECT_EQ(env.Raw("GET", "/_sandbox/state", {}).status, 0);
}

TEST(FakePipedriveRequests, RecordsWhatWasAsked) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);
  env.fake().ClearRequests();

  env.Api("GET", "/api/v1/leads?person_id=5", tokens.access_token);
  env.Api("GET", "/api/v1/users/me", "bad");

  const std::vector<RequestRecord> requests = env.fake().Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].path, "/api/v1/leads");
  EXPECT_EQ(requests[0].query, "person_id=5");
  EXPECT_EQ(requests[0].host, absl::StrCat("127.0.0.1:", env.fake().port()));
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_EQ(requests[0].company_id, env.acme);
  EXPECT_EQ(requests[1].status, 401);
  EXPECT_EQ(requests[1].company_id, 0);
  EXPECT_EQ(env.fake().CountRequests("GET", "/api/v1/"), 2);
  EXPECT_EQ(env.fake().CountRequests("POST", "/api/v1/"), 0);
}

TEST(FakePipedriveControl, StateListsCompaniesUsersPersonsAndLeads) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);
  env.Api("POST", "/api/v2/persons", tokens.access_token,
          {{"name", "Jane Doe"}});

  const HttpAnswer answer = env.Raw("GET", "/_sandbox/state", {});

  ASSERT_EQ(answer.status, 200);
  const nlohmann::json& companies = answer.body["companies"];
  ASSERT_EQ(companies.size(), 2u);
  EXPECT_EQ(companies[0]["name"], "Acme Sales");
  EXPECT_EQ(companies[0]["users"].size(), 3u);
  ASSERT_EQ(companies[0]["persons"].size(), 1u);
  EXPECT_EQ(companies[0]["persons"][0]["name"], "Jane Doe");
  EXPECT_EQ(companies[0]["leads"].size(), 0u);
  EXPECT_EQ(companies[1]["persons"].size(), 0u);
}

TEST(FakePipedriveControl, FaultsAndTokenExpiryOverHttp) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);

  const HttpAnswer injected =
      env.Raw("POST", "/_sandbox/faults", {},
              R"({"method":"GET","path_prefix":"/api/v1/users","status":503,)"
              R"("count":-1})",
              "application/json");
  const int faulted =
      env.Api("GET", "/api/v1/users/me", tokens.access_token).status;
  const HttpAnswer cleared = env.Raw("DELETE", "/_sandbox/faults", {});
  const int after_clear =
      env.Api("GET", "/api/v1/users/me", tokens.access_token).status;
  const HttpAnswer expired = env.Raw("POST", "/_sandbox/expire-tokens", {});
  const int after_expiry =
      env.Api("GET", "/api/v1/users/me", tokens.access_token).status;

  EXPECT_EQ(injected.status, 200);
  EXPECT_EQ(faulted, 503);
  EXPECT_EQ(cleared.status, 200);
  EXPECT_EQ(after_clear, 200);
  EXPECT_EQ(expired.status, 200);
  EXPECT_EQ(after_expiry, 401);
}

TEST(FakePipedriveControl, RejectsMalformedFault) {
  TestEnv env;

  const HttpAnswer answer = env.Raw("POST", "/_sandbox/faults", {},
                                    R"({"status":"500"})", "application/json");

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(), "status must be an integer");
}

}  // namespace
}  // namespace wave::pipedrive::sandbox
