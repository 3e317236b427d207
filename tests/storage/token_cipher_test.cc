#include "storage/token_cipher.h"

#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::wave::testing::IsOk;
using ::wave::testing::StatusIs;

constexpr char kAad[] = "account-42/access_token";
constexpr char kToken[] = "v1:abc123-access-token";
constexpr char kAuthFailed[] = "token ciphertext failed authentication";
constexpr char kMalformed[] = "token ciphertext: malformed";

// Not `return {n, fill}`: that would pick the initializer_list constructor.
std::string KeyOf(char fill) {
  std::string key(TokenCipher::kKeyBytes, fill);
  return key;
}

TokenCipher MakeCipher(std::vector<std::pair<std::string, std::string>> keys) {
  absl::StatusOr<TokenCipher> cipher = TokenCipher::Create(std::move(keys));
  EXPECT_OK(cipher);
  return *std::move(cipher);
}

struct Parts {
  std::string version;
  std::string key_id;
  std::string payload;  // decoded nonce || ciphertext || tag
};

Parts Split(const std::string& ciphertext) {
  std::vector<std::string> parts = absl::StrSplit(ciphertext, '.');
  EXPECT_EQ(parts.size(), 3U) << ciphertext;
  parts.resize(3);
  Parts out{parts[0], parts[1], ""};
  EXPECT_TRUE(absl::Base64Unescape(parts[2], &out.payload));
  return out;
}

std::string Join(const Parts& parts) {
  return absl::StrCat(parts.version, ".", parts.key_id, ".",
                      absl::Base64Escape(parts.payload));
}

TEST(TokenCipher, RoundTrip) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});

  absl::StatusOr<std::string> ciphertext = cipher.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);
  absl::StatusOr<std::string> plaintext = cipher.Decrypt(*ciphertext, kAad);

  ASSERT_OK(plaintext);
  EXPECT_EQ(*plaintext, kToken);
  EXPECT_EQ(cipher.primary_key_id(), "k1");
}

TEST(TokenCipher, OutputNamesVersionAndKeyAndHidesPlaintext) {
  TokenCipher cipher = MakeCipher({{"prod-2024_a", KeyOf('a')}});

  absl::StatusOr<std::string> ciphertext = cipher.Encrypt(kToken, kAad);

  ASSERT_OK(ciphertext);
  EXPECT_THAT(*ciphertext, StartsWith("v1.prod-2024_a."));
  EXPECT_THAT(*ciphertext, Not(HasSubstr("abc123")));
  Parts parts = Split(*ciphertext);
  // 12-byte nonce, same-length ciphertext, 16-byte tag.
  EXPECT_EQ(parts.payload.size(), 12 + std::string(kToken).size() + 16);
}

TEST(TokenCipher, EmptyPlaintextRoundTrips) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});

  absl::StatusOr<std::string> ciphertext = cipher.Encrypt("", kAad);
  ASSERT_OK(ciphertext);
  absl::StatusOr<std::string> plaintext = cipher.Decrypt(*ciphertext, kAad);

  ASSERT_OK(plaintext);
  EXPECT_EQ(*plaintext, "");
}

TEST(TokenCipher, BinaryPlaintextAndEmptyAadRoundTrip) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  const std::string binary("\0\xff\x01token\0", 9);

  absl::StatusOr<std::string> ciphertext = cipher.Encrypt(binary, "");
  ASSERT_OK(ciphertext);
  absl::StatusOr<std::string> plaintext = cipher.Decrypt(*ciphertext, "");

  ASSERT_OK(plaintext);
  EXPECT_EQ(*plaintext, binary);
}

TEST(TokenCipher, SamePlaintextEncryptsDifferently) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});

  absl::StatusOr<std::string> first = cipher.Encrypt(kToken, kAad);
  absl::StatusOr<std::string> second = cipher.Encrypt(kToken, kAad);

  ASSERT_OK(first);
  ASSERT_OK(second);
  EXPECT_NE(*first, *second);
  EXPECT_NE(Split(*first).payload.substr(0, 12),
            Split(*second).payload.substr(0, 12));
}

TEST(TokenCipher, AssociatedDataMismatchIsDataLoss) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  absl::StatusOr<std::string> ciphertext =
      cipher.Encrypt(kToken, "account-42/access_token");
  ASSERT_OK(ciphertext);

  EXPECT_THAT(cipher.Decrypt(*ciphertext, "account-43/access_token"),
              StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)));
  EXPECT_THAT(cipher.Decrypt(*ciphertext, "account-42/refresh_token"),
              StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)));
  EXPECT_THAT(cipher.Decrypt(*ciphertext, ""),
              StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)));
}

