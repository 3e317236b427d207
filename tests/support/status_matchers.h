#ifndef WAVE_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define WAVE_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

#include <string>

namespace wave::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// Matches an OK absl::Status or absl::StatusOr<T>.
MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status.ToString();
  return status.ok();
}

// Matches a status with `code` whose message matches `message_matcher`.
MATCHER_P2(StatusIs, code, message_matcher,
           "status code is " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(status.message()), result_listener);
}

}  // namespace wave::testing

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::wave::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::wave::testing::IsOk())

#endif  // WAVE_TESTS_SUPPORT_STATUS_MATCHERS_H_
