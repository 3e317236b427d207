#include "client/sandbox/sandbox_http.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

#include <cctype>

namespace wave::pipedrive::sandbox::internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string RandomFrom(absl::BitGen& gen, const std::string& alphabet,
                       int length) {
  std::string out;
  out.reserve(length);
  for (int i = 0; i < length; ++i) {
    out.push_back(alphabet[absl::Uniform<size_t>(gen, 0, alphabet.size())]);
  }
  return out;
}

}  // namespace

std::string HttpRequest::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::optional<std::string> HttpRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

void Reply::SetHeader(const std::string& name, const std::string& value) {
  for (auto& [key, old_value] : headers) {
    if (key == name) {
      old_value = value;
      return;
    }
  }
  headers.emplace_back(name, value);
}

Reply JsonReply(int status, const nlohmann::json& body) {
  Reply reply;
  reply.status = status;
  reply.body = body.dump();
  return reply;
}

nlohmann::json ErrorEnvelope(const std::string& error,
                             const std::string& error_info) {
  return {{"success", false},
          {"error", error},
          {"error_info", error_info},
          {"data", nullptr},
          {"additional_data", nullptr}};
}

Reply ErrorReply(int status, const std::string& error,
                 const std::string& error_info) {
  return JsonReply(status, ErrorEnvelope(error, error_info));
}

nlohmann::json SuccessEnvelope(nlohmann::json data) {
  return {{"success", true}, {"data", std::move(data)}};
}

std::string PercentDecode(const std::string& text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
               HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 +
                                      HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseUrlEncoded(const std::string& text) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    const std::string value(eq == absl::string_view::npos
                                ? absl::string_view()
                                : pair.substr(eq + 1));
    out.emplace(PercentDecode(name, true), PercentDecode(value, true));
  }
  return out;
}

bool IsMediaType(const std::string& content_type,
                 const std::string& media_type) {
  const std::string type(absl::StripAsciiWhitespace(
      absl::string_view(content_type).substr(0, content_type.find(';'))));
  return absl::AsciiStrToLower(type) == absl::AsciiStrToLower(media_type);
}

std::string NewUuidV4(absl::BitGen& gen) {
  std::string hex = RandomHex(gen, 32);
  hex[12] = '4';
  hex[16] = "89ab"[absl::Uniform<int>(gen, 0, 4)];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) +
         "-" + hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string RandomAlnum(absl::BitGen& gen, int length) {
  return RandomFrom(
      gen, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
      length);
}

std::string RandomHex(absl::BitGen& gen, int length) {
  return RandomFrom(gen, "0123456789abcdef", length);
}

bool IsUuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : HexValue(text[i]) < 0) return false;
  }
  return true;
}

bool IsIsoDate(const std::string& text) {
  absl::Time time;
  std::string error;
  return text.size() == 10 &&
         absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &time, &error);
}

std::optional<int64_t> ParseInt64(const std::string& text) {
  int64_t value = 0;
  if (text.empty() || text.front() == '+' || !absl::SimpleAtoi(text, &value) ||
      absl::StripAsciiWhitespace(text).size() != text.size()) {
    return std::nullopt;
  }
  return value;
}

std::string FormatV2Time(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string FormatV1Time(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

std::string FormatUserTime(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", time, absl::UTCTimeZone());
}

}  // namespace wave::pipedrive::sandbox::internal
