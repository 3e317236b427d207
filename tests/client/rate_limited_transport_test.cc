#include "client/rate_limited_transport.h"

#include "client/http_transport.h"
#include "tests/client/mock_http_transport.h"
#include "tests/support/status_matchers.h"

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::StrictMock;
using ::wave::testing::StatusIs;

constexpr char kApi[] = "https://acme.pipedrive.com";
constexpr char kTokenA[] = "v1u:token-a";
constexpr char kTokenB[] = "v1u:token-b";

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Time for one thread: sleeping moves it forward by exactly the duration.
class FakeClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void Sleep(absl::Duration duration) {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(duration);
    now_ += duration;
  }

  void Advance(absl::Duration duration) {
    absl::MutexLock lock(&mu_);
    now_ += duration;
  }

  std::vector<absl::Duration> sleeps() {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = kStart;
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(mu_);
};

// Virtual time shared by several threads. It moves only when every running
// thread sleeps, and then to the earliest wake-up, so that all a thread does
// between two sleeps happens at one instant, as if computers were infinitely
// fast. Times seen by the transport and by the inner transport thus agree.
class SimulatedClock {
 public:
  explicit SimulatedClock(int threads) : running_(threads) {}

  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void Sleep(absl::Duration duration) {
    absl::MutexLock lock(&mu_);
    const absl::Time wake = now_ + duration;
    wakeups_.insert(wake);
    --running_;
    MaybeAdvance();

    auto due = [this, wake]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return now_ >= wake; };
    mu_.Await(absl::Condition(&due));
    wakeups_.erase(wakeups_.find(wake));
    ++running_;
  }

  // Called by each thread when it has nothing more to do.
  void Done() {
    absl::MutexLock lock(&mu_);
    --running_;
    MaybeAdvance();
  }

 private:
  void MaybeAdvance() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // A wake-up at or before now belongs to a thread that is about to run.
    if (running_ > 0 || wakeups_.empty() || *wakeups_.begin() <= now_) return;
    now_ = *wakeups_.begin();
  }

  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = kStart;
  int running_ ABSL_GUARDED_BY(mu_);
  std::multiset<absl::Time> wakeups_ ABSL_GUARDED_BY(mu_);
};

RateLimitedTransportOptions OptionsWith(FakeClock& clock) {
  RateLimitedTransportOptions options;
  options.clock = [&clock] { return clock.Now(); };
  options.sleeper = [&clock](absl::Duration d) { clock.Sleep(d); };
  return options;
}

HttpRequest Request(const std::string& authorization,
                    const std::string& path = "/api/v2/persons/1") {
  HttpRequest request;
  request.method = "GET";
  request.url = absl::StrCat(kApi, path);
  request.headers = {{"Authorization", authorization},
                     {"Accept", "application/json"}};
  return request;
}

HttpRequest Bearer(const std::string& token,
                   const std::string& path = "/api/v2/persons/1") {
  return Request(absl::StrCat("Bearer ", token), path);
}

// An answer with the rate-limit headers that are given.
HttpResponse Answer(int status, std::optional<int> limit = std::nullopt,
                    std::optional<int> remaining = std::nullopt,
                    std::optional<std::string> reset = std::nullopt) {
  HttpResponse response;
  response.status = status;
  if (limit.has_value()) {
    response.headers.emplace_back("x-ratelimit-limit", absl::StrCat(*limit));
  }
  if (remaining.has_value()) {
    response.headers.emplace_back("x-ratelimit-remaining",
                                  absl::StrCat(*remaining));
  }
  if (reset.has_value()) {
    response.headers.emplace_back("x-ratelimit-reset", *reset);
  }
  response.body = status == 429
                      ? R"({"success":false,"error":"Request over limit"})"
                      : R"({"success":true,"data":{}})";
  return response;
}

// Sends `count` requests, each expected to get an answer.
void SendAll(RateLimitedTransport& transport, const HttpRequest& request,
             int count) {
  for (int i = 0; i < count; ++i) EXPECT_OK(transport.Send(request));
}

