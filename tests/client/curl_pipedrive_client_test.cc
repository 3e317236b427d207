#include "client/curl_pipedrive_client.h"

#include "client/http_status.h"
#include "client/http_transport.h"
#include "client/pipedrive_client.h"
#include "tests/client/mock_http_transport.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StartsWith;
using ::testing::StrictMock;
using ::wave::testing::StatusIs;
using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// base64("wave-app:s3cr3t/+="), computed independently of the code.
constexpr char kBasic[] = "Basic d2F2ZS1hcHA6czNjcjN0Lys9";
constexpr char kAccessToken[] = "v1u:AQIBAHj+secret-access";
constexpr char kLeadId[] = "adf21080-0e10-11eb-879b-05d71fb426ec";

// The token response example of Pipedrive's OpenAPI (v1 /oauth/token).
constexpr char kTokenResponse[] = R"({
  "access_token": "v1u:AQIBAHj+LzTNK1yuuuaLqifzhWb9crUNKTpk4FlQ9rjnXqp",
  "token_type": "Bearer",
  "expires_in": 3599,
  "refresh_token": "1:1:2a5496a8bdd0f829dcb09dc8ba82b188f0ea4481",
  "scope": "base",
  "api_domain": "https://user-company.pipedrive.com"
})";

// The example of v1 GET /users/me.
constexpr char kUsersMeResponse[] = R"({
  "success": true,
  "data": {
    "id": 1, "name": "Me", "default_currency": "EUR", "locale": "et_EE",
    "lang": 1, "email": "me@pipedrive.com", "phone": "0000-0000",
    "activated": true, "last_login": "2019-11-21 08:45:56",
    "created": "2018-11-13 09:16:26", "modified": "2019-11-21 08:45:56",
    "has_created_company": true,
    "access": [{"app": "sales", "admin": true,
                "permission_set_id": "62cc4d7f-4038-4352-abf3-a8c1c822b631"}],
    "active_flag": true, "timezone_name": "Europe/Berlin",
    "timezone_offset": "+03:00", "role_id": 1, "icon_url": null,
    "is_you": true, "is_deleted": false, "company_id": 54235233,
    "company_name": "Pipedrive", "company_domain": "pipedrive-12g53f",
    "company_country": "EE", "company_industry": "IT Services",
    "language": {"language_code": "en", "country_code": "US"}
  }
})";

// The example of v1 GET /users, plus users that are inactive, deleted,
// or missing the flags.
constexpr char kUsersResponse[] = R"({
  "success": true,
  "data": [
    {"id": 1, "name": "John Doe", "email": "john@pipedrive.com",
     "activated": true, "active_flag": true, "is_you": true,
     "is_deleted": false, "role_id": 1, "icon_url": "https://x/y.png",
     "access": [{"app": "sales", "admin": true}]},
    {"id": 2, "name": "Jane Doe", "email": "jane@pipedrive.com",
     "activated": true, "active_flag": true, "is_you": false,
     "is_deleted": false, "role_id": 1, "icon_url": null},
    {"id": 3, "email": "gone@pipedrive.com", "active_flag": true,
     "is_deleted": true},
    {"id": 4, "email": "off@pipedrive.com", "active_flag": false,
     "is_deleted": false},
    {"id": 5, "email": null}
  ]
})";

// The example of v2 POST/GET/PATCH /persons.
constexpr char kPersonResponse[] = R"({
  "success": true,
  "data": {
    "id": 1, "name": "Person Name", "first_name": "Person",
    "last_name": "Name", "owner_id": 1, "org_id": 1,
    "add_time": "2021-01-01T00:00:00Z", "update_time": "2021-01-01T00:00:00Z",
    "emails": [{"value": "email1@email.com", "primary": true, "label": "work"},
               {"value": "email2@email.com", "primary": false,
                "label": "home"}],
    "phones": [{"value": "12345", "primary": true, "label": "work"},
               {"value": "54321", "primary": false, "label": "home"}],
    "is_deleted": false, "visible_to": 7, "label_ids": [1, 2, 3],
    "picture_id": 1, "custom_fields": {}, "notes": "Notes from contact sync",
    "im": [{"value": "skypeusername", "primary": true, "label": "skype"}],
    "birthday": "2000-12-31", "job_title": "Manager",
    "postal_address": {"value": "123 Main St", "country": "USA"}
  }
})";

// The example of v1 POST/GET/PATCH /leads.
constexpr char kLeadResponse[] = R"({
  "success": true,
  "data": {
    "id": "adf21080-0e10-11eb-879b-05d71fb426ec", "title": "Jane Doe Lead",
    "owner_id": 1, "creator_id": 1,
    "label_ids": ["f08b42a0-4e75-11ea-9643-03698ef1cfd6"],
    "person_id": 1092, "organization_id": null, "source_name": "API",
    "origin": "API", "origin_id": null, "channel": 52,
    "channel_id": "Jun23 Billboards", "is_archived": false, "was_seen": false,
    "value": {"amount": 999, "currency": "USD"}, "expected_close_date": null,
    "next_activity_id": 1, "add_time": "2020-10-14T11:30:36.551Z",
    "update_time": "2020-10-14T11:30:36.551Z", "visible_to": "3",
    "cc_email": "company+1+leadntPaYKA5QRxXkh6WMNHiGh@dev.pipedrivemail.com"
  }
})";