TEST(TokenCipher, EveryFlippedPayloadByteIsDataLoss) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  absl::StatusOr<std::string> ciphertext = cipher.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);
  const Parts original = Split(*ciphertext);

  // Covers the nonce, the ciphertext body and the tag.
  for (size_t i = 0; i < original.payload.size(); ++i) {
    Parts tampered = original;
    tampered.payload[i] = static_cast<char>(tampered.payload[i] ^ 0x01);
    EXPECT_THAT(cipher.Decrypt(Join(tampered), kAad),
                StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)))
        << "byte " << i;
  }
}

TEST(TokenCipher, TruncatedTagIsDataLoss) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  absl::StatusOr<std::string> ciphertext = cipher.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);
  Parts parts = Split(*ciphertext);
  parts.payload.pop_back();

  EXPECT_THAT(cipher.Decrypt(Join(parts), kAad),
              StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)));
}

TEST(TokenCipher, RelabelledKeyIdIsDataLoss) {
  TokenCipher old_cipher = MakeCipher({{"old", KeyOf('o')}});
  TokenCipher cipher = MakeCipher({{"new", KeyOf('o')}, {"old", KeyOf('o')}});
  absl::StatusOr<std::string> ciphertext = old_cipher.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);
  Parts parts = Split(*ciphertext);
  parts.key_id = "new";

  // Same key bytes under both ids: only the authenticated key id differs.
  EXPECT_THAT(cipher.Decrypt(Join(parts), kAad),
              StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)));
  EXPECT_OK(cipher.Decrypt(*ciphertext, kAad));
}

TEST(TokenCipher, WrongKeyWithSameIdIsDataLoss) {
  TokenCipher writer = MakeCipher({{"k1", KeyOf('a')}});
  TokenCipher reader = MakeCipher({{"k1", KeyOf('b')}});
  absl::StatusOr<std::string> ciphertext = writer.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);

  EXPECT_THAT(reader.Decrypt(*ciphertext, kAad),
              StatusIs(absl::StatusCode::kDataLoss, Eq(kAuthFailed)));
}

TEST(TokenCipher, UnknownKeyIdIsFailedPreconditionNamingIt) {
  TokenCipher writer = MakeCipher({{"retired-7", KeyOf('a')}});
  TokenCipher reader = MakeCipher({{"k1", KeyOf('b')}});
  absl::StatusOr<std::string> ciphertext = writer.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);

  EXPECT_THAT(
      reader.Decrypt(*ciphertext, kAad),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("\"retired-7\""), HasSubstr("not loaded"))));
}

TEST(TokenCipher, MalformedCiphertextIsDataLoss) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  absl::StatusOr<std::string> good = cipher.Encrypt(kToken, kAad);
  ASSERT_OK(good);
  const std::string payload = Split(*good).payload;
  const std::string b64 = absl::Base64Escape(payload);

  const std::vector<std::string> inputs = {
      "",
      "v1",
      "v1.k1",
      kToken,
      absl::StrCat("v1.k1.", b64, ".extra"),
      absl::StrCat("v1..", b64),
      absl::StrCat("v1.bad key.", b64),
      absl::StrCat("v1.", std::string(33, 'k'), ".", b64),
      absl::StrCat("x1.k1.", b64),
      "v1.k1.@@@@",
      // Valid base64 but shorter than nonce plus tag.
      absl::StrCat("v1.k1.", absl::Base64Escape(std::string(27, 'x'))),
      // Base64 without its padding is not the canonical form.
      absl::StrCat("v1.k1.", b64.substr(0, b64.find('='))),
      absl::StrCat("v1.k1.", b64, "\n"),
      absl::StrCat("v1.k1.", std::string(200000, 'A')),
  };
  ASSERT_NE(b64.find('='), std::string::npos);  // the padding case is real
  for (const std::string& input : inputs) {
    EXPECT_THAT(cipher.Decrypt(input, kAad),
                StatusIs(absl::StatusCode::kDataLoss, Eq(kMalformed)))
        << input.substr(0, 80);
  }
}

