#include "server/oauth_state.h"

#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/evp.h>

#include <array>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::wave::testing::StatusIs;

constexpr char kMalformed[] = "state: malformed";
constexpr char kBadSignature[] = "state: signature does not match";
constexpr char kExpired[] = "state: expired; start the authorization again";
constexpr char kOtherAccount[] = "state: issued for another account";
constexpr char kAccount[] = "wave-account-42";
constexpr char kNonce[] = "00112233445566778899aabbccddeeff";

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Not `return {32, fill}`: that would pick the initializer_list constructor.
std::string KeyOf(char fill) {
  std::string key(32, fill);
  return key;
}

// A clock the test moves by hand.
class FakeClock {
 public:
  absl::Time Now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  std::function<absl::Time()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  absl::Time now_ = kStart;
};

struct Parts {
  std::string payload;
  std::string signature;
};

Parts Split(const std::string& state) {
  std::vector<std::string> parts = absl::StrSplit(state, '.');
  EXPECT_EQ(parts.size(), 2U) << state;
  parts.resize(2);
  Parts out;
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[0], &out.payload));
  EXPECT_TRUE(absl::WebSafeBase64Unescape(parts[1], &out.signature));
  return out;
}

std::string Join(const Parts& parts) {
  return absl::StrCat(absl::WebSafeBase64Escape(parts.payload), ".",
                      absl::WebSafeBase64Escape(parts.signature));
}

// Signs an arbitrary payload with `key`, as a holder of the key could, to
// reach the payload checks that run after the signature check.
std::string Forge(const std::string& key, const std::string& payload) {
  std::array<unsigned char, 32> mac;
  size_t mac_len = 0;
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(),
                      key.size(),
                      reinterpret_cast<const unsigned char*>(payload.data()),
                      payload.size(), mac.data(), mac.size(), &mac_len),
            nullptr);
  return Join({payload, std::string(reinterpret_cast<const char*>(mac.data()),
                                    mac_len)});
}

TEST(OAuthStateSigner, RoundTrip) {
  FakeClock clock;
  OAuthStateSigner signer(KeyOf('k'), clock.AsFunction());

  OAuthStateSigner::Issued issued = signer.Issue(kAccount);

  EXPECT_EQ(issued.expires_at, kStart + absl::Minutes(15));
  EXPECT_OK(signer.Verify(issued.state, kAccount));
}

TEST(OAuthStateSigner, StateIsUrlSafeAndHasTheDocumentedPayload) {
  FakeClock clock;
  OAuthStateSigner signer(KeyOf('k'), clock.AsFunction());

  OAuthStateSigner::Issued issued = signer.Issue(kAccount, absl::Minutes(5));

  EXPECT_THAT(issued.state, MatchesRegex("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+"));
  Parts parts = Split(issued.state);
  EXPECT_THAT(parts.payload,
              MatchesRegex(absl::StrCat("v1\\|wave-account-42\\|",
                                        absl::ToUnixSeconds(kStart) + 300,
                                        "\\|[0-9a-f]{32}")));
  EXPECT_EQ(parts.signature.size(), 32U);
}

TEST(OAuthStateSigner, IssuedStatesDiffer) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });

  EXPECT_NE(signer.Issue(kAccount).state, signer.Issue(kAccount).state);
}

TEST(OAuthStateSigner, TamperingWithAnyPayloadFieldBreaksTheSignature) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  const Parts original = Split(signer.Issue(kAccount).state);
  std::vector<std::string> fields = absl::StrSplit(original.payload, '|');
  ASSERT_EQ(fields.size(), 4U);

  for (size_t i = 0; i < fields.size(); ++i) {
    std::vector<std::string> changed = fields;
    changed[i][0] = changed[i][0] == '1' ? '2' : '1';
    Parts tampered = original;
    tampered.payload = absl::StrJoin(changed, "|");
    EXPECT_THAT(signer.Verify(Join(tampered), kAccount),
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(kBadSignature)))
        << "field " << i;
  }
}

TEST(OAuthStateSigner, EveryFlippedSignatureByteIsRejected) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  const Parts original = Split(signer.Issue(kAccount).state);

  for (size_t i = 0; i < original.signature.size(); ++i) {
    Parts tampered = original;
    tampered.signature[i] = static_cast<char>(tampered.signature[i] ^ 0x80);
    EXPECT_THAT(signer.Verify(Join(tampered), kAccount),
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(kBadSignature)))
        << "byte " << i;
  }
}

