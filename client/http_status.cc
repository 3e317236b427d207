#include "client/http_status.h"

#include "client/http_transport.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace wave::pipedrive {
namespace {

constexpr char kDetailsTypeUrl[] =
    "type.googleapis.com/wave.pipedrive.HttpErrorDetails";

// Keeps the whole message near 300 characters.
constexpr std::size_t kMaxErrorTextBytes = 260;

// Only the start of a body is searched for OAuth error markers; a real
// error body is tiny and this bounds the work on a huge one.
constexpr std::size_t kMaxScannedBodyBytes = 4096;

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// Replaces control characters so that a hostile body cannot forge log lines,
// and truncates on a UTF-8 boundary.
std::string Sanitize(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? ' ' : c);
  }
  std::string trimmed(absl::StripAsciiWhitespace(out));
  if (trimmed.size() <= kMaxErrorTextBytes) return trimmed;

  std::size_t cut = kMaxErrorTextBytes;
  while (cut > 0 && (static_cast<unsigned char>(trimmed[cut]) & 0xc0) == 0x80) {
    --cut;
  }
  return trimmed.substr(0, cut) + "...";
}

// Pipedrive's error envelope is {"success": false, "error": "...",
// "error_info": "..."}; the OAuth server's shape is undocumented, so the
// RFC 6749 names are accepted too.
std::string ErrorTextFromBody(const std::string& body) {
  try {
    const nlohmann::json json =
        nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) return "";

    std::string error = StringField(json, "error");
    if (error.empty()) error = StringField(json, "message");
    std::string info = StringField(json, "error_info");
    if (info.empty()) info = StringField(json, "error_description");
    if (error.empty()) return Sanitize(info);
    if (info.empty()) return Sanitize(error);
    return Sanitize(absl::StrCat(error, " (", info, ")"));
  } catch (const std::exception&) {
    return "";
  }
}

absl::StatusCode CodeForHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 402:
      return absl::StatusCode::kFailedPrecondition;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
    case 410:
      return absl::StatusCode::kNotFound;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) {
    return absl::StatusCode::kInternal;
  }
  if (http_status >= 500 && http_status < 600) {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

std::string EncodeDetails(const HttpErrorDetails& details) {
  std::string out = absl::StrCat("http_status=", details.http_status);
  if (details.ratelimit_limit.has_value()) {
    absl::StrAppend(&out, ";limit=", *details.ratelimit_limit);
  }
  if (details.ratelimit_remaining.has_value()) {
    absl::StrAppend(&out, ";remaining=", *details.ratelimit_remaining);
  }
  if (details.ratelimit_reset.has_value()) {
    absl::StrAppend(&out, ";reset_us=",
                    absl::ToInt64Microseconds(*details.ratelimit_reset));
  }
  return out;
}

std::optional<HttpErrorDetails> DecodeDetails(const std::string& encoded) {
  HttpErrorDetails details;
  bool has_status = false;
  for (absl::string_view field : absl::StrSplit(encoded, ';')) {
    std::vector<std::string> kv =
        absl::StrSplit(field, absl::MaxSplits('=', 1));
    if (kv.size() != 2) return std::nullopt;
    int64_t value = 0;
    if (!absl::SimpleAtoi(kv[1], &value)) return std::nullopt;
    if (kv[0] == "http_status") {
      details.http_status = static_cast<int>(value);
      has_status = true;
    } else if (kv[0] == "limit") {
      details.ratelimit_limit = static_cast<int>(value);
    } else if (kv[0] == "remaining") {
      details.ratelimit_remaining = static_cast<int>(value);
    } else if (kv[0] == "reset_us") {
      details.ratelimit_reset = absl::Microseconds(value);
    }
  }
  if (!has_status) return std::nullopt;
  return details;
}

std::optional<int> NonNegativeInt(const std::optional<std::string>& value) {
  if (!value.has_value()) return std::nullopt;
  int parsed = 0;
  if (!absl::SimpleAtoi(*value, &parsed) || parsed < 0) return std::nullopt;
  return parsed;
}

absl::Status WithDetails(absl::Status status, const HttpResponse& response) {
  const RateLimitInfo rate_limit = ParseRateLimit(response);
  HttpErrorDetails details;
  details.http_status = response.status;
  details.ratelimit_limit = rate_limit.ratelimit_limit;
  details.ratelimit_remaining = rate_limit.ratelimit_remaining;
  details.ratelimit_reset = rate_limit.ratelimit_reset;
  status.SetPayload(kDetailsTypeUrl, absl::Cord(EncodeDetails(details)));
  return status;
}

// "HTTP 400" or "HTTP 400: <error text>".
std::string HttpSummary(const HttpResponse& response) {
  const std::string text = ErrorTextFromBody(response.body);
  if (text.empty()) return absl::StrCat("HTTP ", response.status);
  return absl::StrCat("HTTP ", response.status, ": ", text);
}

bool BodyMentions(const std::string& body, const std::string& lower_a,
                  const std::string& lower_b) {
  const std::string head =
      absl::AsciiStrToLower(body.substr(0, kMaxScannedBodyBytes));
  return head.find(lower_a) != std::string::npos ||
         head.find(lower_b) != std::string::npos;
}

}  // namespace

absl::Status StatusFromHttp(const HttpResponse& response) {
  if (response.status >= 200 && response.status < 300) {
    return absl::OkStatus();
  }
  return WithDetails(
      absl::Status(CodeForHttpStatus(response.status),
                   absl::StrCat("pipedrive: ", HttpSummary(response))),
      response);
}

absl::Status StatusFromTokenEndpoint(const HttpResponse& response) {
  const bool bad_client =
      response.status == 401 ||
      (response.status == 400 &&
       BodyMentions(response.body, "invalid client", "invalid_client"));
  if (bad_client) {
    return WithDetails(absl::FailedPreconditionError(absl::StrCat(
                           "pipedrive rejected the client credentials: ",
                           HttpSummary(response))),
                       response);
  }

  if (response.status == 400 &&
      BodyMentions(response.body, "invalid grant", "invalid_grant")) {
    return WithDetails(
        absl::UnauthenticatedError(
            absl::StrCat("invalid_grant: pipedrive: ", HttpSummary(response))),
        response);
  }

  return StatusFromHttp(response);
}

std::optional<HttpErrorDetails> GetHttpErrorDetails(
    const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kDetailsTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  return DecodeDetails(static_cast<std::string>(*payload));
}

RateLimitInfo ParseRateLimit(const HttpResponse& response) {
  RateLimitInfo info;
  info.ratelimit_limit = NonNegativeInt(response.Header("x-ratelimit-limit"));
  info.ratelimit_remaining =
      NonNegativeInt(response.Header("x-ratelimit-remaining"));

  // Documented as whole seconds ("2"); a fraction costs nothing to accept.
  const std::optional<std::string> reset = response.Header("x-ratelimit-reset");
  double seconds = 0;
  if (reset.has_value() && absl::SimpleAtod(*reset, &seconds) &&
      std::isfinite(seconds) && seconds >= 0 && seconds < 1e9) {
    info.ratelimit_reset = absl::Seconds(seconds);
  }
  return info;
}

}  // namespace wave::pipedrive