// The example of v2 GET /dealFields/{field_code} (a field without options).
constexpr char kDealFieldResponse[] = R"({
  "success": true,
  "data": {
    "field_name": "Deal Title", "field_code": "title",
    "description": "The title or name of the deal", "field_type": "varchar",
    "options": null, "subfields": null, "is_custom_field": false,
    "is_optional_response_field": false,
    "ui_visibility": {"add_visible_flag": true, "details_visible_flag": true,
                      "projects_detail_visible_flag": true,
                      "show_in_pipelines": {"show_in_all": true,
                                            "pipeline_ids": []}},
    "important_fields": {"enabled": false, "stage_ids": []},
    "required_fields": {"enabled": false, "stage_ids": [], "statuses": {}}
  }
})";

// The same schema for the built-in `channel` field, whose option ids the
// spec types as strings.
constexpr char kChannelFieldResponse[] = R"({
  "success": true,
  "data": {
    "field_name": "Source channel", "field_code": "channel",
    "field_type": "enum",
    "options": [
      {"id": "71", "label": "Marketplace", "color": null,
       "update_time": null, "add_time": null},
      {"id": "73", "label": " Wave Connect ", "color": "#ffcc00",
       "update_time": "2026-01-05T10:00:00Z",
       "add_time": "2026-01-05T10:00:00Z"}
    ],
    "subfields": null, "is_custom_field": false,
    "is_optional_response_field": false
  }
})";

HttpResponse Response(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = {{"content-type", "application/json"}};
  return response;
}

PipedriveClientOptions Options() {
  PipedriveClientOptions options;
  options.oauth_base_url = "https://oauth.example.test/";
  options.client_id = "wave-app";
  options.client_secret = "s3cr3t/+=";
  return options;
}

Credentials Creds() {
  Credentials creds;
  creds.access_token = kAccessToken;
  creds.api_domain = "https://acme.pipedrive.com/";
  return creds;
}

Headers ApiHeaders() {
  return {{"Authorization", std::string("Bearer ") + kAccessToken},
          {"Accept", "application/json"}};
}

Headers ApiJsonHeaders() {
  Headers headers = ApiHeaders();
  headers.emplace_back("Content-Type", "application/json");
  return headers;
}

Headers OAuthHeaders() {
  return {{"Authorization", kBasic},
          {"Content-Type", "application/x-www-form-urlencoded"},
          {"Accept", "application/json"}};
}

Json ParseJson(const std::string& body) {
  return Json::parse(body, nullptr, /*allow_exceptions=*/false);
}

class CurlPipedriveClientTest : public ::testing::Test {
 protected:
  // Expects exactly one request, records it, and answers `response`.
  void ExpectSend(absl::StatusOr<HttpResponse> response) {
    EXPECT_CALL(*transport_, Send(_))
        .WillOnce(DoAll(SaveArg<0>(&sent_), Return(std::move(response))));
  }

  std::shared_ptr<StrictMock<MockHttpTransport>> transport_ =
      std::make_shared<StrictMock<MockHttpTransport>>();
  CurlPipedriveClient client_{transport_, Options()};
  HttpRequest sent_;
};

// OAuth.

TEST_F(CurlPipedriveClientTest, ExchangeCodeSendsTheDocumentedRequest) {
  ExpectSend(Response(200, kTokenResponse));
  const absl::Time before = absl::Now();

  absl::StatusOr<TokenSet> tokens = client_.ExchangeCode(
      "abc/123+=", "https://app.example.com/pipedrive/callback?x=1");

  const absl::Time after = absl::Now();
  ASSERT_OK(tokens);
  EXPECT_EQ(sent_.method, "POST");
  EXPECT_EQ(sent_.url, "https://oauth.example.test/oauth/token");
  EXPECT_EQ(sent_.headers, OAuthHeaders());
  EXPECT_EQ(sent_.body,
            "grant_type=authorization_code&code=abc%2F123%2B%3D"
            "&redirect_uri=https%3A%2F%2Fapp.example.com%2Fpipedrive%2F"
            "callback%3Fx%3D1");
  EXPECT_EQ(tokens->access_token,
            "v1u:AQIBAHj+LzTNK1yuuuaLqifzhWb9crUNKTpk4FlQ9rjnXqp");
  EXPECT_EQ(tokens->refresh_token,
            "1:1:2a5496a8bdd0f829dcb09dc8ba82b188f0ea4481");
  EXPECT_EQ(tokens->scope, "base");
  EXPECT_EQ(tokens->api_domain, "https://user-company.pipedrive.com");
  EXPECT_GE(tokens->expires_at, before + absl::Seconds(3599));
  EXPECT_LE(tokens->expires_at, after + absl::Seconds(3599));
}

