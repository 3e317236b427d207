#include "server/retry_policy.h"

#include "client/http_status.h"

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <utility>

namespace wave::pipedrive {

double RetryPolicy::BitGenUniform01() {
  thread_local absl::BitGen gen;
  return absl::Uniform(absl::IntervalClosed, gen, 0.0, 1.0);
}

RetryPolicy::RetryPolicy(Options options, std::function<absl::Time()> clock,
                         std::function<double()> uniform01)
    : options_([&options] {
        options.base = std::max(options.base, absl::ZeroDuration());
        options.cap = std::max(options.cap, absl::ZeroDuration());
        options.rate_limit_jitter =
            std::max(options.rate_limit_jitter, absl::ZeroDuration());
        return options;
      }()),
      clock_(clock ? std::move(clock) : absl::Now),
      uniform01_(uniform01 ? std::move(uniform01) : BitGenUniform01) {}

RetryDecision RetryPolicy::Decide(const absl::Status& error,
                                  int attempts) const {
  switch (error.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kInvalidArgument:
      return RetryDecision{false, absl::InfiniteFuture()};
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
      return RetryDecision{true, clock_() + options_.cap};
    case absl::StatusCode::kResourceExhausted: {
      const std::optional<HttpErrorDetails> details =
          GetHttpErrorDetails(error);
      if (!details.has_value() || !details->ratelimit_reset.has_value()) {
        break;
      }
      // Pipedrive says when its window opens again; the cap still bounds a
      // nonsensical reset.
      const absl::Duration delay =
          *details->ratelimit_reset + options_.rate_limit_jitter * Uniform01();
      return RetryDecision{true, clock_() + std::min(delay, options_.cap)};
    }
    default:
      break;
  }
  return RetryDecision{true, Backoff(clock_(), attempts)};
}

absl::Time RetryPolicy::Backoff(absl::Time now, int attempts) const {
  absl::Duration ceiling = options_.base;
  // Doubling stops at the cap, so the loop is short and cannot overflow.
  for (int i = 0;
       i < attempts && ceiling < options_.cap && ceiling > absl::ZeroDuration();
       ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, options_.cap);
  return now + ceiling * Uniform01();
}

double RetryPolicy::Uniform01() const {
  const double u = uniform01_();
  if (!(u >= 0.0)) return 0.0;  // Negative or NaN.
  return std::min(u, 1.0);
}

}  // namespace wave::pipedrive
