#ifndef WAVE_SERVER_LOGGING_H_
#define WAVE_SERVER_LOGGING_H_

#include "absl/status/status.h"

#include <string>

namespace wave::pipedrive {

// Sends logs to stderr, one line each with time, level and message, at
// `level` (debug, info, warning, error) and above. Levels mean: debug per
// call, info lifecycle, warning handled degradation, error needs a person.
// Log messages carry account and contact ids, never tokens or personal data.
absl::Status InitLogging(const std::string& level);

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_LOGGING_H_