TEST_F(CurlPipedriveClientTest, RefreshTokenSendsTheRefreshGrant) {
  ExpectSend(Response(200, kTokenResponse));

  absl::StatusOr<TokenSet> tokens =
      client_.RefreshToken("1:1:2a5496a8bdd0f829dcb09dc8ba82b188f0ea4481");

  ASSERT_OK(tokens);
  EXPECT_EQ(sent_.method, "POST");
  EXPECT_EQ(sent_.url, "https://oauth.example.test/oauth/token");
  EXPECT_EQ(sent_.headers, OAuthHeaders());
  EXPECT_EQ(sent_.body,
            "grant_type=refresh_token"
            "&refresh_token=1%3A1%3A2a5496a8bdd0f829dcb09dc8ba82b188f0ea4481");
  EXPECT_EQ(tokens->api_domain, "https://user-company.pipedrive.com");
}

TEST_F(CurlPipedriveClientTest, RefreshKeepsTheOldRefreshTokenIfNoneReturned) {
  ExpectSend(Response(200, R"({"access_token": "new", "expires_in": 3600,
                               "api_domain": "https://a.pipedrive.com/"})"));

  absl::StatusOr<TokenSet> tokens = client_.RefreshToken("1:2:old");

  ASSERT_OK(tokens);
  EXPECT_EQ(tokens->refresh_token, "1:2:old");
  EXPECT_EQ(tokens->access_token, "new");
  EXPECT_EQ(tokens->api_domain, "https://a.pipedrive.com");
  EXPECT_EQ(tokens->scope, "");
}

TEST_F(CurlPipedriveClientTest, MalformedTokenResponsesAreInternal) {
  const std::vector<std::string> bodies = {
      R"({"refresh_token": "r", "expires_in": 3599,
          "api_domain": "https://a.pipedrive.com", "leak": "BODYSECRET"})",
      R"({"access_token": "BODYSECRET", "refresh_token": "r",
          "expires_in": 3599})",
      R"({"access_token": "BODYSECRET", "refresh_token": "r",
          "expires_in": 3599, "api_domain": "ftp://a.pipedrive.com"})",
      R"({"access_token": "BODYSECRET", "refresh_token": "r",
          "expires_in": "soon", "api_domain": "https://a.pipedrive.com"})",
      R"({"access_token": "BODYSECRET", "refresh_token": "r",
          "api_domain": "https://a.pipedrive.com"})",
      R"({"access_token": 42, "refresh_token": "r", "expires_in": 1,
          "api_domain": "https://a.pipedrive.com"})",
      R"({"access_token": "BODYSECRET", "refresh_token": "", "expires_in": 1,
          "api_domain": "https://a.pipedrive.com"})",
      "<html><body>BODYSECRET</body></html>",
      R"({"access_token": "BODYSECRET", "refr)",
      "[]",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    ExpectSend(Response(200, body));

    EXPECT_THAT(client_.ExchangeCode("code", "https://app/cb"),
                StatusIs(absl::StatusCode::kInternal,
                         Eq("pipedrive: malformed token response")));
  }
}

TEST_F(CurlPipedriveClientTest, InvalidGrantIsUnauthenticated) {
  ExpectSend(Response(400, R"({"success": false,
               "error": "Invalid grant: refresh_token is invalid"})"));

  EXPECT_THAT(client_.RefreshToken("1:1:revoked"),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       StartsWith("invalid_grant: ")));
}

TEST_F(CurlPipedriveClientTest, RejectedClientCredentialsAreAConfigError) {
  ExpectSend(Response(401, R"({"error": "unauthorized access"})"));

  EXPECT_THAT(
      client_.ExchangeCode("code", "https://app/cb"),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               StartsWith("pipedrive rejected the client credentials")));
}

TEST_F(CurlPipedriveClientTest, OAuthTransportFailureKeepsItsCode) {
  ExpectSend(absl::UnavailableError("Failed to connect to oauth port 443"));

  EXPECT_THAT(client_.RefreshToken("1:1:r"),
              StatusIs(absl::StatusCode::kUnavailable,
                       Eq("pipedrive: POST /oauth/token: Failed to connect to "
                          "oauth port 443")));
}

TEST_F(CurlPipedriveClientTest, OAuthWithoutClientCredentialsSendsNothing) {
  PipedriveClientOptions options = Options();
  options.client_secret.clear();
  CurlPipedriveClient client(transport_, options);

  EXPECT_THAT(client.RefreshToken("1:1:r"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("client_secret")));
}

TEST_F(CurlPipedriveClientTest, RevokeSendsTheRefreshTokenWithHint) {
  ExpectSend(Response(200, ""));

  EXPECT_OK(client_.RevokeRefreshToken("1:1:2a54 96"));

  EXPECT_EQ(sent_.method, "POST");
  EXPECT_EQ(sent_.url, "https://oauth.example.test/oauth/revoke");
  EXPECT_EQ(sent_.headers, OAuthHeaders());
  EXPECT_EQ(sent_.body,
            "token=1%3A1%3A2a54%2096&token_type_hint=refresh_token");
}