TEST(RateLimitedTransport, BurstFromFourThreadsNeverExceedsLimitInAnyWindow) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 125;
  SimulatedClock clock(kThreads);
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  absl::Mutex sent_mu;
  std::vector<absl::Time> sent;
  EXPECT_CALL(*inner, Send(_))
      .Times(kThreads * kPerThread)
      .WillRepeatedly(Invoke([&](const HttpRequest&) {
        absl::MutexLock lock(&sent_mu);
        sent.push_back(clock.Now());
        return Answer(200, 80);
      }));
  RateLimitedTransportOptions options;
  options.clock = [&clock] { return clock.Now(); };
  options.sleeper = [&clock](absl::Duration d) { clock.Sleep(d); };
  options.max_wait = absl::InfiniteDuration();
  RateLimitedTransport transport(inner, options);

  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<HttpResponse> response = transport.Send(Bearer(kTokenA));
        if (!response.ok() || response->status != 200) ++failures[t];
      }
      clock.Done();
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_THAT(failures, ElementsAre(0, 0, 0, 0));
  ASSERT_EQ(sent.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::sort(sent.begin(), sent.end());
  std::size_t most_in_window = 0;
  for (std::size_t first = 0, last = 0; first < sent.size(); ++first) {
    while (last < sent.size() && sent[last] < sent[first] + absl::Seconds(2)) {
      ++last;
    }
    most_in_window = std::max(most_in_window, last - first);
  }
  // 80 learned from the header, less the safety margin of 2.
  EXPECT_EQ(most_in_window, 78U);
  // 500 = 6 * 78 + 32: seven full-speed windows, the last opening at 12 s.
  EXPECT_EQ(sent.back(), kStart + absl::Seconds(12));
  const RateLimitedTransport::Stats totals = transport.Snapshot();
  EXPECT_EQ(totals.requests_sent, kThreads * kPerThread);
  EXPECT_EQ(totals.rejected, 0);
}

TEST(RateLimitedTransport, LearnsALowerLimitFromTheHeader) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  std::vector<absl::Time> sent;
  EXPECT_CALL(*inner, Send(_)).Times(9).WillRepeatedly(Invoke([&](auto&) {
    sent.push_back(clock.Now());
    return Answer(200, 10, 5);
  }));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 9);

  // 10 - 2 requests go at once; the ninth waits for the first to age out.
  ASSERT_EQ(sent.size(), 9U);
  EXPECT_EQ(sent[7], kStart);
  EXPECT_EQ(sent[8], kStart + absl::Seconds(2));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  EXPECT_EQ(transport.TokenStats(kTokenA)->time_waited, absl::Seconds(2));
}

TEST(RateLimitedTransport, LearnsAHigherLimitFromTheHeader) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .Times(31)
      .WillRepeatedly(Return(Answer(200, 32)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 4;
  options.safety_margin = 1;
  RateLimitedTransport transport(inner, options);

  SendAll(transport, Bearer(kTokenA), 31);

  EXPECT_THAT(clock.sleeps(), ElementsAre());
  EXPECT_EQ(transport.TokenStats(kTokenA)->requests_sent, 31);
}

TEST(RateLimitedTransport, DefaultLimitAppliesUntilTheHeaderIsSeen) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(4).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 5;
  options.safety_margin = 2;
  RateLimitedTransport transport(inner, options);

  SendAll(transport, Bearer(kTokenA), 4);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, BackgroundRequestsLeaveTheRealtimeShareFree) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 22;
  options.safety_margin = 2;
  options.realtime_share = 0.1;
  RateLimitedTransport transport(inner, options);
  HttpRequest background = Bearer(kTokenA);
  background.background = true;

  // 20 usable, 2 of them kept for real-time requests.
  SendAll(transport, background, 18);
  EXPECT_THAT(clock.sleeps(), ElementsAre());
  SendAll(transport, Bearer(kTokenA), 2);
  EXPECT_THAT(clock.sleeps(), ElementsAre());

  // The window is full for both kinds now.
  SendAll(transport, background, 1);
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  EXPECT_EQ(transport.TokenStats(kTokenA)->requests_sent, 21);
}