TEST(OAuthStateSigner, SwappedSignatureIsRejected) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  Parts first = Split(signer.Issue(kAccount).state);
  const Parts second = Split(signer.Issue(kAccount).state);
  first.signature = second.signature;

  EXPECT_THAT(signer.Verify(Join(first), kAccount),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kBadSignature)));
}

TEST(OAuthStateSigner, WrongKeyIsRejected) {
  OAuthStateSigner issuer(KeyOf('k'), [] { return kStart; });
  OAuthStateSigner verifier(KeyOf('j'), [] { return kStart; });

  EXPECT_THAT(verifier.Verify(issuer.Issue(kAccount).state, kAccount),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kBadSignature)));
}

TEST(OAuthStateSigner, AnotherAccountIsRejected) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  const std::string state = signer.Issue(kAccount).state;

  EXPECT_THAT(signer.Verify(state, "wave-account-43"),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kOtherAccount)));
  EXPECT_THAT(signer.Verify(state, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kOtherAccount)));
}

TEST(OAuthStateSigner, AccountIdWithSeparatorsStaysBound) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  const std::string state = signer.Issue("a|1900000000|b").state;

  EXPECT_OK(signer.Verify(state, "a|1900000000|b"));
  EXPECT_THAT(signer.Verify(state, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kOtherAccount)));
}

TEST(OAuthStateSigner, LongAccountIdsUpToTheDocumentedSizeRoundTrip) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  const std::string account(1400, 'a');

  OAuthStateSigner::Issued issued = signer.Issue(account);

  EXPECT_LE(issued.state.size(), OAuthStateSigner::kMaxStateChars);
  EXPECT_OK(signer.Verify(issued.state, account));
}

TEST(OAuthStateSigner, ExpiresAtTheTtl) {
  FakeClock clock;
  OAuthStateSigner signer(KeyOf('k'), clock.AsFunction());
  const std::string state = signer.Issue(kAccount).state;

  clock.Advance(absl::Minutes(15) - absl::Seconds(1));
  EXPECT_OK(signer.Verify(state, kAccount));
  clock.Advance(absl::Seconds(1));
  EXPECT_THAT(signer.Verify(state, kAccount),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kExpired)));
  clock.Advance(absl::Hours(24));
  EXPECT_THAT(signer.Verify(state, kAccount),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kExpired)));
}

TEST(OAuthStateSigner, CustomTtlIsHonouredAndTruncatedToSeconds) {
  FakeClock clock;
  clock.Advance(absl::Milliseconds(700));
  OAuthStateSigner signer(KeyOf('k'), clock.AsFunction());

  OAuthStateSigner::Issued issued = signer.Issue(kAccount, absl::Seconds(30));

  EXPECT_EQ(issued.expires_at, kStart + absl::Seconds(30));
  clock.Advance(absl::Seconds(29));
  EXPECT_OK(signer.Verify(issued.state, kAccount));
  clock.Advance(absl::Milliseconds(300));
  EXPECT_THAT(signer.Verify(issued.state, kAccount),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(kExpired)));
}

TEST(OAuthStateSigner, MalformedInputsAreRejected) {
  OAuthStateSigner signer(KeyOf('k'), [] { return kStart; });
  const std::string good = signer.Issue(kAccount).state;
  const size_t dot = good.find('.');
  const std::string payload_b64 = good.substr(0, dot);
  const std::string signature_b64 = good.substr(dot + 1);

  const std::vector<std::string> inputs = {
      "",
      ".",
      "no-dot-at-all",
      payload_b64,
      absl::StrCat(payload_b64, "."),
      absl::StrCat(".", signature_b64),
      absl::StrCat(good, ".", signature_b64),
      absl::StrCat(payload_b64, ".", "***"),
      absl::StrCat("%%%", ".", signature_b64),
      // Standard base64 padding is not what Issue produces.
      absl::StrCat(payload_b64, ".", signature_b64, "="),
      absl::StrCat(payload_b64, " .", signature_b64),
      // A signature of the wrong length.
      absl::StrCat(payload_b64, ".", signature_b64.substr(4)),
      absl::StrCat(payload_b64, ".", absl::WebSafeBase64Escape("short")),
      std::string(1 << 20, 'A') + "." + signature_b64,
      good + std::string(OAuthStateSigner::kMaxStateChars, 'A'),
  };
  for (const std::string& input : inputs) {
    EXPECT_THAT(signer.Verify(input, kAccount),
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(kMalformed)))
        << input.substr(0, 80);
  }
}