TEST_F(CurlPipedriveClientTest, RevokeFailureIsMapped) {
  ExpectSend(Response(503, "<html>Whoops! Something broke</html>"));

  EXPECT_THAT(
      client_.RevokeRefreshToken("1:1:r"),
      StatusIs(absl::StatusCode::kUnavailable, Eq("pipedrive: HTTP 503")));
}

// Users.

TEST_F(CurlPipedriveClientTest, GetCurrentUserParsesTheExample) {
  ExpectSend(Response(200, kUsersMeResponse));

  absl::StatusOr<CurrentUser> user = client_.GetCurrentUser(Creds());

  ASSERT_OK(user);
  EXPECT_EQ(sent_.method, "GET");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v1/users/me");
  EXPECT_EQ(sent_.headers, ApiHeaders());
  EXPECT_EQ(sent_.body, "");
  EXPECT_EQ(user->id, 1);
  EXPECT_EQ(user->email, "me@pipedrive.com");
  EXPECT_EQ(user->company_id, 54235233);
  EXPECT_EQ(user->company_name, "Pipedrive");
  EXPECT_EQ(user->company_domain, "pipedrive-12g53f");
}

TEST_F(CurlPipedriveClientTest, ListUsersComputesActive) {
  ExpectSend(Response(200, kUsersResponse));

  absl::StatusOr<std::vector<User>> users = client_.ListUsers(Creds());

  ASSERT_OK(users);
  EXPECT_EQ(sent_.method, "GET");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v1/users");
  EXPECT_EQ(sent_.headers, ApiHeaders());
  ASSERT_EQ(users->size(), 5U);
  const std::vector<std::pair<int64_t, bool>> expected = {
      {1, true}, {2, true}, {3, false}, {4, false}, {5, false}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*users)[i].id, expected[i].first);
    EXPECT_EQ((*users)[i].active, expected[i].second) << "user " << i;
  }
  EXPECT_EQ((*users)[1].email, "jane@pipedrive.com");
  EXPECT_EQ((*users)[4].email, "");
}

// Persons.

TEST_F(CurlPipedriveClientTest, CreatePersonSendsAllSetFields) {
  ExpectSend(Response(200, kPersonResponse));
  PersonWrite write;
  write.name = "Jane Doe";
  write.owner_id = 12345;
  write.emails = std::vector<ContactPoint>{
      {"jane@acme.com", "work", true}, {"jane@home.example", "home", false}};
  write.phones = std::vector<ContactPoint>{{"+1 415 555 0100", "mobile", true}};

  absl::StatusOr<Person> person = client_.CreatePerson(Creds(), write);

  ASSERT_OK(person);
  EXPECT_EQ(sent_.method, "POST");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v2/persons");
  EXPECT_EQ(sent_.headers, ApiJsonHeaders());
  EXPECT_EQ(ParseJson(sent_.body), Json::parse(R"({
    "name": "Jane Doe",
    "owner_id": 12345,
    "emails": [{"value": "jane@acme.com", "label": "work", "primary": true},
               {"value": "jane@home.example", "label": "home",
                "primary": false}],
    "phones": [{"value": "+1 415 555 0100", "label": "mobile",
                "primary": true}]
  })"));
  EXPECT_EQ(person->id, 1);
  EXPECT_EQ(person->name, "Person Name");
  EXPECT_EQ(person->owner_id, std::optional<int64_t>(1));
  EXPECT_FALSE(person->is_deleted);
  EXPECT_THAT(person->emails,
              ElementsAre(ContactPoint{"email1@email.com", "work", true},
                          ContactPoint{"email2@email.com", "home", false}));
  EXPECT_THAT(person->phones,
              ElementsAre(ContactPoint{"12345", "work", true},
                          ContactPoint{"54321", "home", false}));
}

TEST_F(CurlPipedriveClientTest, UpdatePersonWithOnlyPhonesSendsOnlyPhones) {
  ExpectSend(Response(200, kPersonResponse));
  PersonWrite write;
  write.phones = std::vector<ContactPoint>{{"+1 415 555 0199", "work", true}};

  ASSERT_OK(client_.UpdatePerson(Creds(), 987, write));

  EXPECT_EQ(sent_.method, "PATCH");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v2/persons/987");
  EXPECT_EQ(sent_.headers, ApiJsonHeaders());
  EXPECT_EQ(ParseJson(sent_.body), Json::parse(R"({
    "phones": [{"value": "+1 415 555 0199", "label": "work", "primary": true}]
  })"));
}

TEST_F(CurlPipedriveClientTest, BackgroundCredentialsMarkTheRequest) {
  ExpectSend(Response(200, kPersonResponse));
  Credentials creds = Creds();
  creds.background = true;

  ASSERT_OK(client_.GetPerson(creds, 987));
  EXPECT_TRUE(sent_.background);

  ExpectSend(Response(200, kPersonResponse));
  ASSERT_OK(client_.GetPerson(Creds(), 987));
  EXPECT_FALSE(sent_.background);
}