TEST(TokenCipher, LaterFormatVersionIsFailedPrecondition) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  absl::StatusOr<std::string> good = cipher.Encrypt(kToken, kAad);
  ASSERT_OK(good);
  Parts parts = Split(*good);
  parts.version = "v2";

  EXPECT_THAT(cipher.Decrypt(Join(parts), kAad),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("token ciphertext format v2 is not supported by "
                          "this build")));
}

TEST(TokenCipher, RotationDecryptsOldAndFlagsReencryption) {
  TokenCipher old_cipher = MakeCipher({{"2023", KeyOf('o')}});
  absl::StatusOr<std::string> old_ciphertext = old_cipher.Encrypt(kToken, kAad);
  ASSERT_OK(old_ciphertext);
  EXPECT_FALSE(old_cipher.NeedsReencryption(*old_ciphertext));

  TokenCipher rotated =
      MakeCipher({{"2024", KeyOf('n')}, {"2023", KeyOf('o')}});
  absl::StatusOr<std::string> plaintext =
      rotated.Decrypt(*old_ciphertext, kAad);

  ASSERT_OK(plaintext);
  EXPECT_EQ(*plaintext, kToken);
  EXPECT_EQ(rotated.primary_key_id(), "2024");
  EXPECT_TRUE(rotated.NeedsReencryption(*old_ciphertext));

  absl::StatusOr<std::string> reencrypted = rotated.Encrypt(*plaintext, kAad);
  ASSERT_OK(reencrypted);
  EXPECT_THAT(*reencrypted, StartsWith("v1.2024."));
  EXPECT_FALSE(rotated.NeedsReencryption(*reencrypted));
  // The old-only deployment cannot read what the new key wrote.
  EXPECT_THAT(
      old_cipher.Decrypt(*reencrypted, kAad),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("\"2024\"")));
}

TEST(TokenCipher, NeedsReencryptionIsFalseForMalformedInput) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});

  EXPECT_FALSE(cipher.NeedsReencryption(""));
  EXPECT_FALSE(cipher.NeedsReencryption("v1.k2.@@"));
  EXPECT_FALSE(cipher.NeedsReencryption("plain-token"));
}

TEST(TokenCipher, OversizedInputsAreInvalidArgument) {
  TokenCipher cipher = MakeCipher({{"k1", KeyOf('a')}});
  const std::string big(TokenCipher::kMaxPlaintextBytes + 1, 'x');

  EXPECT_THAT(cipher.Encrypt(big, kAad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("plaintext is over")));
  EXPECT_THAT(cipher.Encrypt(kToken, big),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("associated data is over")));
  absl::StatusOr<std::string> largest =
      cipher.Encrypt(std::string(TokenCipher::kMaxPlaintextBytes, 'y'), kAad);
  ASSERT_OK(largest);
  EXPECT_OK(cipher.Decrypt(*largest, kAad));
}

TEST(TokenCipher, CopiesAndMovesKeepWorking) {
  TokenCipher original = MakeCipher({{"k1", KeyOf('a')}});
  absl::StatusOr<std::string> ciphertext = original.Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);

  TokenCipher copy = original;
  TokenCipher moved = std::move(original);
  TokenCipher assigned = MakeCipher({{"other", KeyOf('z')}});
  assigned = copy;

  EXPECT_THAT(copy.Decrypt(*ciphertext, kAad), IsOk());
  EXPECT_THAT(moved.Decrypt(*ciphertext, kAad), IsOk());
  EXPECT_THAT(assigned.Decrypt(*ciphertext, kAad), IsOk());
  EXPECT_EQ(assigned.primary_key_id(), "k1");
}

