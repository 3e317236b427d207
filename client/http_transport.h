#ifndef WAVE_CLIENT_HTTP_TRANSPORT_H_
#define WAVE_CLIENT_HTTP_TRANSPORT_H_

#include "absl/status/statusor.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {

// One HTTP request, fully formed by the caller.
struct HttpRequest {
  std::string method;  // "GET", "POST", "PATCH", "PUT", "DELETE" or "HEAD".
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Background work (an import) as opposed to a change a caller waits for;
  // pacing keeps some of the rate limit free for the latter.
  bool background = false;
  // Whose burst window a request with a Bearer token counts against.
  // Pipedrive's is per user, so a token refreshed mid-import goes on in
  // the same window. Empty: the token's own.
  std::string rate_key;
};

// One HTTP response, whatever its status code.
struct HttpResponse {
  int status = 0;
  // Header names are lower-cased, values trimmed; order as received.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header named `lower_name` (which must be given in
  // lower case), or nullopt.
  std::optional<std::string> Header(const std::string& lower_name) const;
};

// Provides one HTTP exchange per call, so that the Pipedrive client can be
// tested against a gMock double instead of the network.
//
// Send() returns OK with the response for every HTTP status, 4xx and 5xx
// included: turning a status code into an error is the caller's job (see
// http_status.h). A non-OK status means no response arrived: UNAVAILABLE for
// connection problems (refused, DNS, reset, TLS), DEADLINE_EXCEEDED for
// timeouts, INVALID_ARGUMENT for a request that cannot be sent (bad URL,
// unsupported scheme or method, CR/LF in a header). Error messages never
// contain request headers or bodies.
//
// Implementations are thread-safe.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace wave::pipedrive

#endif  // WAVE_CLIENT_HTTP_TRANSPORT_H_