TEST_F(CurlPipedriveClientTest, CredentialsNameTheUserWhoseWindowIsUsed) {
  ExpectSend(Response(200, kPersonResponse));
  Credentials creds = Creds();
  creds.rate_key = "7000001:10001";

  ASSERT_OK(client_.GetPerson(creds, 987));
  EXPECT_EQ(sent_.rate_key, "7000001:10001");
}

TEST_F(CurlPipedriveClientTest, UpdatePersonCanClearAList) {
  ExpectSend(Response(200, kPersonResponse));
  PersonWrite write;
  write.emails = std::vector<ContactPoint>{};

  ASSERT_OK(client_.UpdatePerson(Creds(), 987, write));

  EXPECT_EQ(ParseJson(sent_.body), Json::parse(R"({"emails": []})"));
}

TEST_F(CurlPipedriveClientTest, WriteWithInvalidUtf8DoesNotThrow) {
  ExpectSend(Response(200, kPersonResponse));
  PersonWrite write;
  write.name = std::string("Bad \xff\xfe name");

  ASSERT_OK(client_.CreatePerson(Creds(), write));

  EXPECT_FALSE(ParseJson(sent_.body).is_discarded());
}

TEST_F(CurlPipedriveClientTest, GetPersonToleratesNullAndMissingFields) {
  ExpectSend(Response(200, R"({"success": true, "data": {
    "id": 987, "name": null, "owner_id": null, "phones": null,
    "emails": [{"value": "a@b.c"}], "org_id": null}})"));

  absl::StatusOr<Person> person = client_.GetPerson(Creds(), 987);

  ASSERT_OK(person);
  EXPECT_EQ(sent_.method, "GET");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v2/persons/987");
  EXPECT_EQ(sent_.headers, ApiHeaders());
  EXPECT_EQ(sent_.body, "");
  EXPECT_EQ(person->id, 987);
  EXPECT_EQ(person->name, "");
  EXPECT_EQ(person->owner_id, std::nullopt);
  EXPECT_THAT(person->emails, ElementsAre(ContactPoint{"a@b.c", "", false}));
  EXPECT_TRUE(person->phones.empty());
  EXPECT_FALSE(person->is_deleted);
}

TEST_F(CurlPipedriveClientTest, GetPersonReadsIsDeleted) {
  ExpectSend(Response(200, R"({"success": true,
                               "data": {"id": 5, "is_deleted": true}})"));

  absl::StatusOr<Person> person = client_.GetPerson(Creds(), 5);

  ASSERT_OK(person);
  EXPECT_TRUE(person->is_deleted);
}

TEST_F(CurlPipedriveClientTest, DeletePersonSendsDelete) {
  ExpectSend(Response(200, R"({"success": true, "data": {"id": 1}})"));

  EXPECT_OK(client_.DeletePerson(Creds(), 1));

  EXPECT_EQ(sent_.method, "DELETE");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v2/persons/1");
  EXPECT_EQ(sent_.headers, ApiHeaders());
  EXPECT_EQ(sent_.body, "");
}

TEST_F(CurlPipedriveClientTest, MissingPersonIsNotFound) {
  ExpectSend(Response(404, R"({"success": false,
      "error": "Entity was not found", "error_info": "Object was not found.",
      "data": null, "additional_data": null})"));

  EXPECT_THAT(client_.DeletePerson(Creds(), 1),
              StatusIs(absl::StatusCode::kNotFound,
                       Eq("pipedrive: HTTP 404: Entity was not found "
                          "(Object was not found.)")));
}

TEST_F(CurlPipedriveClientTest, CreatePersonWithoutNameSendsNothing) {
  PersonWrite write;
  write.emails = std::vector<ContactPoint>{{"a@b.c", "work", true}};

  EXPECT_THAT(client_.CreatePerson(Creds(), write),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("pipedrive: a new person needs a name")));
}

// Leads.

TEST_F(CurlPipedriveClientTest, CreateLeadSendsAllSetFields) {
  ExpectSend(Response(201, kLeadResponse));
  LeadWrite write;
  write.title = "Jane Doe - VP Sales - Acme Inc";
  write.person_id = 987;
  write.owner_id = 12345;
  write.channel = 71;
  write.channel_id = "Wave Connect";
  write.origin_id = "wave-connect";

  absl::StatusOr<Lead> lead = client_.CreateLead(Creds(), write);

  ASSERT_OK(lead);
  EXPECT_EQ(sent_.method, "POST");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v1/leads");
  EXPECT_EQ(sent_.headers, ApiJsonHeaders());
  EXPECT_EQ(ParseJson(sent_.body), Json::parse(R"({
    "title": "Jane Doe - VP Sales - Acme Inc", "person_id": 987,
    "owner_id": 12345, "channel": 71, "channel_id": "Wave Connect",
    "origin_id": "wave-connect"
  })"));
  EXPECT_EQ(lead->id, kLeadId);
  EXPECT_EQ(lead->title, "Jane Doe Lead");
  EXPECT_EQ(lead->person_id, std::optional<int64_t>(1092));
  EXPECT_EQ(lead->owner_id, std::optional<int64_t>(1));
  EXPECT_EQ(lead->origin_id, std::nullopt);
  EXPECT_EQ(lead->channel, std::optional<int64_t>(52));
  EXPECT_EQ(lead->channel_id, std::optional<std::string>("Jun23 Billboards"));
  EXPECT_FALSE(lead->is_archived);
}