TEST(RateLimitedTransport, RemainingZeroHoldsTheTokenUntilReset) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  std::vector<absl::Time> sent;
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Invoke([&](auto&) {
        sent.push_back(clock.Now());
        return Answer(200, 80, 0, "1");
      }))
      .WillOnce(Invoke([&](auto&) {
        sent.push_back(clock.Now());
        return Answer(200, 80, 79, "2");
      }));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 2);

  EXPECT_THAT(sent, ElementsAre(kStart, kStart + absl::Seconds(1)));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(1)));
}

TEST(RateLimitedTransport, RemainingZeroWithoutResetHoldsOneWindow) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(Answer(200, 80, 0)))
      .WillOnce(Return(Answer(200, 80, 79)));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 2);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, TooManyRequestsIsReturnedAndHoldsTheToken) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(Answer(429, 80, 0, "3")))
      .WillOnce(Return(Answer(200, 80, 79, "2")));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  absl::StatusOr<HttpResponse> first = transport.Send(Bearer(kTokenA));
  ASSERT_OK(first);
  EXPECT_EQ(first->status, 429);
  EXPECT_EQ(first->body, R"({"success":false,"error":"Request over limit"})");
  EXPECT_THAT(clock.sleeps(), ElementsAre());

  absl::StatusOr<HttpResponse> second = transport.Send(Bearer(kTokenA));
  ASSERT_OK(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(3)));
  const RateLimitedTransport::Stats stats = *transport.TokenStats(kTokenA);
  EXPECT_EQ(stats.responses_429, 1);
  EXPECT_EQ(stats.requests_sent, 2);
  EXPECT_EQ(stats.time_waited, absl::Seconds(3));
  EXPECT_EQ(transport.Snapshot().responses_429, 1);
}

TEST(RateLimitedTransport, TooManyRequestsWithoutHeadersHoldsTwoSeconds) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(Answer(429)))
      .WillOnce(Return(Answer(200)));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 2);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, HoldIsBoundedByMaxHold) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(Answer(429, 80, 0, "86400")))
      .WillOnce(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.max_hold = absl::Seconds(5);
  RateLimitedTransport transport(inner, options);

  SendAll(transport, Bearer(kTokenA), 2);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(5)));
}

TEST(RateLimitedTransport, DifferentTokensDoNotBlockEachOther) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .Times(5)
      .WillRepeatedly(Invoke([](const HttpRequest& request) {
        return request.headers[0].second == absl::StrCat("Bearer ", kTokenA)
                   ? Answer(429, 2, 0, "5")
                   : Answer(200, 2, 1);
      }));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 2;
  options.safety_margin = 0;
  RateLimitedTransport transport(inner, options);

  // A is held for 5 s; B still has its own two slots.
  ASSERT_OK(transport.Send(Bearer(kTokenA)));
  ASSERT_OK(transport.Send(Bearer(kTokenB)));
  ASSERT_OK(transport.Send(Bearer(kTokenB)));
  EXPECT_THAT(clock.sleeps(), ElementsAre());

  // B's window is full now; A is still held: each waits for its own reason.
  ASSERT_OK(transport.Send(Bearer(kTokenB)));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  ASSERT_OK(transport.Send(Bearer(kTokenA)));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2), absl::Seconds(3)));
  EXPECT_EQ(transport.TrackedTokens(), 2U);
  EXPECT_EQ(transport.TokenStats(kTokenA)->requests_sent, 2);
  EXPECT_EQ(transport.TokenStats(kTokenB)->requests_sent, 3);
}

TEST(RateLimitedTransport, RefreshedTokenOfTheSameUserSharesItsWindow) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(4).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 2;
  options.safety_margin = 0;
  RateLimitedTransport transport(inner, options);
  auto as_user = [](const char* token, const char* user) {
    HttpRequest request = Bearer(token);
    request.rate_key = user;
    return request;
  };

  // Two requests fill the user's window; the token is refreshed.
  ASSERT_OK(transport.Send(as_user(kTokenA, "7000001:10001")));
  ASSERT_OK(transport.Send(as_user(kTokenA, "7000001:10001")));
  // The new token goes on in the same window: it waits for it to roll.
  ASSERT_OK(transport.Send(as_user(kTokenB, "7000001:10001")));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  // Another user of the company has a window of their own.
  ASSERT_OK(transport.Send(as_user(kTokenA, "7000001:10002")));
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  EXPECT_EQ(transport.TrackedTokens(), 2U);
}

