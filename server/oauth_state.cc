#include "server/oauth_state.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

namespace wave::pipedrive {
namespace {

constexpr absl::string_view kPayloadPrefix = "v1|";
constexpr size_t kMacBytes = 32;
constexpr size_t kNonceBytes = 16;
constexpr size_t kMaxExpiryDigits = 19;  // int64 range

using Mac = std::array<unsigned char, kMacBytes>;

absl::Status Malformed() {
  return absl::InvalidArgumentError("state: malformed");
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "OAuthStateSigner: %s\n", what);
  std::abort();
}

bool ComputeMac(const std::string& key, const std::string& payload, Mac& out) {
  size_t out_len = 0;
  const unsigned char* result = EVP_Q_mac(
      nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
      reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
      out.data(), out.size(), &out_len);
  return result != nullptr && out_len == kMacBytes;
}

// Accepts only the unpadded base64url form Issue produces, so a state has
// exactly one textual encoding.
bool DecodeCanonical(absl::string_view text, std::string& out) {
  return !text.empty() && absl::WebSafeBase64Unescape(text, &out) &&
         absl::WebSafeBase64Escape(out) == text;
}

bool AllOf(absl::string_view s, bool (*pred)(unsigned char)) {
  return std::all_of(s.begin(), s.end(), [pred](char c) {
    return pred(static_cast<unsigned char>(c));
  });
}

bool IsLowerHex(unsigned char c) {
  return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
}

bool IsDigit(unsigned char c) { return absl::ascii_isdigit(c); }

struct Payload {
  std::string account_id;
  int64_t expiry_unix_seconds = 0;
};

// "v1|" account "|" expiry "|" nonce, split from the right because the
// account id may itself contain '|'.
absl::StatusOr<Payload> ParsePayload(absl::string_view payload) {
  if (!absl::ConsumePrefix(&payload, kPayloadPrefix)) return Malformed();
  const size_t nonce_sep = payload.rfind('|');
  if (nonce_sep == absl::string_view::npos || nonce_sep == 0) {
    return Malformed();
  }
  const size_t expiry_sep = payload.rfind('|', nonce_sep - 1);
  if (expiry_sep == absl::string_view::npos) return Malformed();

  absl::string_view nonce = payload.substr(nonce_sep + 1);
  absl::string_view expiry =
      payload.substr(expiry_sep + 1, nonce_sep - expiry_sep - 1);
  Payload parsed;
  parsed.account_id = std::string{payload.substr(0, expiry_sep)};
  if (nonce.size() != 2 * kNonceBytes || !AllOf(nonce, IsLowerHex) ||
      expiry.empty() || expiry.size() > kMaxExpiryDigits ||
      !AllOf(expiry, IsDigit) ||
      !absl::SimpleAtoi(expiry, &parsed.expiry_unix_seconds)) {
    return Malformed();
  }
  return parsed;
}

}  // namespace

OAuthStateSigner::OAuthStateSigner(std::string key,
                                   std::function<absl::Time()> clock)
    : key_(std::move(key)), clock_(std::move(clock)) {
  if (key_.size() < kMinKeyBytes) Die("key is shorter than 32 bytes");
}

absl::StatusOr<OAuthStateSigner> OAuthStateSigner::FromBase64Key(
    const std::string& b64, std::function<absl::Time()> clock) {
  absl::string_view text = absl::StripAsciiWhitespace(b64);
  std::string key;
  if (!absl::Base64Unescape(text, &key) &&
      !absl::WebSafeBase64Unescape(text, &key)) {
    return absl::InvalidArgumentError("oauth state key: not valid base64");
  }
  if (key.size() < kMinKeyBytes) {
    OPENSSL_cleanse(key.data(), key.size());
    return absl::InvalidArgumentError(
        absl::StrCat("oauth state key: must decode to at least ", kMinKeyBytes,
                     " bytes, not ", key.size()));
  }
  return OAuthStateSigner(std::move(key), std::move(clock));
}

OAuthStateSigner& OAuthStateSigner::operator=(OAuthStateSigner other) noexcept {
  std::swap(key_, other.key_);
  std::swap(clock_, other.clock_);
  return *this;
}

OAuthStateSigner::~OAuthStateSigner() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

OAuthStateSigner::Issued OAuthStateSigner::Issue(const std::string& account_id,
                                                 absl::Duration ttl) const {
  const int64_t expiry = absl::ToUnixSeconds(clock_() + ttl);
  std::array<unsigned char, kNonceBytes> nonce;
  if (RAND_bytes(nonce.data(), nonce.size()) != 1) Die("RAND_bytes failed");
  const std::string payload = absl::StrCat(
      kPayloadPrefix, account_id, "|", expiry, "|",
      absl::BytesToHexString(absl::string_view(
          reinterpret_cast<const char*>(nonce.data()), nonce.size())));

  Mac mac;
  if (!ComputeMac(key_, payload, mac)) Die("HMAC-SHA256 failed");

  return Issued{
      absl::StrCat(absl::WebSafeBase64Escape(payload), ".",
                   absl::WebSafeBase64Escape(absl::string_view(
                       reinterpret_cast<const char*>(mac.data()), mac.size()))),
      absl::FromUnixSeconds(expiry)};
}

absl::Status OAuthStateSigner::Verify(const std::string& state,
                                      const std::string& account_id) const {
  if (state.empty() || state.size() > kMaxStateChars) return Malformed();
  const size_t dot = state.find('.');
  if (dot == std::string::npos ||
      state.find('.', dot + 1) != std::string::npos) {
    return Malformed();
  }
  std::string payload;
  std::string signature;
  if (!DecodeCanonical(absl::string_view(state).substr(0, dot), payload) ||
      !DecodeCanonical(absl::string_view(state).substr(dot + 1), signature) ||
      signature.size() != kMacBytes) {
    return Malformed();
  }

  Mac expected;
  if (!ComputeMac(key_, payload, expected)) {
    return absl::InternalError("state: HMAC-SHA256 failed");
  }
  if (CRYPTO_memcmp(expected.data(), signature.data(), kMacBytes) != 0) {
    return absl::InvalidArgumentError("state: signature does not match");
  }

  absl::StatusOr<Payload> parsed = ParsePayload(payload);
  if (!parsed.ok()) return parsed.status();
  if (parsed->account_id != account_id) {
    return absl::InvalidArgumentError("state: issued for another account");
  }
  if (clock_() >= absl::FromUnixSeconds(parsed->expiry_unix_seconds)) {
    return absl::InvalidArgumentError(
        "state: expired; start the authorization again");
  }
  return absl::OkStatus();
}

}  // namespace wave::pipedrive