TEST_F(CurlPipedriveClientTest, UpdateLeadNeverSendsOriginId) {
  ExpectSend(Response(200, kLeadResponse));
  LeadWrite write;
  write.title = "New title";
  write.origin_id = "wave-connect";

  ASSERT_OK(client_.UpdateLead(Creds(), kLeadId, write));

  EXPECT_EQ(sent_.method, "PATCH");
  EXPECT_EQ(sent_.url,
            std::string("https://acme.pipedrive.com/api/v1/leads/") + kLeadId);
  EXPECT_EQ(sent_.headers, ApiJsonHeaders());
  EXPECT_EQ(ParseJson(sent_.body), Json::parse(R"({"title": "New title"})"));
}

TEST_F(CurlPipedriveClientTest, LeadIdIsEscapedInThePath) {
  ExpectSend(Response(200, kLeadResponse));

  ASSERT_OK(client_.GetLead(Creds(), "../users/me?x=1 #"));

  EXPECT_EQ(sent_.method, "GET");
  EXPECT_EQ(sent_.url,
            "https://acme.pipedrive.com/api/v1/leads/"
            "..%2Fusers%2Fme%3Fx%3D1%20%23");
  EXPECT_EQ(sent_.headers, ApiHeaders());
}

TEST_F(CurlPipedriveClientTest, GetLeadToleratesNullFields) {
  ExpectSend(Response(200, R"({"success": true, "data": {
    "id": "0b6f3c1e", "title": "T", "person_id": null, "owner_id": 7,
    "channel": null, "channel_id": null, "origin_id": "wave-connect",
    "is_archived": true}})"));

  absl::StatusOr<Lead> lead = client_.GetLead(Creds(), "0b6f3c1e");

  ASSERT_OK(lead);
  EXPECT_EQ(lead->person_id, std::nullopt);
  EXPECT_EQ(lead->channel, std::nullopt);
  EXPECT_EQ(lead->channel_id, std::nullopt);
  EXPECT_EQ(lead->origin_id, std::optional<std::string>("wave-connect"));
  EXPECT_TRUE(lead->is_archived);
}

TEST_F(CurlPipedriveClientTest, MissingLeadIsNotFound) {
  ExpectSend(Response(404, R"({"success": false,
      "error": "requested lead not found",
      "error_info": "Object was not found.", "data": null,
      "additional_data": null})"));

  EXPECT_THAT(client_.GetLead(Creds(), kLeadId),
              StatusIs(absl::StatusCode::kNotFound,
                       Eq("pipedrive: HTTP 404: requested lead not found "
                          "(Object was not found.)")));
}

TEST_F(CurlPipedriveClientTest, DeleteLeadSendsDelete) {
  ExpectSend(Response(200, R"({"success": true, "data": {"id": ")" +
                               std::string(kLeadId) + R"("}})"));

  EXPECT_OK(client_.DeleteLead(Creds(), kLeadId));

  EXPECT_EQ(sent_.method, "DELETE");
  EXPECT_EQ(sent_.url,
            std::string("https://acme.pipedrive.com/api/v1/leads/") + kLeadId);
  EXPECT_EQ(sent_.headers, ApiHeaders());
  EXPECT_EQ(sent_.body, "");
}

TEST_F(CurlPipedriveClientTest, CreateLeadWithoutPersonSendsNothing) {
  LeadWrite write;
  write.title = "T";

  EXPECT_THAT(client_.CreateLead(Creds(), write),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("pipedrive: a new lead needs a title and a "
                          "person_id")));
}

// Deal fields.

TEST_F(CurlPipedriveClientTest, GetDealFieldOptionsSendsTheDocumentedRequest) {
  ExpectSend(Response(200, kChannelFieldResponse));

  absl::StatusOr<std::vector<FieldOption>> options =
      client_.GetDealFieldOptions(Creds(), "channel");

  ASSERT_OK(options);
  EXPECT_EQ(sent_.method, "GET");
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v2/dealFields/channel");
  EXPECT_EQ(sent_.headers, ApiHeaders());
  EXPECT_EQ(sent_.body, "");
  ASSERT_EQ(options->size(), 2U);
  EXPECT_EQ((*options)[0].id, 71);
  EXPECT_EQ((*options)[0].label, "Marketplace");
  EXPECT_EQ((*options)[1].id, 73);
  EXPECT_EQ((*options)[1].label, " Wave Connect ");
}

