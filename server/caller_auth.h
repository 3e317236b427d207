#ifndef WAVE_SERVER_CALLER_AUTH_H_
#define WAVE_SERVER_CALLER_AUTH_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

#include <string>
#include <vector>

namespace wave::pipedrive {

// Checks the per-service bearer token callers send in the `authorization`
// metadata ("Bearer <token>").
//
// With no tokens configured every caller is let in (for local runs and for
// deployments that rely on mutual TLS instead). Thread-safe after
// construction.
class CallerAuthenticator {
 public:
  // Parses "service-name:token" lines; blank lines and '#' comments are
  // skipped. Errors name the line, never the token.
  static absl::StatusOr<CallerAuthenticator> FromTokenFile(
      const std::string& text);
  CallerAuthenticator() = default;

  bool enabled() const { return !callers_.empty(); }

  // UNAUTHENTICATED when a token is required and missing or unknown. On
  // success, `caller` (if not null) receives the service name.
  absl::Status Check(const grpc::ServerContext& context,
                     std::string* caller = nullptr) const;

 private:
  struct Caller {
    std::string name;
    std::string token;
  };
  std::vector<Caller> callers_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_CALLER_AUTH_H_
