#include "server/retry_policy.h"

#include "client/http_status.h"
#include "client/http_transport.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace wave::pipedrive {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

RetryPolicy PolicyWith(double u, RetryPolicy::Options options = {}) {
  return RetryPolicy(
      options, [] { return kNow; }, [u] { return u; });
}

// The status the Pipedrive client returns for an HTTP answer.
absl::Status FromHttp(
    int status, std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.headers = std::move(headers);
  return StatusFromHttp(response);
}

TEST(RetryPolicy, InvalidArgumentIsPermanent) {
  const RetryPolicy policy = PolicyWith(0.5);

  const RetryDecision from_400 = policy.Decide(FromHttp(400), 0);
  const RetryDecision from_422 = policy.Decide(FromHttp(422), 7);

  EXPECT_FALSE(from_400.retry);
  EXPECT_EQ(from_400.at, absl::InfiniteFuture());
  EXPECT_FALSE(from_422.retry);
  EXPECT_EQ(from_422.at, absl::InfiniteFuture());
}

TEST(RetryPolicy, OkIsNotRetried) {
  const RetryDecision decision = PolicyWith(0.5).Decide(absl::OkStatus(), 3);

  EXPECT_FALSE(decision.retry);
  EXPECT_EQ(decision.at, absl::InfiniteFuture());
}

TEST(RetryPolicy, TooManyRequestsWaitsForTheResetPlusJitter) {
  const absl::Status error = FromHttp(429, {{"x-ratelimit-limit", "80"},
                                            {"x-ratelimit-remaining", "0"},
                                            {"x-ratelimit-reset", "2"}});
  ASSERT_EQ(error.code(), absl::StatusCode::kResourceExhausted);

  const RetryDecision low = PolicyWith(0.0).Decide(error, 4);
  const RetryDecision mid = PolicyWith(0.5).Decide(error, 4);
  const RetryDecision high = PolicyWith(1.0).Decide(error, 4);

  EXPECT_TRUE(low.retry);
  EXPECT_EQ(low.at, kNow + absl::Seconds(2));
  EXPECT_TRUE(mid.retry);
  EXPECT_EQ(mid.at, kNow + absl::Milliseconds(2500));
  EXPECT_TRUE(high.retry);
  EXPECT_EQ(high.at, kNow + absl::Seconds(3));
}

TEST(RetryPolicy, TooManyRequestsResetIsBoundedByTheCap) {
  const absl::Status error = FromHttp(429, {{"x-ratelimit-reset", "86400"}});

  const RetryDecision decision = PolicyWith(0.5).Decide(error, 0);

  EXPECT_TRUE(decision.retry);
  EXPECT_EQ(decision.at, kNow + absl::Minutes(30));
}

TEST(RetryPolicy, TooManyRequestsWithoutResetBacksOff) {
  const absl::Status from_http = FromHttp(429);
  // What RateLimitedTransport returns when it refuses to send.
  const absl::Status from_pacing =
      absl::ResourceExhaustedError("pipedrive: rate limit window full");

  // Ceiling for attempts=2: 5 s * 4 = 20 s.
  EXPECT_EQ(PolicyWith(0.5).Decide(from_http, 2).at, kNow + absl::Seconds(10));
  EXPECT_EQ(PolicyWith(1.0).Decide(from_pacing, 2).at,
            kNow + absl::Seconds(20));
  EXPECT_TRUE(PolicyWith(0.0).Decide(from_pacing, 2).retry);
  EXPECT_EQ(PolicyWith(0.0).Decide(from_pacing, 2).at, kNow);
}

TEST(RetryPolicy, TransientErrorsUseFullJitterBackoff) {
  const std::vector<absl::Status> errors = {
      FromHttp(500),
      FromHttp(503),
      FromHttp(401),
      FromHttp(404),
      FromHttp(405),
      FromHttp(302),
      absl::UnavailableError("connection refused"),
      absl::DeadlineExceededError("timeout"),
      absl::InternalError("bad"),
      absl::UnknownError("odd"),
      absl::AbortedError("conflict"),
      absl::UnauthenticatedError("invalid_grant: gone"),
  };
  for (const absl::Status& error : errors) {
    SCOPED_TRACE(error.ToString());
    // attempts=0: ceiling 5 s; attempts=3: 40 s.
    const RetryDecision first = PolicyWith(1.0).Decide(error, 0);
    EXPECT_TRUE(first.retry);
    EXPECT_EQ(first.at, kNow + absl::Seconds(5));
    EXPECT_EQ(PolicyWith(0.0).Decide(error, 0).at, kNow);
    EXPECT_EQ(PolicyWith(0.5).Decide(error, 3).at, kNow + absl::Seconds(20));
    EXPECT_EQ(PolicyWith(1.0).Decide(error, 3).at, kNow + absl::Seconds(40));
  }
}