TEST_F(CurlPipedriveClientTest, GetDealFieldOptionsParsesTheSpecExample) {
  ExpectSend(Response(200, kDealFieldResponse));

  absl::StatusOr<std::vector<FieldOption>> options =
      client_.GetDealFieldOptions(Creds(), "title");

  ASSERT_OK(options);
  EXPECT_EQ(sent_.url, "https://acme.pipedrive.com/api/v2/dealFields/title");
  EXPECT_TRUE(options->empty());
}

TEST_F(CurlPipedriveClientTest, GetDealFieldOptionsReadsIntegerIds) {
  ExpectSend(Response(200, R"({"success": true, "data": {
    "field_name": "Region", "field_code": "9f3a", "field_type": "set",
    "is_custom_field": true, "is_optional_response_field": false,
    "options": [{"id": 5, "label": "North"}, {"id": 6}]}})"));

  absl::StatusOr<std::vector<FieldOption>> options =
      client_.GetDealFieldOptions(Creds(), "9f3a");

  ASSERT_OK(options);
  ASSERT_EQ(options->size(), 2U);
  EXPECT_EQ((*options)[0].id, 5);
  EXPECT_EQ((*options)[0].label, "North");
  EXPECT_EQ((*options)[1].id, 6);
  EXPECT_EQ((*options)[1].label, "");
}

TEST_F(CurlPipedriveClientTest, DealFieldCodeIsEscapedInThePath) {
  ExpectSend(Response(200, kDealFieldResponse));

  ASSERT_OK(client_.GetDealFieldOptions(Creds(), "../users/me?x=1 #"));

  EXPECT_EQ(sent_.url,
            "https://acme.pipedrive.com/api/v2/dealFields/"
            "..%2Fusers%2Fme%3Fx%3D1%20%23");
}

TEST_F(CurlPipedriveClientTest, MalformedDealFieldResponsesAreInternal) {
  const std::vector<std::string> bodies = {
      "<html><body>maintenance</body></html>",
      R"({"success": true, "data": {"options": [{"id": 1, "la)",
      R"({"success": false, "data": {"options": null}})",
      R"({"success": true})",
      R"({"success": true, "data": null})",
      R"({"success": true, "data": [{"id": 1, "label": "A"}]})",
      R"({"success": true, "data": {"options": {"id": 1}}})",
      R"({"success": true, "data": {"options": [7]}})",
      R"({"success": true, "data": {"options": [{"label": "A"}]}})",
      R"({"success": true, "data": {"options": [{"id": null}]}})",
      R"({"success": true, "data": {"options": [{"id": 1.5}]}})",
      R"({"success": true, "data": {"options": [{"id": "web"}]}})",
      R"({"success": true, "data": {"options": [{"id": " 73"}]}})",
      R"({"success": true, "data": {"options": [{"id": ""}]}})",
      R"({"success": true,
          "data": {"options": [{"id": "99999999999999999999"}]}})",
      R"({"success": true, "data": {"options": [{"id": 1, "label": 2}]}})",
      "",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    ExpectSend(Response(200, body));

    EXPECT_THAT(client_.GetDealFieldOptions(Creds(), "channel"),
                StatusIs(absl::StatusCode::kInternal,
                         Eq("pipedrive: malformed response to GET "
                            "/api/v2/dealFields/{field_code}")));
  }
}

TEST_F(CurlPipedriveClientTest, DealFieldsWithoutDealScopeArePermissionDenied) {
  ExpectSend(Response(403, R"({"success": false,
      "error": "Scope and URL mismatch", "errorCode": 403,
      "error_info": "Please check developers.pipedrive.com"})"));

  EXPECT_THAT(client_.GetDealFieldOptions(Creds(), "channel"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       Eq("pipedrive: HTTP 403: Scope and URL mismatch "
                          "(Please check developers.pipedrive.com)")));
}

TEST_F(CurlPipedriveClientTest, EmptyDealFieldCodeSendsNothing) {
  EXPECT_THAT(client_.GetDealFieldOptions(Creds(), ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("pipedrive: deal field code must not be empty")));
}

// Failures common to every API call.

TEST_F(CurlPipedriveClientTest, MalformedSuccessResponsesAreInternal) {
  const std::vector<std::string> bodies = {
      "<html><body>maintenance</body></html>",
      R"({"success": true, "data": {"id": 1, "na)",
      R"({"success": false, "data": {"id": 1}})",
      R"({"success": true})",
      R"({"success": true, "data": null})",
      R"({"success": true, "data": {"id": "1"}})",
      R"({"success": true, "data": {"id": 1.5}})",
      R"({"success": true, "data": {"id": 18446744073709551615}})",
      R"({"success": true, "data": {"id": 1, "emails": ["a@b.c"]}})",
      R"({"success": true, "data": {"id": 1, "emails": [{"label": "w"}]}})",
      R"({"success": true, "data": {"id": 1, "owner_id": {"id": 2}}})",
      R"({"success": true, "data": {"id": 1, "is_deleted": "no"}})",
      "",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    ExpectSend(Response(200, body));

    EXPECT_THAT(client_.GetPerson(Creds(), 1),
                StatusIs(absl::StatusCode::kInternal,
                         Eq("pipedrive: malformed response to GET "
                            "/api/v2/persons/{id}")));
  }
}

