#include "server/caller_auth.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include <openssl/crypto.h>

namespace wave::pipedrive {

absl::StatusOr<CallerAuthenticator> CallerAuthenticator::FromTokenFile(
    const std::string& text) {
  CallerAuthenticator auth;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::pair<std::string, std::string> parts =
        absl::StrSplit(line, absl::MaxSplits(':', 1));
    if (parts.first.empty() || parts.second.size() < 16) {
      return absl::InvalidArgumentError(absl::StrCat(
          "caller tokens line ", line_number,
          ": expected 'service-name:token' with a token of at least 16 "
          "characters"));
    }
    auth.callers_.push_back({parts.first, parts.second});
  }
  return auth;
}

absl::Status CallerAuthenticator::Check(const grpc::ServerContext& context,
                                        std::string* caller) const {
  if (!enabled()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "missing 'authorization: Bearer <token>' metadata");
  }
  const std::string value(it->second.data(), it->second.size());
  constexpr absl::string_view kPrefix = "Bearer ";
  if (value.size() <= kPrefix.size() ||
      absl::string_view(value).substr(0, kPrefix.size()) != kPrefix) {
    return absl::UnauthenticatedError(
        "the 'authorization' metadata must be 'Bearer <token>'");
  }
  const std::string token = value.substr(kPrefix.size());
  for (const Caller& c : callers_) {
    if (c.token.size() == token.size() &&
        CRYPTO_memcmp(c.token.data(), token.data(), token.size()) == 0) {
      if (caller != nullptr) *caller = c.name;
      return absl::OkStatus();
    }
  }
  return absl::UnauthenticatedError("unknown caller token");
}

}  // namespace wave::pipedrive
