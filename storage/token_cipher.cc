#include "storage/token_cipher.h"

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

constexpr absl::string_view kVersion = "v1";
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kMaxKeyIdChars = 32;
constexpr size_t kMaxPayloadBytes =
    kNonceBytes + TokenCipher::kMaxPlaintextBytes + kTagBytes;
// "v1" '.' key id '.' padded base64 of the largest payload.
constexpr size_t kMaxCiphertextChars =
    2 + 1 + kMaxKeyIdChars + 1 + (kMaxPayloadBytes + 2) / 3 * 4;

constexpr absl::string_view kAuthFailed =
    "token ciphertext failed authentication";
constexpr absl::string_view kMalformed = "token ciphertext: malformed";

absl::Status EncryptFailed() {
  return absl::InternalError("token cipher: encrypt failed");
}

absl::Status DecryptFailed() {
  return absl::InternalError("token cipher: decrypt failed");
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// Overwrites the whole buffer, including bytes past size() that a failed
// decode may have left behind.
void Wipe(std::string& s) {
  s.resize(s.capacity());
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

bool IsValidKeyId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdChars) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

// "v" followed by digits: a format version other than ours, as opposed to
// garbage.
bool LooksLikeVersion(absl::string_view s) {
  if (s.size() < 2 || s.size() > 5 || s[0] != 'v') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

// The key id is authenticated along with the caller's data. Key ids cannot
// contain '.', so the encoding is unambiguous.
std::string BuildAad(absl::string_view key_id,
                     const std::string& associated_data) {
  return absl::StrCat(kVersion, ".", key_id, ".", associated_data);
}

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* MutableBytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

struct ParsedCiphertext {
  std::string key_id;
  std::string payload;  // nonce || ciphertext || tag
};

absl::StatusOr<ParsedCiphertext> Parse(const std::string& ciphertext) {
  if (ciphertext.size() > kMaxCiphertextChars) {
    return absl::DataLossError(kMalformed);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(ciphertext, '.');
  if (parts.size() != 3) return absl::DataLossError(kMalformed);
  if (parts[0] != kVersion) {
    if (LooksLikeVersion(parts[0])) {
      return absl::FailedPreconditionError(
          absl::StrCat("token ciphertext format ", parts[0],
                       " is not supported by this build"));
    }
    return absl::DataLossError(kMalformed);
  }
  if (!IsValidKeyId(parts[1])) return absl::DataLossError(kMalformed);

  ParsedCiphertext parsed;
  parsed.key_id = std::string{parts[1]};
  // Only the canonical encoding is accepted, so one payload has exactly one
  // textual form.
  if (!absl::Base64Unescape(parts[2], &parsed.payload) ||
      absl::Base64Escape(parsed.payload) != parts[2] ||
      parsed.payload.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError(kMalformed);
  }
  return parsed;
}

}  // namespace

TokenCipher::Key::~Key() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

absl::StatusOr<TokenCipher> TokenCipher::Create(
    std::vector<std::pair<std::string, std::string>> keys) {
  absl::Cleanup wipe_input = [&keys] {
    for (auto& [id, key] : keys) Wipe(key);
  };
  if (keys.empty()) {
    return absl::InvalidArgumentError("token cipher needs at least one key");
  }

  std::vector<Key> parsed(keys.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [id, key] = keys[i];
    if (!IsValidKeyId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token cipher key #", i + 1,
                       ": key id must match [A-Za-z0-9_-]{1,32}"));
    }
    if (key.size() != kKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("token cipher key \"", id, "\": must be ", kKeyBytes,
                       " bytes, not ", key.size()));
    }
    if (!seen.insert(id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("token cipher: duplicate key id \"", id, "\""));
    }
    parsed[i].id = id;
    std::copy(key.begin(), key.end(), parsed[i].bytes.begin());
  }
  return TokenCipher(std::move(parsed));
}

absl::StatusOr<TokenCipher> TokenCipher::FromKeyFile(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> keys;
  std::string decoded;
  absl::Cleanup wipe = [&keys, &decoded] {
    Wipe(decoded);
    for (auto& [id, key] : keys) Wipe(key);
  };
  std::set<std::string> seen;

  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;

    const std::string where = absl::StrCat("key file line ", line_number, ": ");
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected \"key-id:base64key\""));
    }
    absl::string_view id = absl::StripAsciiWhitespace(line.substr(0, colon));
    absl::string_view b64 = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (!IsValidKeyId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "key id must match [A-Za-z0-9_-]{1,32}"));
    }
    if (!seen.insert(std::string{id}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "duplicate key id \"", id, "\""));
    }
    if (!absl::Base64Unescape(b64, &decoded)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "key is not valid base64"));
    }
    if (decoded.size() != kKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "key must decode to ", kKeyBytes, " bytes, not ",
                       decoded.size()));
    }
    keys.emplace_back(std::string{id}, decoded);
    Wipe(decoded);
  }

  if (keys.empty()) return absl::InvalidArgumentError("key file has no keys");
  return Create(std::move(keys));
}