TEST_F(CurlPipedriveClientTest, MalformedLeadAndUserResponsesAreInternal) {
  ExpectSend(Response(201, R"({"success": true, "data": {"id": 5}})"));
  LeadWrite lead;
  lead.title = "T";
  lead.person_id = 1;
  EXPECT_THAT(client_.CreateLead(Creds(), lead),
              StatusIs(absl::StatusCode::kInternal,
                       Eq("pipedrive: malformed response to POST "
                          "/api/v1/leads")));

  ExpectSend(Response(200, R"({"success": true, "data": {"id": 1}})"));
  EXPECT_THAT(client_.GetCurrentUser(Creds()),
              StatusIs(absl::StatusCode::kInternal,
                       Eq("pipedrive: malformed response to GET "
                          "/api/v1/users/me")));

  ExpectSend(Response(200, R"({"success": true, "data": {"id": 1}})"));
  EXPECT_THAT(client_.ListUsers(Creds()),
              StatusIs(absl::StatusCode::kInternal,
                       Eq("pipedrive: malformed response to GET "
                          "/api/v1/users")));

  ExpectSend(Response(200, "<html></html>"));
  EXPECT_THAT(client_.DeleteLead(Creds(), kLeadId),
              StatusIs(absl::StatusCode::kInternal,
                       Eq("pipedrive: malformed response to DELETE "
                          "/api/v1/leads/{id}")));
}

TEST_F(CurlPipedriveClientTest, InvalidApiDomainSendsNothing) {
  for (const std::string domain :
       {"", "acme.pipedrive.com", "ftp://acme.pipedrive.com", "https://",
        "https:///path", "https://acme.pipedrive.com/?x=1",
        "https://acme.pipedrive.com\r\nX: y", "javascript:alert(1)"}) {
    SCOPED_TRACE(domain);
    Credentials creds = Creds();
    creds.api_domain = domain;

    EXPECT_THAT(client_.GetPerson(creds, 1),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         Eq("pipedrive: api_domain must be an http(s) URL")));
  }
}

TEST_F(CurlPipedriveClientTest, HttpApiDomainIsAccepted) {
  ExpectSend(Response(200, kPersonResponse));
  Credentials creds = Creds();
  creds.api_domain = "http://127.0.0.1:8080//";

  ASSERT_OK(client_.GetPerson(creds, 1));

  EXPECT_EQ(sent_.url, "http://127.0.0.1:8080/api/v2/persons/1");
}

TEST_F(CurlPipedriveClientTest, ApiTransportFailureKeepsItsCode) {
  ExpectSend(absl::DeadlineExceededError("Operation timed out"));

  EXPECT_THAT(client_.GetPerson(Creds(), 1),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       Eq("pipedrive: GET /api/v2/persons/{id}: Operation "
                          "timed out")));
}

TEST_F(CurlPipedriveClientTest, RateLimitedCallCarriesDetails) {
  HttpResponse response =
      Response(429, R"({"success": false, "error": "Request over limit"})");
  response.headers.emplace_back("x-ratelimit-remaining", "0");
  response.headers.emplace_back("x-ratelimit-reset", "2");
  ExpectSend(response);

  absl::StatusOr<Lead> lead = client_.GetLead(Creds(), kLeadId);

  EXPECT_THAT(lead, StatusIs(absl::StatusCode::kResourceExhausted,
                             Eq("pipedrive: HTTP 429: Request over limit")));
  const std::optional<HttpErrorDetails> details =
      GetHttpErrorDetails(lead.status());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->http_status, 429);
  EXPECT_EQ(details->ratelimit_remaining, std::optional<int>(0));
  EXPECT_EQ(details->ratelimit_reset,
            std::optional<absl::Duration>(absl::Seconds(2)));
}

TEST_F(CurlPipedriveClientTest, ExpiredTokenIsUnauthenticatedWithoutToken) {
  ExpectSend(Response(401, R"({"success": false,
      "error": "unauthorized access", "errorCode": 401})"));

  absl::StatusOr<CurrentUser> user = client_.GetCurrentUser(Creds());

  EXPECT_THAT(user, StatusIs(absl::StatusCode::kUnauthenticated,
                             AllOf(Eq("pipedrive: HTTP 401: unauthorized "
                                      "access"),
                                   Not(HasSubstr(kAccessToken)))));
}

TEST_F(CurlPipedriveClientTest, EmptyAccessTokenSendsNothing) {
  Credentials creds = Creds();
  creds.access_token.clear();

  EXPECT_THAT(client_.ListUsers(creds),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("pipedrive: credentials carry no access token")));
}

}  // namespace
}  // namespace wave::pipedrive
