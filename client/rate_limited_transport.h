#ifndef WAVE_CLIENT_RATE_LIMITED_TRANSPORT_H_
#define WAVE_CLIENT_RATE_LIMITED_TRANSPORT_H_

#include "client/http_transport.h"

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace wave::pipedrive {

// Tuning for RateLimitedTransport; the defaults suit Pipedrive's smallest
// OAuth plan and its documented search limit.
struct RateLimitedTransportOptions {
  // Requests per window for a token until an answer carries
  // x-ratelimit-limit. Values below 1 count as 1.
  int default_limit = 80;
  // Slots kept free below every limit, because our window and Pipedrive's
  // are not aligned to the same instant. The usable limit is never below 1.
  int safety_margin = 2;
  // Requests per window on search paths (a path ending in "/search", or an
  // "itemSearch" path). Pipedrive documents 10 on every plan; a larger
  // x-ratelimit-limit on a search answer is not trusted.
  int search_limit = 10;
  // Share of every usable limit that background requests
  // (HttpRequest::background) leave free for the others, so that a change a
  // caller waits for finds a slot while an import fills the window. At
  // least one slot when the usable limit is above one.
  double realtime_share = 0.1;
  // Pipedrive's rolling burst window.
  absl::Duration window = absl::Seconds(2);
  // The longest Send() blocks waiting for a slot before it gives up.
  absl::Duration max_wait = absl::Seconds(10);
  // A hold (after remaining=0 or a 429) never lasts longer than this, so that
  // a nonsensical x-ratelimit-reset cannot stall a token for good.
  absl::Duration max_hold = absl::Minutes(1);
  // A token with no request for this long is forgotten.
  absl::Duration forget_after = absl::Minutes(10);
  // Injected so that tests never sleep for real.
  std::function<absl::Time()> clock = absl::Now;
  std::function<void(absl::Duration)> sleeper = absl::SleepFor;
};

// Provides per-access-token pacing in front of another HttpTransport, so that
// bursts of deliveries stay inside Pipedrive's rolling rate-limit window
// instead of collecting 429s.
//
// Requests carrying "Authorization: Bearer <token>" are paced per token, or
// per HttpRequest::rate_key when it is set (the user the token acts for, so
// that a refreshed token shares its predecessor's window); the token and
// the key are known only by a hash and never kept or logged. Each has a
// general window, whose limit starts at `default_limit` and follows
// x-ratelimit-limit once an answer carries it, and a search window; a search
// request needs a slot in both. Answers to search requests update the search
// window, all other answers the general one. The server has the last word:
// an answer with x-ratelimit-remaining 0, or a 429, holds that window until
// x-ratelimit-reset has passed (one `window` if the header is missing or 0).
// Background requests stop short of the usable limit by `realtime_share`,
// so an import keeps the window nearly full yet never delays a change a
// caller waits for by more than its own traffic does.
// A 429 is returned as is: retrying is the caller's decision. Requests
// without a Bearer token (OAuth token calls use Basic auth) go straight
// through, unpaced and uncounted.
//
// Send() blocks the calling thread until a slot is free. When that would take
// longer than `max_wait` it returns RESOURCE_EXHAUSTED "pipedrive: rate limit
// window full" at once, without sending. Outcomes of the inner transport,
// errors included, are returned unchanged; a request that failed in transit
// still counts against the window, since it may have reached Pipedrive.
//
// Thread-safe. The inner transport is shared and must itself be thread-safe.
// Memory is bounded: tokens idle for `forget_after` are dropped, and a
// window never records more sends than its limit.
class RateLimitedTransport : public HttpTransport {
 public:
  // Counters for observability.
  struct Stats {
    // Requests handed to the inner transport.
    int64_t requests_sent = 0;
    // Answers with HTTP 429.
    int64_t responses_429 = 0;
    // Requests refused with RESOURCE_EXHAUSTED, never sent.
    int64_t rejected = 0;
    // Time Send() spent blocked before sending or refusing.
    absl::Duration time_waited = absl::ZeroDuration();
  };

  // `inner` must not be null.
  explicit RateLimitedTransport(std::shared_ptr<HttpTransport> inner,
                                RateLimitedTransportOptions options = {});

  RateLimitedTransport(const RateLimitedTransport&) = delete;
  RateLimitedTransport& operator=(const RateLimitedTransport&) = delete;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

  // Totals over all tokens since construction, forgotten tokens included.
  Stats Snapshot() const;

  // The counters of one token, or nullopt if it is not tracked (never used,
  // or forgotten after being idle).
  std::optional<Stats> TokenStats(const std::string& access_token) const;

  // How many tokens are currently tracked.
  std::size_t TrackedTokens() const;

 private:
  struct Window {
    // Before the safety margin: learned from x-ratelimit-limit, or default.
    int limit = 0;
    // Send times within the last `window`, oldest first.
    std::deque<absl::Time> sent;
    absl::Time hold_until = absl::InfinitePast();
  };

  struct TokenState {
    Window general;
    Window search;
    Stats stats;
    // Calls inside Send() that use this state; it is never dropped while
    // this is positive.
    int users = 0;
    absl::Time last_active;
  };

  // Finds or creates the state of `key` and pins it (users + 1).
  TokenState* Pin(uint64_t key) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocks until `state` has a slot and takes it, or returns
  // RESOURCE_EXHAUSTED past max_wait.
  absl::Status TakeSlot(TokenState& state, bool search, bool background)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Learns from the answer and unpins `state`.
  void Finish(TokenState& state, bool search,
              const absl::StatusOr<HttpResponse>& response)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The earliest time `window` admits one more request, given its hold and
  // the usable limit (lower for background requests); drops expired send
  // times first.
  absl::Time ReadyAt(Window& window, absl::Time now, bool background) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void ForgetIdle(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<HttpTransport> inner_;
  const RateLimitedTransportOptions options_;

  mutable absl::Mutex mu_;
  std::unordered_map<uint64_t, std::unique_ptr<TokenState>> tokens_
      ABSL_GUARDED_BY(mu_);
  Stats totals_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace wave::pipedrive

#endif  // WAVE_CLIENT_RATE_LIMITED_TRANSPORT_H_