TEST(RateLimitedTransport, RequestsWithoutBearerTokenAreNotPaced) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .Times(60)
      .WillRepeatedly(Return(Answer(429, 1, 0, "2")));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 1;
  options.safety_margin = 0;
  options.max_wait = absl::ZeroDuration();
  RateLimitedTransport transport(inner, options);
  HttpRequest no_auth = Bearer(kTokenA, "/oauth/token");
  no_auth.headers.erase(no_auth.headers.begin());

  for (int i = 0; i < 20; ++i) {
    EXPECT_OK(
        transport.Send(Request("Basic d2F2ZTpzM2NyM3Q=", "/oauth/token")));
    EXPECT_OK(transport.Send(no_auth));
    EXPECT_OK(transport.Send(Request("Bearer   ")));
  }

  EXPECT_THAT(clock.sleeps(), ElementsAre());
  EXPECT_EQ(transport.TrackedTokens(), 0U);
  EXPECT_EQ(transport.Snapshot().requests_sent, 0);
}

TEST(RateLimitedTransport, AuthorizationHeaderIsMatchedCaseInsensitively) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(2).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 1;
  options.safety_margin = 0;
  RateLimitedTransport transport(inner, options);
  HttpRequest lower = Bearer(kTokenA);
  lower.headers[0] = {"authorization", absl::StrCat("bearer ", kTokenA)};

  ASSERT_OK(transport.Send(Bearer(kTokenA)));
  ASSERT_OK(transport.Send(lower));

  // The same token under either spelling shares one window.
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  EXPECT_EQ(transport.TrackedTokens(), 1U);
}

TEST(RateLimitedTransport, SearchPathsUseTheSearchWindow) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  std::vector<absl::Time> searches;
  EXPECT_CALL(*inner, Send(_))
      .WillRepeatedly(Invoke([&](const HttpRequest& request) {
        if (absl::StrContains(request.url, "/search?") ||
            absl::StrContains(request.url, "/itemSearch?")) {
          searches.push_back(clock.Now());
        }
        return Answer(200, 80, 70);
      }));
  RateLimitedTransport transport(inner, OptionsWith(clock));
  const HttpRequest search =
      Bearer(kTokenA, "/api/v2/persons/search?term=a%40b.c&fields=email");

  // 10 - 2 searches go at once.
  SendAll(transport, search, 8);
  EXPECT_THAT(clock.sleeps(), ElementsAre());

  // Other requests of the token are not held back by the search window.
  SendAll(transport, Bearer(kTokenA, "/api/v2/persons/7"), 30);
  SendAll(transport, Bearer(kTokenA, "/api/v1/leads?search=x"), 1);
  EXPECT_THAT(clock.sleeps(), ElementsAre());

  SendAll(transport, Bearer(kTokenA, "/api/v1/itemSearch?term=x"), 1);
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
  ASSERT_EQ(searches.size(), 9U);
  EXPECT_EQ(searches[8], kStart + absl::Seconds(2));
  EXPECT_EQ(transport.TokenStats(kTokenA)->requests_sent, 40);
}

TEST(RateLimitedTransport, SearchRequestsAlsoTakeAGeneralSlot) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(4).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 3;
  options.safety_margin = 0;
  RateLimitedTransport transport(inner, options);

  SendAll(transport, Bearer(kTokenA, "/api/v2/persons/search?term=x"), 3);
  SendAll(transport, Bearer(kTokenA), 1);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, SearchLimitIsNotRaisedByTheHeader) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(9).WillRepeatedly(Return(Answer(200, 80)));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA, "/api/v2/leads/search?term=x"), 9);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, SearchHoldDoesNotHoldOtherRequests) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(Answer(429, 10, 0, "2")))
      .WillOnce(Return(Answer(200, 80, 79)))
      .WillOnce(Return(Answer(200, 10, 9)));
  RateLimitedTransport transport(inner, OptionsWith(clock));
  const HttpRequest search = Bearer(kTokenA, "/api/v2/persons/search?term=x");

  SendAll(transport, search, 1);
  SendAll(transport, Bearer(kTokenA), 1);
  EXPECT_THAT(clock.sleeps(), ElementsAre());
  SendAll(transport, search, 1);
  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, MaxWaitGivesResourceExhaustedWithoutSending) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(2).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 2;
  options.safety_margin = 0;
  options.max_wait = absl::Seconds(1);
  RateLimitedTransport transport(inner, options);

  SendAll(transport, Bearer(kTokenA), 2);
  EXPECT_THAT(transport.Send(Bearer(kTokenA)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "pipedrive: rate limit window full"));

  EXPECT_THAT(clock.sleeps(), ElementsAre());
  const RateLimitedTransport::Stats stats = *transport.TokenStats(kTokenA);
  EXPECT_EQ(stats.requests_sent, 2);
  EXPECT_EQ(stats.rejected, 1);
  EXPECT_EQ(transport.Snapshot().rejected, 1);
}

