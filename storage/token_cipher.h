#ifndef WAVE_STORAGE_TOKEN_CIPHER_H_
#define WAVE_STORAGE_TOKEN_CIPHER_H_

#include "absl/status/statusor.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {

// TokenCipher provides authenticated encryption of OAuth tokens at rest, with
// keys that can be rotated without re-encrypting every row at once.
//
// Each key has an id; the first key encrypts and every key decrypts. A
// ciphertext is text of the form "v1.<key-id>.<base64(nonce|ciphertext|tag)>"
// (AES-256-GCM, 12-byte random nonce, 16-byte tag), so it fits a text column
// and shows which key made it. The key id and the caller's associated data
// (for example the account id and the column name) are authenticated, so a
// ciphertext copied to another account or column fails to decrypt.
//
// Rotation: put the new key first and keep the old ones until
// NeedsReencryption() is false for every stored value.
//
// Errors: Create/FromKeyFile return INVALID_ARGUMENT; Decrypt returns
// FAILED_PRECONDITION for a key id that is not loaded (or a format version
// this build does not know) and DATA_LOSS for anything malformed or failing
// authentication. No message contains plaintext or key material.
//
// Copyable and movable; a moved-from cipher may only be destroyed or assigned
// to. Key bytes are wiped when a key copy is destroyed. All const methods are
// safe to call concurrently.
class TokenCipher {
 public:
  static constexpr size_t kKeyBytes = 32;
  // Tokens are a few hundred bytes; the bound keeps lengths within OpenSSL's
  // int parameters and stops a corrupt row from causing a huge allocation.
  static constexpr size_t kMaxPlaintextBytes = size_t{64} * 1024;
  static constexpr size_t kMaxAssociatedDataBytes = size_t{64} * 1024;

  // `keys` holds (key_id, 32 raw key bytes); the first one encrypts. Key ids
  // match [A-Za-z0-9_-]{1,32} and must be unique. The key strings in `keys`
  // are wiped once copied, so pass them with std::move.
  static absl::StatusOr<TokenCipher> Create(
      std::vector<std::pair<std::string, std::string>> keys);

  // Parses a key file: one "key-id:base64key" per line, the first being the
  // primary. Blank lines and lines starting with '#' are ignored, surrounding
  // whitespace and '\r' are trimmed. Errors name the line number and never
  // contain the key.
  static absl::StatusOr<TokenCipher> FromKeyFile(const std::string& text);

  // A fresh "key-id:base64key" line for development set-ups. `key_id` must
  // match [A-Za-z0-9_-]{1,32}. Aborts if the system random generator fails,
  // because no usable key can be produced then.
  static std::string GenerateKeyLine(const std::string& key_id);

  // Encrypts with the primary key and a fresh random nonce, so two calls with
  // the same input give different outputs. INVALID_ARGUMENT when an input is
  // over its size bound; INTERNAL if OpenSSL fails.
  absl::StatusOr<std::string> Encrypt(const std::string& plaintext,
                                      const std::string& associated_data) const;

  // Decrypts a value made by Encrypt with any loaded key and the same
  // `associated_data`.
  absl::StatusOr<std::string> Decrypt(const std::string& ciphertext,
                                      const std::string& associated_data) const;

  // True when `ciphertext` is a well-formed v1 value made with a key other
  // than the primary one, so the caller should re-encrypt it on its next
  // write. False for primary-key values and for malformed input (re-encrypting
  // cannot fix those; Decrypt reports them).
  bool NeedsReencryption(const std::string& ciphertext) const;

  const std::string& primary_key_id() const { return keys_.front().id; }

 private:
  // One key; the bytes live inline so that copies never share a buffer and
  // every copy is wiped by its own destructor.
  struct Key {
    Key() = default;
    Key(const Key&) = default;
    Key(Key&&) = default;
    Key& operator=(const Key&) = default;
    Key& operator=(Key&&) = default;
    ~Key();

    std::string id;
    std::array<unsigned char, kKeyBytes> bytes{};
  };

  explicit TokenCipher(std::vector<Key> keys) : keys_(std::move(keys)) {}

  const Key* FindKey(const std::string& key_id) const;

  std::vector<Key> keys_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_TOKEN_CIPHER_H_
