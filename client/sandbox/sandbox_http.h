#ifndef WAVE_CLIENT_SANDBOX_SANDBOX_HTTP_H_
#define WAVE_CLIENT_SANDBOX_SANDBOX_HTTP_H_

// HTTP plumbing for the sandbox that does not depend on the server library:
// the request and reply values the handlers work on, form and URL coding,
// Pipedrive's envelopes and timestamp formats.

#include "absl/random/random.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive::sandbox::internal {

// A request reduced to what the handlers read.
struct HttpRequest {
  std::string method;
  std::string path;
  std::string query;  // Raw, without '?'.
  // Decoded query parameters; the first occurrence of a name wins.
  std::map<std::string, std::string> params;
  // Header names lower-cased; the first occurrence of a name wins.
  std::map<std::string, std::string> headers;
  std::string body;

  // The header's value, or "" when absent. `name` must be lower case.
  std::string Header(const std::string& name) const;
  std::optional<std::string> Param(const std::string& name) const;
};

// What a handler answers.
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The company the request was authenticated for, 0 if none.
  int64_t company_id = 0;

  void SetHeader(const std::string& name, const std::string& value);
};

// Pipedrive's generic hint in error envelopes.
inline constexpr char kErrorInfo[] = "Please check developers.pipedrive.com";
// The hint in 404 envelopes, per the OpenAPI documents.
inline constexpr char kNotFoundInfo[] = "Object was not found.";

// A reply carrying `body` serialized.
Reply JsonReply(int status, const nlohmann::json& body);

// `{"success":false,"error":...,"error_info":...,"data":null,
// "additional_data":null}`.
nlohmann::json ErrorEnvelope(const std::string& error,
                             const std::string& error_info = kErrorInfo);
Reply ErrorReply(int status, const std::string& error,
                 const std::string& error_info = kErrorInfo);

// `{"success":true,"data":...}`.
nlohmann::json SuccessEnvelope(nlohmann::json data);

// Decodes %XX escapes; with `plus_is_space`, '+' becomes ' ' (forms and
// query strings). Malformed escapes are kept literally.
std::string PercentDecode(const std::string& text, bool plus_is_space);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string UrlEncode(const std::string& text);

// Parses `a=1&b=2` (query string or form body). The first occurrence of a
// name wins.
std::map<std::string, std::string> ParseUrlEncoded(const std::string& text);

// True when `content_type` names `media_type`, ignoring case and parameters
// such as "; charset=utf-8".
bool IsMediaType(const std::string& content_type,
                 const std::string& media_type);

// A random UUID version 4 in canonical lower-case form.
std::string NewUuidV4(absl::BitGen& gen);

// `length` random characters from [A-Za-z0-9].
std::string RandomAlnum(absl::BitGen& gen, int length);

// `length` random lower-case hex digits.
std::string RandomHex(absl::BitGen& gen, int length);

// True for a canonical UUID (any version), either case.
bool IsUuid(const std::string& text);

// True for a calendar date written YYYY-MM-DD.
bool IsIsoDate(const std::string& text);

// Parses a decimal int64 with nothing around it.
std::optional<int64_t> ParseInt64(const std::string& text);

// "2026-01-01T10:00:00Z": v2 timestamps (RFC 3339, seconds).
std::string FormatV2Time(absl::Time time);
// "2026-01-01T10:00:00.123Z": v1 lead timestamps.
std::string FormatV1Time(absl::Time time);
// "2026-01-01 10:00:00": v1 user timestamps.
std::string FormatUserTime(absl::Time time);

}  // namespace wave::pipedrive::sandbox::internal

#endif  // WAVE_CLIENT_SANDBOX_SANDBOX_HTTP_H_
