#ifndef WAVE_STORAGE_PG_STATUS_H_
#define WAVE_STORAGE_PG_STATUS_H_

#include "absl/status/status.h"

#include <exception>
#include <string>

namespace wave::pipedrive {

// The one place where a libpqxx exception becomes an absl::Status.
//
// Broken connections are UNAVAILABLE, serialization failures and deadlocks
// ABORTED (retryable), cancelled statements DEADLINE_EXCEEDED, everything
// else INTERNAL. The message names `operation` and the SQLSTATE only: server
// messages can quote row values, which may be personal data.
absl::Status StatusFromPqxx(const std::exception& e,
                            const std::string& operation);

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_PG_STATUS_H_
