#ifndef WAVE_SERVER_LOGGING_H_
#define WAVE_SERVER_LOGGING_H_

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include <string>

namespace wave::pipedrive {

// Sends logs to stderr, one line each with time, level and message, at
// `level` (debug, info, warning, error) and above. Levels mean: debug per
// call, info lifecycle, warning handled degradation, error needs a person.
// Log messages carry account and contact ids, never tokens or personal data.
absl::Status InitLogging(const std::string& level);

// Lets through at most `per_minute` messages of one kind a minute, so an
// outage does not flood the logs; the first message after a quiet spell
// tells how many were held back. Thread-safe.
class LogLimiter {
 public:
  explicit LogLimiter(int per_minute) : per_minute_(per_minute) {}

  // Whether to log now. `*suppressed` receives how many messages were
  // dropped since the last one let through.
  bool Allow(int64_t* suppressed);

 private:
  const int per_minute_;
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int in_window_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_LOGGING_H_
