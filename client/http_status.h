#ifndef WAVE_CLIENT_HTTP_STATUS_H_
#define WAVE_CLIENT_HTTP_STATUS_H_

#include "client/http_transport.h"

#include "absl/status/status.h"
#include "absl/time/time.h"

#include <optional>

namespace wave::pipedrive {

// Pipedrive's burst-window headers (x-ratelimit-limit, x-ratelimit-remaining,
// x-ratelimit-reset). A field is nullopt when its header is missing or not a
// non-negative number.
struct RateLimitInfo {
  std::optional<int> ratelimit_limit;
  std::optional<int> ratelimit_remaining;
  // Time left until the window resets.
  std::optional<absl::Duration> ratelimit_reset;
};

// What a non-OK status from StatusFromHttp() carries besides its code.
struct HttpErrorDetails {
  int http_status = 0;
  std::optional<int> ratelimit_limit;
  std::optional<int> ratelimit_remaining;
  std::optional<absl::Duration> ratelimit_reset;
};

// The one place where an HTTP outcome becomes an absl::Status.
//
// 2xx is OK. Otherwise: 400 and 422 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
// 402 FAILED_PRECONDITION, 403 PERMISSION_DENIED, 404 and 410 NOT_FOUND,
// 429 RESOURCE_EXHAUSTED, other 4xx INTERNAL (a request we should never have
// sent), 5xx UNAVAILABLE, anything else (1xx, 3xx: redirects are not
// followed) UNKNOWN. The message is "pipedrive: HTTP <code>" followed by
// ": <error> (<error_info>)" when the body is a JSON object with those
// fields; it is bounded and free of control characters, and never includes
// an HTML or unparseable body. The status carries HttpErrorDetails as a
// payload (see GetHttpErrorDetails).
absl::Status StatusFromHttp(const HttpResponse& response);

// Like StatusFromHttp(), for the OAuth token and revoke endpoints, where the
// app authenticates with its client credentials:
// - 400 whose body mentions "invalid grant" or "invalid_grant" (any case):
//   UNAUTHENTICATED with a message starting "invalid_grant: ". The user's
//   authorization is gone; they must connect again.
// - 401, or 400 whose body mentions "invalid client" / "invalid_client":
//   FAILED_PRECONDITION with a message starting "pipedrive rejected the
//   client credentials". This is our configuration, not the user.
absl::Status StatusFromTokenEndpoint(const HttpResponse& response);

// The details attached by StatusFromHttp() or StatusFromTokenEndpoint(), or
// nullopt if `status` carries none (OK, or produced elsewhere).
std::optional<HttpErrorDetails> GetHttpErrorDetails(const absl::Status& status);

// The rate-limit headers of any response, successful or not.
RateLimitInfo ParseRateLimit(const HttpResponse& response);

}  // namespace wave::pipedrive

#endif  // WAVE_CLIENT_HTTP_STATUS_H_
