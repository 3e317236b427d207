#ifndef WAVE_SERVER_OAUTH_STATE_H_
#define WAVE_SERVER_OAUTH_STATE_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

#include <functional>
#include <string>

namespace wave::pipedrive {

// OAuthStateSigner provides the CSRF `state` parameter of the Pipedrive
// consent URL: signed with HMAC-SHA256, expiring, and bound to the Wave
// account that started the authorization.
//
// A state is base64url(payload) "." base64url(HMAC-SHA256(key, payload)),
// unpadded, so it needs no escaping in a URL; the payload is
// "v1|<account id>|<expiry unix seconds>|<32 hex random chars>".
//
// Verify returns INVALID_ARGUMENT with one of the messages "state: malformed",
// "state: signature does not match", "state: expired; start the
// authorization again" or "state: issued for another account". A state is not
// single-use (that would need server-side storage): it verifies until it
// expires, and the short TTL bounds how long a leaked one is useful.
//
// Copyable and movable; a moved-from signer may only be destroyed or assigned
// to. The key is wiped when the signer is destroyed. Issue and Verify are
// safe to call concurrently if the clock is.
class OAuthStateSigner {
 public:
  static constexpr size_t kMinKeyBytes = 32;
  // Far above any real state; keeps hostile callback input cheap to reject.
  // It leaves room for account ids of up to about 1,400 bytes.
  static constexpr size_t kMaxStateChars = 2048;

  struct Issued {
    std::string state;
    absl::Time expires_at;
  };

  // `key` is raw bytes, at least kMinKeyBytes long; a shorter key is a
  // programming error and aborts the process (use FromBase64Key for keys from
  // configuration). `clock` is injectable for tests.
  explicit OAuthStateSigner(std::string key,
                            std::function<absl::Time()> clock = absl::Now);

  // Decodes a base64 (standard or URL-safe, padding optional) key with
  // surrounding whitespace trimmed. INVALID_ARGUMENT if it does not decode or
  // is shorter than kMinKeyBytes; the message never contains the key.
  static absl::StatusOr<OAuthStateSigner> FromBase64Key(
      const std::string& b64, std::function<absl::Time()> clock = absl::Now);

  OAuthStateSigner(const OAuthStateSigner&) = default;
  OAuthStateSigner(OAuthStateSigner&&) = default;
  // By value and swap, so the old key ends in a temporary that wipes it.
  OAuthStateSigner& operator=(OAuthStateSigner other) noexcept;
  ~OAuthStateSigner();

  // A state for `account_id` valid until now + `ttl` (truncated to whole
  // seconds, which is what `expires_at` reports). Aborts if the system random
  // generator or OpenSSL's HMAC fails, since no safe state exists then.
  Issued Issue(const std::string& account_id,
               absl::Duration ttl = absl::Minutes(15)) const;

  // OK if `state` was issued by a signer with this key for `account_id` and
  // has not expired; otherwise INVALID_ARGUMENT as described above. The
  // signature is compared in constant time before anything else is parsed.
  absl::Status Verify(const std::string& state,
                      const std::string& account_id) const;

 private:
  std::string key_;
  std::function<absl::Time()> clock_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_OAUTH_STATE_H_