TEST(OAuthStateSigner, SignedButMalformedPayloadsAreRejected) {
  const std::string key = KeyOf('k');
  OAuthStateSigner signer(key, [] { return kStart; });
  const std::string expiry = absl::StrCat(absl::ToUnixSeconds(kStart) + 60);

  // Control: a forged state in the right shape verifies, so the cases below
  // fail on their payload and not on the forging.
  ASSERT_OK(signer.Verify(
      Forge(key, absl::StrCat("v1|", kAccount, "|", expiry, "|", kNonce)),
      kAccount));
  const std::vector<std::string> payloads = {
      "",
      absl::StrCat("v2|", kAccount, "|", expiry, "|", kNonce),
      absl::StrCat(kAccount, "|", expiry, "|", kNonce),
      absl::StrCat("v1|", kAccount, "|", expiry),
      absl::StrCat("v1|", expiry, "|", kNonce),
      absl::StrCat("v1|", kAccount, "||", kNonce),
      absl::StrCat("v1|", kAccount, "|+", expiry, "|", kNonce),
      absl::StrCat("v1|", kAccount, "|", expiry, "x|", kNonce),
      absl::StrCat("v1|", kAccount, "|99999999999999999999|", kNonce),
      absl::StrCat("v1|", kAccount, "|", expiry, "|", "00112233"),
      absl::StrCat("v1|", kAccount, "|", expiry, "|",
                   "00112233445566778899AABBCCDDEEFF"),
  };
  for (const std::string& payload : payloads) {
    EXPECT_THAT(signer.Verify(Forge(key, payload), kAccount),
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(kMalformed)))
        << payload;
  }
}

TEST(OAuthStateSigner, FromBase64KeyAcceptsStandardAndUrlSafeKeys) {
  std::string key = KeyOf('k');
  key[0] = '\xfb';  // gives '+' or '-' in the first base64 character
  OAuthStateSigner reference(key, [] { return kStart; });
  const std::string state = reference.Issue(kAccount).state;

  for (const std::string& b64 :
       {absl::Base64Escape(key), absl::WebSafeBase64Escape(key),
        absl::StrCat("  ", absl::Base64Escape(key), "\n")}) {
    absl::StatusOr<OAuthStateSigner> signer =
        OAuthStateSigner::FromBase64Key(b64, [] { return kStart; });
    ASSERT_OK(signer) << b64;
    EXPECT_OK(signer->Verify(state, kAccount)) << b64;
  }
}

TEST(OAuthStateSigner, FromBase64KeyRejectsBadKeysWithoutEchoingThem) {
  const std::string short_key = absl::Base64Escape(std::string(31, 'k'));

  absl::StatusOr<OAuthStateSigner> too_short =
      OAuthStateSigner::FromBase64Key(short_key);
  absl::StatusOr<OAuthStateSigner> not_base64 =
      OAuthStateSigner::FromBase64Key("secret*value!");
  absl::StatusOr<OAuthStateSigner> empty = OAuthStateSigner::FromBase64Key("");

  EXPECT_THAT(too_short,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("oauth state key: must decode to at least 32 bytes, "
                          "not 31")));
  EXPECT_THAT(not_base64, StatusIs(absl::StatusCode::kInvalidArgument,
                                   Eq("oauth state key: not valid base64")));
  EXPECT_THAT(std::string(not_base64.status().message()),
              Not(HasSubstr("secret")));
  EXPECT_THAT(empty, StatusIs(absl::StatusCode::kInvalidArgument,
                              HasSubstr("at least 32 bytes, not 0")));
}

TEST(OAuthStateSigner, CopiesAndAssignmentsKeepTheKey) {
  OAuthStateSigner original(KeyOf('k'), [] { return kStart; });
  const std::string state = original.Issue(kAccount).state;

  OAuthStateSigner copy = original;
  OAuthStateSigner moved = std::move(original);
  OAuthStateSigner assigned(KeyOf('z'), [] { return kStart; });
  assigned = copy;

  EXPECT_OK(copy.Verify(state, kAccount));
  EXPECT_OK(moved.Verify(state, kAccount));
  EXPECT_OK(assigned.Verify(state, kAccount));
}

TEST(OAuthStateSignerDeathTest, ShortKeyAborts) {
  EXPECT_DEATH({ OAuthStateSigner signer(std::string(31, 'k')); },
               "key is shorter than 32 bytes");
}

}  // namespace
}  // namespace wave::pipedrive