TEST(RateLimitedTransport, HoldLongerThanMaxWaitIsRefusedAtOnce) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).WillOnce(Return(Answer(429, 80, 0, "30")));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 1);
  EXPECT_THAT(transport.Send(Bearer(kTokenA)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "pipedrive: rate limit window full"));

  EXPECT_THAT(clock.sleeps(), ElementsAre());
}

TEST(RateLimitedTransport, WaitsExactlyUpToMaxWait) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(Answer(429, 80, 0, "10")))
      .WillOnce(Return(Answer(200)));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 2);

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(10)));
}

TEST(RateLimitedTransport, InnerErrorsAreReturnedAndStillTakeTheSlot) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Return(absl::UnavailableError("connection reset")))
      .WillOnce(Return(Answer(200)));
  RateLimitedTransportOptions options = OptionsWith(clock);
  options.default_limit = 1;
  options.safety_margin = 0;
  RateLimitedTransport transport(inner, options);

  EXPECT_THAT(transport.Send(Bearer(kTokenA)),
              StatusIs(absl::StatusCode::kUnavailable, "connection reset"));
  EXPECT_OK(transport.Send(Bearer(kTokenA)));

  EXPECT_THAT(clock.sleeps(), ElementsAre(absl::Seconds(2)));
}

TEST(RateLimitedTransport, ForgetsTokensIdleForTenMinutes) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  EXPECT_CALL(*inner, Send(_)).Times(3).WillRepeatedly(Return(Answer(200)));
  RateLimitedTransport transport(inner, OptionsWith(clock));

  SendAll(transport, Bearer(kTokenA), 1);
  clock.Advance(absl::Minutes(9));
  SendAll(transport, Bearer(kTokenB), 1);
  EXPECT_EQ(transport.TrackedTokens(), 2U);
  clock.Advance(absl::Minutes(2));
  SendAll(transport, Bearer(kTokenB), 1);

  EXPECT_EQ(transport.TrackedTokens(), 1U);
  EXPECT_FALSE(transport.TokenStats(kTokenA).has_value());
  EXPECT_EQ(transport.TokenStats(kTokenB)->requests_sent, 2);
  EXPECT_EQ(transport.Snapshot().requests_sent, 3);
}

TEST(RateLimitedTransport, TokenInUseIsNotForgotten) {
  FakeClock clock;
  auto inner = std::make_shared<StrictMock<MockHttpTransport>>();
  RateLimitedTransport transport(inner, OptionsWith(clock));
  // A's answer takes eleven minutes; B's request meanwhile sweeps idle
  // tokens, which must spare A.
  EXPECT_CALL(*inner, Send(_))
      .WillOnce(Invoke([&](const HttpRequest&) {
        clock.Advance(absl::Minutes(11));
        EXPECT_OK(transport.Send(Bearer(kTokenB)));
        return Answer(200);
      }))
      .WillOnce(Return(Answer(200)));

  SendAll(transport, Bearer(kTokenA), 1);

  EXPECT_EQ(transport.TrackedTokens(), 2U);
  ASSERT_TRUE(transport.TokenStats(kTokenA).has_value());
  EXPECT_EQ(transport.TokenStats(kTokenA)->requests_sent, 1);
}

}  // namespace
}  // namespace wave::pipedrive
