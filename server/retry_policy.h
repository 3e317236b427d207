#ifndef WAVE_SERVER_RETRY_POLICY_H_
#define WAVE_SERVER_RETRY_POLICY_H_

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include <functional>

namespace wave::pipedrive {

// What RetryPolicy::Decide() concluded about one failure.
struct RetryDecision {
  // false: the failure is permanent and trying again cannot help.
  bool retry = false;
  // When to try again; absl::InfiniteFuture() when `retry` is false.
  absl::Time at = absl::InfiniteFuture();
};

// Provides the one rule for when a failed Pipedrive delivery is tried again,
// so that callers hold no ad-hoc backoff loops.
//
// By status code:
// - INVALID_ARGUMENT (Pipedrive 400/422): permanent.
// - RESOURCE_EXHAUSTED (429): when the error carries x-ratelimit-reset (see
//   GetHttpErrorDetails), now + reset + uniform [0, rate_limit_jitter], at
//   most now + cap; without it, full-jitter backoff.
// - PERMISSION_DENIED, FAILED_PRECONDITION: now + cap. These need a person
//   (scopes, plan, payment); the caller pauses the account, the policy only
//   says "much later".
// - Every other failure (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN,
//   ABORTED, UNAUTHENTICATED, NOT_FOUND, ...): full-jitter exponential
//   backoff, now + uniform [0, min(cap, base * 2^attempts)].
// An OK status is not a failure: retry is false.
//
// Never overflows, whatever `attempts` (negative counts as 0). Thread-safe
// when the injected clock and uniform source are; the defaults are.
class RetryPolicy {
 public:
  struct Options {
    // Backoff ceiling of the first retry; doubles per failed attempt.
    absl::Duration base = absl::Seconds(5);
    // The largest delay the policy ever gives.
    absl::Duration cap = absl::Minutes(30);
    // Spreads retries after a 429, so that the deliveries that hit the limit
    // together do not come back in the same instant.
    absl::Duration rate_limit_jitter = absl::Seconds(1);
  };

  // A uniform double in [0, 1] from a thread-local absl::BitGen.
  static double BitGenUniform01();

  // `uniform01` must return values in [0, 1]; others are clamped.
  explicit RetryPolicy(Options options,
                       std::function<absl::Time()> clock = absl::Now,
                       std::function<double()> uniform01 = BitGenUniform01);

  // `attempts`: how many tries failed before this one.
  RetryDecision Decide(const absl::Status& error, int attempts) const;

 private:
  // Full-jitter exponential backoff from `now`.
  absl::Time Backoff(absl::Time now, int attempts) const;
  double Uniform01() const;

  const Options options_;
  const std::function<absl::Time()> clock_;
  const std::function<double()> uniform01_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_RETRY_POLICY_H_