std::string TokenCipher::GenerateKeyLine(const std::string& key_id) {
  std::array<unsigned char, kKeyBytes> key;
  if (RAND_bytes(key.data(), key.size()) != 1) {
    std::fputs("TokenCipher::GenerateKeyLine: RAND_bytes failed\n", stderr);
    std::abort();
  }
  std::string line =
      absl::StrCat(key_id, ":",
                   absl::Base64Escape(absl::string_view(
                       reinterpret_cast<const char*>(key.data()), key.size())));
  OPENSSL_cleanse(key.data(), key.size());
  return line;
}

absl::StatusOr<std::string> TokenCipher::Encrypt(
    const std::string& plaintext, const std::string& associated_data) const {
  if (keys_.empty()) {
    return absl::FailedPreconditionError("token cipher has no keys");
  }
  if (plaintext.size() > kMaxPlaintextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("token plaintext is over ", kMaxPlaintextBytes, " bytes"));
  }
  if (associated_data.size() > kMaxAssociatedDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token associated data is over ", kMaxAssociatedDataBytes, " bytes"));
  }
  const Key& key = keys_.front();
  const std::string aad = BuildAad(key.id, associated_data);

  std::string payload(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  unsigned char* nonce = MutableBytes(payload);
  unsigned char* body = nonce + kNonceBytes;
  unsigned char* tag = body + plaintext.size();
  if (RAND_bytes(nonce, kNonceBytes) != 1) {
    return absl::InternalError("token cipher: random generator failed");
  }

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes,
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(),
                         nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                        static_cast<int>(aad.size())) != 1) {
    return EncryptFailed();
  }
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return EncryptFailed();
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), body + written, &len) != 1 ||
      static_cast<size_t>(written) + static_cast<size_t>(len) !=
          plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) !=
          1) {
    return EncryptFailed();
  }

  return absl::StrCat(kVersion, ".", key.id, ".", absl::Base64Escape(payload));
}

absl::StatusOr<std::string> TokenCipher::Decrypt(
    const std::string& ciphertext, const std::string& associated_data) const {
  absl::StatusOr<ParsedCiphertext> parsed = Parse(ciphertext);
  if (!parsed.ok()) return parsed.status();
  const Key* key = FindKey(parsed->key_id);
  if (key == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("token ciphertext was made with key id \"", parsed->key_id,
                     "\", which is not loaded"));
  }
  if (associated_data.size() > kMaxAssociatedDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token associated data is over ", kMaxAssociatedDataBytes, " bytes"));
  }
  const std::string aad = BuildAad(key->id, associated_data);

  const std::string& payload = parsed->payload;
  const unsigned char* nonce = Bytes(payload);
  const unsigned char* body = nonce + kNonceBytes;
  const size_t body_size = payload.size() - kNonceBytes - kTagBytes;
  // OpenSSL takes the expected tag through a non-const pointer.
  std::array<unsigned char, kTagBytes> tag;
  std::copy(body + body_size, body + body_size + kTagBytes, tag.begin());

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes,
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->bytes.data(),
                         nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad),
                        static_cast<int>(aad.size())) != 1) {
    return DecryptFailed();
  }
  // GCM releases plaintext before the tag is checked; it is wiped unless the
  // tag verifies.
  std::string plaintext(body_size, '\0');
  absl::Cleanup wipe_unverified = [&plaintext] { Wipe(plaintext); };
  int written = 0;
  if (body_size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), MutableBytes(plaintext), &len, body,
                          static_cast<int>(body_size)) != 1) {
      return DecryptFailed();
    }
    written = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          tag.data()) != 1) {
    return DecryptFailed();
  }
  if (EVP_DecryptFinal_ex(ctx.get(), MutableBytes(plaintext) + written, &len) !=
      1) {
    return absl::DataLossError(kAuthFailed);
  }

  std::move(wipe_unverified).Cancel();
  return plaintext;
}

bool TokenCipher::NeedsReencryption(const std::string& ciphertext) const {
  absl::StatusOr<ParsedCiphertext> parsed = Parse(ciphertext);
  return parsed.ok() && !keys_.empty() && parsed->key_id != keys_.front().id;
}

const TokenCipher::Key* TokenCipher::FindKey(const std::string& key_id) const {
  for (const Key& key : keys_) {
    if (key.id == key_id) return &key;
  }
  return nullptr;
}

}  // namespace wave::pipedrive