TEST(RetryPolicy, BackoffStopsAtTheCap) {
  const absl::Status error = absl::UnavailableError("down");

  // 5 s * 2^8 = 1280 s is below 30 min; 5 s * 2^9 = 2560 s is above.
  EXPECT_EQ(PolicyWith(1.0).Decide(error, 8).at, kNow + absl::Seconds(1280));
  EXPECT_EQ(PolicyWith(1.0).Decide(error, 9).at, kNow + absl::Minutes(30));
  EXPECT_EQ(PolicyWith(0.5).Decide(error, 9).at, kNow + absl::Minutes(15));
}

TEST(RetryPolicy, LargeAttemptCountsDoNotOverflow) {
  const absl::Status error = absl::UnavailableError("down");

  for (int attempts : {31, 63, 64, 1000, std::numeric_limits<int>::max()}) {
    SCOPED_TRACE(attempts);
    EXPECT_EQ(PolicyWith(1.0).Decide(error, attempts).at,
              kNow + absl::Minutes(30));
    EXPECT_EQ(PolicyWith(0.5).Decide(error, attempts).at,
              kNow + absl::Minutes(15));
  }
}

TEST(RetryPolicy, NegativeAttemptsCountAsNone) {
  const RetryDecision decision =
      PolicyWith(1.0).Decide(absl::UnavailableError("down"), -5);

  EXPECT_EQ(decision.at, kNow + absl::Seconds(5));
}

TEST(RetryPolicy, PermissionAndPreconditionFailuresRetryAtTheCap) {
  const RetryPolicy policy = PolicyWith(0.0);

  for (const absl::Status& error :
       {FromHttp(402), FromHttp(403),
        absl::FailedPreconditionError("pipedrive rejected the client"),
        absl::PermissionDeniedError("scope")}) {
    SCOPED_TRACE(error.ToString());
    const RetryDecision decision = policy.Decide(error, 0);
    EXPECT_TRUE(decision.retry);
    EXPECT_EQ(decision.at, kNow + absl::Minutes(30));
  }
}

TEST(RetryPolicy, OptionsAreHonoured) {
  RetryPolicy::Options options;
  options.base = absl::Seconds(1);
  options.cap = absl::Seconds(10);
  options.rate_limit_jitter = absl::Seconds(4);
  const absl::Status limited = FromHttp(429, {{"x-ratelimit-reset", "1"}});

  EXPECT_EQ(PolicyWith(1.0, options).Decide(absl::AbortedError("x"), 2).at,
            kNow + absl::Seconds(4));
  EXPECT_EQ(PolicyWith(1.0, options).Decide(absl::AbortedError("x"), 5).at,
            kNow + absl::Seconds(10));
  EXPECT_EQ(PolicyWith(0.5, options).Decide(limited, 0).at,
            kNow + absl::Seconds(3));
  EXPECT_EQ(PolicyWith(0.0, options).Decide(FromHttp(403), 0).at,
            kNow + absl::Seconds(10));
}

TEST(RetryPolicy, UniformValuesOutsideTheUnitIntervalAreClamped) {
  const absl::Status error = absl::UnavailableError("down");

  EXPECT_EQ(PolicyWith(7.0).Decide(error, 0).at, kNow + absl::Seconds(5));
  EXPECT_EQ(PolicyWith(-1.0).Decide(error, 0).at, kNow);
  EXPECT_EQ(PolicyWith(std::nan("")).Decide(error, 0).at, kNow);
}

TEST(RetryPolicy, DefaultUniformSourceStaysWithinTheCeiling) {
  const RetryPolicy policy(RetryPolicy::Options{}, [] { return kNow; });
  const absl::Status error = absl::UnavailableError("down");

  bool saw_spread = false;
  for (int i = 0; i < 200; ++i) {
    const absl::Time at = policy.Decide(error, 1).at;
    ASSERT_GE(at, kNow);
    ASSERT_LE(at, kNow + absl::Seconds(10));
    if (at != kNow + absl::Seconds(10) && at != kNow) saw_spread = true;
  }
  EXPECT_TRUE(saw_spread);
}

}  // namespace
}  // namespace wave::pipedrive
