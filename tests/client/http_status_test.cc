#include "client/http_status.h"

#include "client/http_transport.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::EndsWith;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::wave::testing::StatusIs;

HttpResponse Response(
    int status, std::string body = "",
    std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

TEST(StatusFromHttp, SuccessCodesAreOk) {
  for (int code : {200, 201, 204, 299}) {
    SCOPED_TRACE(code);
    EXPECT_OK(StatusFromHttp(Response(code, "<html>whatever</html>")));
  }
}

TEST(StatusFromHttp, MapsEveryDocumentedCode) {
  struct Row {
    int http_status;
    absl::StatusCode code;
  };
  const std::vector<Row> rows = {
      {400, absl::StatusCode::kInvalidArgument},
      {401, absl::StatusCode::kUnauthenticated},
      {402, absl::StatusCode::kFailedPrecondition},
      {403, absl::StatusCode::kPermissionDenied},
      {404, absl::StatusCode::kNotFound},
      {405, absl::StatusCode::kInternal},
      {409, absl::StatusCode::kInternal},
      {410, absl::StatusCode::kNotFound},
      {415, absl::StatusCode::kInternal},
      {418, absl::StatusCode::kInternal},
      {422, absl::StatusCode::kInvalidArgument},
      {429, absl::StatusCode::kResourceExhausted},
      {500, absl::StatusCode::kUnavailable},
      {501, absl::StatusCode::kUnavailable},
      {502, absl::StatusCode::kUnavailable},
      {503, absl::StatusCode::kUnavailable},
      {504, absl::StatusCode::kUnavailable},
      {599, absl::StatusCode::kUnavailable},
      {302, absl::StatusCode::kUnknown},
      {100, absl::StatusCode::kUnknown},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.http_status);
    EXPECT_THAT(StatusFromHttp(Response(row.http_status)),
                StatusIs(row.code, Eq("pipedrive: HTTP " +
                                      std::to_string(row.http_status))));
  }
}

TEST(StatusFromHttp, MessageCarriesErrorAndErrorInfo) {
  const std::string body =
      R"({"success": false, "error": "Entity was not found",
          "error_info": "Object was not found.", "data": null,
          "additional_data": null})";

  EXPECT_THAT(StatusFromHttp(Response(404, body)),
              StatusIs(absl::StatusCode::kNotFound,
                       Eq("pipedrive: HTTP 404: Entity was not found "
                          "(Object was not found.)")));
}

TEST(StatusFromHttp, MessageCarriesErrorWithoutErrorInfo) {
  const std::string body =
      R"({"success": false, "error": "unauthorized access", "errorCode": 401})";

  EXPECT_THAT(StatusFromHttp(Response(401, body)),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       Eq("pipedrive: HTTP 401: unauthorized access")));
}

TEST(StatusFromHttp, HtmlBodyGivesJustTheCode) {
  const std::string body =
      "<!DOCTYPE html><html><head><title>Access denied | Cloudflare</title>"
      "</head><body>error: you are blocked</body></html>";

  EXPECT_THAT(
      StatusFromHttp(Response(403, body)),
      StatusIs(absl::StatusCode::kPermissionDenied, Eq("pipedrive: HTTP 403")));
}

TEST(StatusFromHttp, GarbageOrNonObjectBodyGivesJustTheCode) {
  for (const std::string body :
       {R"({"error": "trunc)", "\x01\x02\xff", R"(["error"])", R"("error")",
        R"({"error": 42, "error_info": {"x": 1}})"}) {
    SCOPED_TRACE(body);
    EXPECT_THAT(
        StatusFromHttp(Response(500, body)),
        StatusIs(absl::StatusCode::kUnavailable, Eq("pipedrive: HTTP 500")));
  }
}

TEST(StatusFromHttp, LongErrorIsTruncated) {
  const std::string body =
      R"({"success": false, "error": ")" + std::string(5000, 'x') + R"("})";

  const absl::Status status = StatusFromHttp(Response(400, body));

  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               StartsWith("pipedrive: HTTP 400: xxx")));
  EXPECT_THAT(std::string(status.message()), EndsWith("..."));
  EXPECT_LE(status.message().size(), 300U);
}

TEST(StatusFromHttp, ControlCharactersAreReplaced) {
  const std::string body = R"({"error": "bad\nINFO forged log line\r\u0007"})";

  EXPECT_THAT(StatusFromHttp(Response(400, body)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("pipedrive: HTTP 400: bad INFO forged log line")));
}

TEST(GetHttpErrorDetails, RoundTripsRateLimitHeaders) {
  const absl::Status status = StatusFromHttp(
      Response(429, R"({"success": false, "error": "Request over limit"})",
               {{"x-ratelimit-limit", "80"},
                {"x-ratelimit-remaining", "0"},
                {"x-ratelimit-reset", "2"}}));

  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted,
                               Eq("pipedrive: HTTP 429: Request over limit")));
  const std::optional<HttpErrorDetails> details = GetHttpErrorDetails(status);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->http_status, 429);
  EXPECT_EQ(details->ratelimit_limit, std::optional<int>(80));
  EXPECT_EQ(details->ratelimit_remaining, std::optional<int>(0));
  EXPECT_EQ(details->ratelimit_reset,
            std::optional<absl::Duration>(absl::Seconds(2)));
}

TEST(GetHttpErrorDetails, AbsentHeadersStayAbsent) {
  const absl::Status status = StatusFromHttp(Response(503));

  const std::optional<HttpErrorDetails> details = GetHttpErrorDetails(status);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->http_status, 503);
  EXPECT_EQ(details->ratelimit_limit, std::nullopt);
  EXPECT_EQ(details->ratelimit_remaining, std::nullopt);
  EXPECT_EQ(details->ratelimit_reset, std::nullopt);
}

