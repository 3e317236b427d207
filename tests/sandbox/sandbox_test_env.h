#ifndef WAVE_TESTS_SANDBOX_SANDBOX_TEST_ENV_H_
#define WAVE_TESTS_SANDBOX_SANDBOX_TEST_ENV_H_

#include "client/sandbox/fake_pipedrive.h"

#include "absl/time/time.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace wave::pipedrive::sandbox::testenv {

inline constexpr char kClientId[] = "test-client";
inline constexpr char kClientSecret[] = "test-secret";
inline constexpr char kRedirectUri[] = "https://app.example/oauth/callback";

// A clock the test moves by hand, shared with the sandbox.
class FakeClock {
 public:
  absl::Time Now() const;
  void Advance(absl::Duration step);

 private:
  // std::mutex, which ThreadSanitizer sees; Debian's Abseil is not built
  // for it.
  mutable std::mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1767225600);  // Guarded by mu_.
};

// One HTTP answer from the sandbox.
struct HttpAnswer {
  int status = 0;  // 0: the request did not complete.
  std::string raw_body;
  nlohmann::json body;  // Discarded when the body is not JSON.
  httplib::Headers headers;

  std::string Header(const std::string& name) const;
  // body["error"], or "" when absent.
  std::string Error() const;
};

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
};

// A started sandbox on a free loopback port, with a fake clock and two
// companies: Acme (Alice the admin, Bob, and the inactive Ivan; channel
// options 71 "Marketplace" and 73 "Wave Connect") and Globex (Gina).
class TestEnv {
 public:
  explicit TestEnv(SandboxOptions options = SandboxOptions());

  FakePipedrive& fake() { return *fake_; }
  FakeClock& clock() { return *clock_; }

  // Tokens for the user, through a code and the token endpoint.
  TokenPair Connect(int64_t company_id, int64_t user_id);

  // An API call with a bearer token; `body` is sent as JSON unless null.
  HttpAnswer Api(const std::string& method, const std::string& path,
                 const std::string& access_token,
                 const nlohmann::json& body = nullptr);
  // Any request, as given.
  HttpAnswer Raw(const std::string& method, const std::string& path,
                 const httplib::Headers& headers, const std::string& body = "",
                 const std::string& content_type = "");
  // The raw response head and body of `GET target`, read from a plain
  // socket: httplib's client decodes Location headers, which hides how the
  // sandbox encoded them. "" when the request fails.
  std::string RawGet(const std::string& target);
  // POST to the token endpoint with the app's Basic credentials.
  HttpAnswer TokenRequest(const std::string& form_body,
                          const std::string& path = "/oauth/token");

  int64_t acme = 0;
  int64_t alice = 0;
  int64_t bob = 0;
  int64_t ivan = 0;
  int64_t globex = 0;
  int64_t gina = 0;

 private:
  std::shared_ptr<FakeClock> clock_;
  std::unique_ptr<FakePipedrive> fake_;
};

// "Basic base64(id:secret)".
std::string BasicAuth(const std::string& id, const std::string& secret);

}  // namespace wave::pipedrive::sandbox::testenv

#endif  // WAVE_TESTS_SANDBOX_SANDBOX_TEST_ENV_H_