TEST(TokenCipher, CreateRejectsBadKeys) {
  EXPECT_THAT(TokenCipher::Create({}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("token cipher needs at least one key")));
  EXPECT_THAT(
      TokenCipher::Create({{"k1", std::string(31, 'a')}}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               Eq("token cipher key \"k1\": must be 32 bytes, not 31")));
  EXPECT_THAT(TokenCipher::Create({{"k1", KeyOf('a')}, {"", KeyOf('b')}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("token cipher key #2: key id must match "
                          "[A-Za-z0-9_-]{1,32}")));
  EXPECT_THAT(TokenCipher::Create({{"a.b", KeyOf('a')}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key #1: key id must match")));
  EXPECT_THAT(TokenCipher::Create({{std::string(33, 'k'), KeyOf('a')}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("key #1: key id must match")));
  EXPECT_THAT(TokenCipher::Create({{"k1", KeyOf('a')}, {"k1", KeyOf('b')}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("token cipher: duplicate key id \"k1\"")));
}

TEST(TokenCipher, FromKeyFileParsesCommentsBlankLinesAndWhitespace) {
  const std::string key_a = absl::Base64Escape(KeyOf('a'));
  const std::string key_b = absl::Base64Escape(KeyOf('b'));
  const std::string text =
      absl::StrCat("# token keys, newest first\n\n  new : ", key_a,
                   "  \r\n   # retired next quarter\nold:", key_b, "\n\n");

  absl::StatusOr<TokenCipher> cipher = TokenCipher::FromKeyFile(text);

  ASSERT_OK(cipher);
  EXPECT_EQ(cipher->primary_key_id(), "new");
  TokenCipher old_only = MakeCipher({{"old", KeyOf('b')}});
  absl::StatusOr<std::string> old_ciphertext = old_only.Encrypt(kToken, kAad);
  ASSERT_OK(old_ciphertext);
  EXPECT_THAT(cipher->Decrypt(*old_ciphertext, kAad), IsOk());
  TokenCipher new_only = MakeCipher({{"new", KeyOf('a')}});
  absl::StatusOr<std::string> new_ciphertext = cipher->Encrypt(kToken, kAad);
  ASSERT_OK(new_ciphertext);
  EXPECT_THAT(new_only.Decrypt(*new_ciphertext, kAad), IsOk());
}

TEST(TokenCipher, FromKeyFileErrorsNameTheLineAndNotTheKey) {
  const std::string good = absl::StrCat("k1:", absl::Base64Escape(KeyOf('a')));
  const std::string short_key = absl::Base64Escape("0123456789abcdef");
  const std::string long_key = absl::Base64Escape(std::string(33, 'q'));
  struct Case {
    std::string text;
    std::string message;
    std::string secret;  // must not appear in the message
  };
  const std::vector<Case> cases = {
      {absl::StrCat("# keys\n", good, "\nk2:not*base64!!\n"),
       "key file line 3: key is not valid base64", "not*base64"},
      {absl::StrCat(good, "\n\nk2:", short_key),
       "key file line 3: key must decode to 32 bytes, not 16", short_key},
      {absl::StrCat("k2:", long_key),
       "key file line 1: key must decode to 32 bytes, not 33", long_key},
      {absl::StrCat(good, "\n", good),
       "key file line 2: duplicate key id \"k1\"",
       absl::Base64Escape(KeyOf('a'))},
      {absl::StrCat("\n\n", absl::Base64Escape(KeyOf('a'))),
       "key file line 3: expected \"key-id:base64key\"",
       absl::Base64Escape(KeyOf('a'))},
      {absl::StrCat("bad id:", absl::Base64Escape(KeyOf('a'))),
       "key file line 1: key id must match [A-Za-z0-9_-]{1,32}",
       absl::Base64Escape(KeyOf('a'))},
      {absl::StrCat(":", absl::Base64Escape(KeyOf('a'))),
       "key file line 1: key id must match [A-Za-z0-9_-]{1,32}",
       absl::Base64Escape(KeyOf('a'))},
      {"k1:", "key file line 1: key must decode to 32 bytes, not 0", ""},
      {"", "key file has no keys", ""},
      {"# only a comment\n\n   \n", "key file has no keys", ""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TokenCipher> cipher = TokenCipher::FromKeyFile(c.text);
    EXPECT_THAT(cipher,
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(c.message)))
        << c.text;
    if (!c.secret.empty()) {
      EXPECT_THAT(std::string(cipher.status().message()),
                  Not(HasSubstr(c.secret)));
    }
  }
}

TEST(TokenCipher, GenerateKeyLineIsLoadableAndFresh) {
  const std::string first = TokenCipher::GenerateKeyLine("dev");
  const std::string second = TokenCipher::GenerateKeyLine("dev");

  EXPECT_THAT(first, StartsWith("dev:"));
  EXPECT_NE(first, second);
  absl::StatusOr<TokenCipher> cipher = TokenCipher::FromKeyFile(first);
  ASSERT_OK(cipher);
  EXPECT_EQ(cipher->primary_key_id(), "dev");
  absl::StatusOr<std::string> ciphertext = cipher->Encrypt(kToken, kAad);
  ASSERT_OK(ciphertext);
  EXPECT_THAT(cipher->Decrypt(*ciphertext, kAad), IsOk());
}

}  // namespace
}  // namespace wave::pipedrive