TEST(GetHttpErrorDetails, NoneOnOkOrForeignStatus) {
  EXPECT_EQ(GetHttpErrorDetails(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(GetHttpErrorDetails(absl::UnavailableError("connect refused")),
            std::nullopt);
}

TEST(GetHttpErrorDetails, SurvivesACopyWithNewMessage) {
  const absl::Status original = StatusFromHttp(Response(404));
  absl::Status copy(original.code(), "rewritten");
  original.ForEachPayload(
      [&copy](absl::string_view url, const absl::Cord& payload) {
        copy.SetPayload(url, payload);
      });

  const std::optional<HttpErrorDetails> details = GetHttpErrorDetails(copy);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->http_status, 404);
}

TEST(StatusFromTokenEndpoint, InvalidGrantIsUnauthenticated) {
  const absl::Status status =
      StatusFromTokenEndpoint(Response(400, R"({"success": false,
               "error": "Invalid grant: refresh_token is invalid"})"));

  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kUnauthenticated,
                       Eq("invalid_grant: pipedrive: HTTP 400: Invalid grant: "
                          "refresh_token is invalid")));
  const std::optional<HttpErrorDetails> details = GetHttpErrorDetails(status);
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->http_status, 400);
}

TEST(StatusFromTokenEndpoint, RfcShapedInvalidGrantIsUnauthenticated) {
  EXPECT_THAT(
      StatusFromTokenEndpoint(Response(400, R"({"error": "invalid_grant",
                   "error_description": "authorization_code has expired"})")),
      StatusIs(absl::StatusCode::kUnauthenticated,
               Eq("invalid_grant: pipedrive: HTTP 400: invalid_grant "
                  "(authorization_code has expired)")));
}

TEST(StatusFromTokenEndpoint, PlainTextInvalidGrantIsUnauthenticated) {
  EXPECT_THAT(StatusFromTokenEndpoint(Response(
                  400, "INVALID GRANT: authorization_code is invalid")),
              StatusIs(absl::StatusCode::kUnauthenticated,
                       Eq("invalid_grant: pipedrive: HTTP 400")));
}

TEST(StatusFromTokenEndpoint, UnauthorizedMeansBadClientCredentials) {
  EXPECT_THAT(
      StatusFromTokenEndpoint(Response(
          401, R"({"success": false, "error": "unauthorized access"})")),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               Eq("pipedrive rejected the client credentials: HTTP 401: "
                  "unauthorized access")));
}

TEST(StatusFromTokenEndpoint, InvalidClientMeansBadClientCredentials) {
  EXPECT_THAT(StatusFromTokenEndpoint(Response(
                  400, R"({"error": "Invalid client: client is invalid"})")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       StartsWith("pipedrive rejected the client credentials: "
                                  "HTTP 400")));
}

TEST(StatusFromTokenEndpoint, OtherErrorsFollowTheGeneralMapping) {
  EXPECT_THAT(
      StatusFromTokenEndpoint(Response(
          400, R"({"error": "Invalid request: redirect_uri is invalid"})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               Eq("pipedrive: HTTP 400: Invalid request: redirect_uri is "
                  "invalid")));
  EXPECT_THAT(
      StatusFromTokenEndpoint(Response(503, "<html>Whoops!</html>")),
      StatusIs(absl::StatusCode::kUnavailable, Eq("pipedrive: HTTP 503")));
  EXPECT_OK(StatusFromTokenEndpoint(Response(200, "{}")));
}

TEST(StatusFromTokenEndpoint, InvalidGrantOnlyCountsOn400) {
  EXPECT_THAT(StatusFromTokenEndpoint(
                  Response(500, R"({"error": "invalid grant, or not"})")),
              StatusIs(absl::StatusCode::kUnavailable,
                       Not(HasSubstr("invalid_grant:"))));
}

TEST(ParseRateLimit, ReadsAllThreeHeaders) {
  const RateLimitInfo info =
      ParseRateLimit(Response(200, "",
                              {{"x-ratelimit-limit", "160"},
                               {"x-ratelimit-remaining", "159"},
                               {"x-ratelimit-reset", "1.5"}}));

  EXPECT_EQ(info.ratelimit_limit, std::optional<int>(160));
  EXPECT_EQ(info.ratelimit_remaining, std::optional<int>(159));
  EXPECT_EQ(info.ratelimit_reset,
            std::optional<absl::Duration>(absl::Milliseconds(1500)));
}

TEST(ParseRateLimit, IgnoresMissingNegativeAndGarbageValues) {
  const RateLimitInfo info =
      ParseRateLimit(Response(200, "",
                              {{"x-ratelimit-limit", "lots"},
                               {"x-ratelimit-remaining", "-1"},
                               {"x-ratelimit-reset", "nan"}}));
  const RateLimitInfo none = ParseRateLimit(Response(200));

  EXPECT_EQ(info.ratelimit_limit, std::nullopt);
  EXPECT_EQ(info.ratelimit_remaining, std::nullopt);
  EXPECT_EQ(info.ratelimit_reset, std::nullopt);
  EXPECT_EQ(none.ratelimit_limit, std::nullopt);
  EXPECT_EQ(none.ratelimit_remaining, std::nullopt);
  EXPECT_EQ(none.ratelimit_reset, std::nullopt);
}

TEST(HttpResponse, HeaderReturnsFirstMatchOrNothing) {
  const HttpResponse response =
      Response(200, "", {{"set-cookie", "a"}, {"set-cookie", "b"}});

  EXPECT_EQ(response.Header("set-cookie"), std::optional<std::string>("a"));
  EXPECT_EQ(response.Header("x-missing"), std::nullopt);
}

}  // namespace
}  // namespace wave::pipedrive
