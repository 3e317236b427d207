#include "server/contact_validation.h"

#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cstddef>
#include <string>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::StrEq;
using ::wave::testing::StatusIs;

v1::Contact ValidContact() {
  v1::Contact c;
  c.set_contact_id("c-1");
  c.set_version(7);
  c.set_first_name("Jane");
  c.set_last_name("Doe");
  v1::ContactPoint* email = c.add_emails();
  email->set_value("jane@acme.com");
  email->set_label("work");
  email->set_primary(true);
  c.add_phones()->set_value("+1 415 555 0100");
  c.set_job_title("VP Sales");
  c.set_company("Acme");
  c.set_owner_email("owner@wave.test");
  return c;
}

// Expects INVALID_ARGUMENT with exactly `message`.
#define EXPECT_INVALID(status, message) \
  EXPECT_THAT((status),                 \
              StatusIs(absl::StatusCode::kInvalidArgument, StrEq(message)))

TEST(ValidateContact, AcceptsFullContact) {
  EXPECT_OK(ValidateContact(ValidContact()));
}

TEST(ValidateContact, AcceptsNameOnly) {
  v1::Contact c;
  c.set_contact_id("c-1");
  c.set_version(1);
  c.set_last_name("Doe");
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, AcceptsEmailOnly) {
  v1::Contact c;
  c.set_contact_id("c-1");
  c.set_version(1);
  c.add_emails()->set_value("a@b.c");
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, AcceptsPhoneOnly) {
  v1::Contact c;
  c.set_contact_id("c-1");
  c.set_version(1);
  c.add_phones()->set_value("123");
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, AcceptsMultilingualText) {
  v1::Contact c = ValidContact();
  c.set_first_name("Zoë 李 \xF0\x9F\x98\x80");  // U+1F600, four bytes.
  c.set_last_name("O\u00A0Brien");              // NBSP inside.
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, RejectsMissingContactId) {
  v1::Contact c = ValidContact();
  c.clear_contact_id();
  EXPECT_INVALID(ValidateContact(c), "contact.contact_id: required");
}

TEST(ValidateContact, RejectsBlankContactId) {
  v1::Contact c = ValidContact();
  c.set_contact_id("  ");
  EXPECT_INVALID(ValidateContact(c), "contact.contact_id: required");
}

TEST(ValidateContact, AcceptsContactIdOf128Bytes) {
  v1::Contact c = ValidContact();
  c.set_contact_id(std::string(128, 'x'));
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, RejectsContactIdOver128Bytes) {
  v1::Contact c = ValidContact();
  c.set_contact_id(std::string(129, 'x'));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.contact_id: longer than 128 bytes");
}

TEST(ValidateContact, CountsContactIdInBytesNotCharacters) {
  v1::Contact c = ValidContact();
  std::string id;
  for (int i = 0; i < 65; ++i) id += "\xC3\xA9";  // 65 x U+00E9 = 130 bytes.
  c.set_contact_id(id);
  EXPECT_INVALID(ValidateContact(c),
                 "contact.contact_id: longer than 128 bytes");
}

TEST(ValidateContact, RejectsControlCharacterInContactId) {
  v1::Contact c = ValidContact();
  c.set_contact_id("c\x7Fz");
  EXPECT_INVALID(ValidateContact(c),
                 "contact.contact_id: contains a control character");
}

TEST(ValidateContact, RejectsInvalidUtf8InContactId) {
  v1::Contact c = ValidContact();
  c.set_contact_id("c\xFF");
  EXPECT_INVALID(ValidateContact(c), "contact.contact_id: not valid UTF-8");
}

TEST(ValidateContact, RejectsZeroVersion) {
  v1::Contact c = ValidContact();
  c.set_version(0);
  EXPECT_INVALID(ValidateContact(c),
                 "contact.version: must be greater than zero");
}

TEST(ValidateContact, RejectsNegativeVersion) {
  v1::Contact c = ValidContact();
  c.set_version(-5);
  EXPECT_INVALID(ValidateContact(c),
                 "contact.version: must be greater than zero");
}

TEST(ValidateContact, RejectsInvalidContinuationByte) {
  v1::Contact c = ValidContact();
  c.set_first_name("\xC3\x28");
  EXPECT_INVALID(ValidateContact(c), "contact.first_name: not valid UTF-8");
}

TEST(ValidateContact, RejectsOverlongSlash) {
  v1::Contact c = ValidContact();
  c.set_last_name("\xC0\xAF");
  EXPECT_INVALID(ValidateContact(c), "contact.last_name: not valid UTF-8");
}

TEST(ValidateContact, RejectsInvalidUtf8InEveryTextField) {
  struct Case {
    void (*set)(v1::Contact*, const std::string&);
    const char* message;
  };
  const Case cases[] = {
      {[](v1::Contact* c, const std::string& v) { c->set_job_title(v); },
       "contact.job_title: not valid UTF-8"},
      {[](v1::Contact* c, const std::string& v) { c->set_company(v); },
       "contact.company: not valid UTF-8"},
      {[](v1::Contact* c, const std::string& v) { c->set_owner_email(v); },
       "contact.owner_email: not valid UTF-8"},
      {[](v1::Contact* c, const std::string& v) {
         c->mutable_emails(0)->set_value(v);
       },
       "contact.emails[0].value: not valid UTF-8"},
      {[](v1::Contact* c, const std::string& v) {
         c->mutable_emails(0)->set_label(v);
       },
       "contact.emails[0].label: not valid UTF-8"},
      {[](v1::Contact* c, const std::string& v) {
         c->mutable_phones(0)->set_value(v);
       },
       "contact.phones[0].value: not valid UTF-8"},
      {[](v1::Contact* c, const std::string& v) {
         c->mutable_phones(0)->set_label(v);
       },
       "contact.phones[0].label: not valid UTF-8"},
  };
  for (const Case& test_case : cases) {
    v1::Contact c = ValidContact();
    test_case.set(&c, "ok\x80");
    EXPECT_INVALID(ValidateContact(c), test_case.message);
  }
}

TEST(ValidateContact, RejectsNulCharacter) {
  v1::Contact c = ValidContact();
  c.set_first_name(std::string("Ja\0ne", 5));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.first_name: contains a control character");
}

TEST(ValidateContact, RejectsNewlineInName) {
  v1::Contact c = ValidContact();
  c.set_last_name("Doe\nInjected");
  EXPECT_INVALID(ValidateContact(c),
                 "contact.last_name: contains a control character");
}

TEST(ValidateContact, RejectsTabInCompany) {
  v1::Contact c = ValidContact();
  c.set_company("Acme\tInc");
  EXPECT_INVALID(ValidateContact(c),
                 "contact.company: contains a control character");
}

TEST(ValidateContact, RejectsC1ControlInJobTitle) {
  v1::Contact c = ValidContact();
  c.set_job_title("VP\xC2\x85Sales");  // U+0085 NEXT LINE.
  EXPECT_INVALID(ValidateContact(c),
                 "contact.job_title: contains a control character");
}

TEST(ValidateContact, RejectsControlCharacterInEmailValue) {
  v1::Contact c = ValidContact();
  c.add_emails()->set_value("x@y.z\r");
  EXPECT_INVALID(ValidateContact(c),
                 "contact.emails[1].value: contains a control character");
}

TEST(ValidateContact, AcceptsNameOf255Characters) {
  v1::Contact c = ValidContact();
  std::string name;
  for (int i = 0; i < 255; ++i) name += "\xC3\xA9";  // 510 bytes.
  c.set_first_name(name);
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, RejectsNameOver255Characters) {
  v1::Contact c = ValidContact();
  c.set_first_name(std::string(256, 'a'));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.first_name: longer than 255 characters");
}

TEST(ValidateContact, RejectsJobTitleOver255Characters) {
  v1::Contact c = ValidContact();
  c.set_job_title(std::string(256, 'a'));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.job_title: longer than 255 characters");
}

TEST(ValidateContact, RejectsCompanyOver255Characters) {
  v1::Contact c = ValidContact();
  c.set_company(std::string(300, 'a'));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.company: longer than 255 characters");
}

TEST(ValidateContact, AcceptsOwnerEmailOf320Characters) {
  v1::Contact c = ValidContact();
  c.set_owner_email(std::string(310, 'a') + "@wave.test");
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, RejectsOwnerEmailOver320Characters) {
  v1::Contact c = ValidContact();
  c.set_owner_email(std::string(311, 'a') + "@wave.test");
  EXPECT_INVALID(ValidateContact(c),
                 "contact.owner_email: longer than 320 characters");
}

TEST(ValidateContact, RejectsEmailValueOver255Characters) {
  v1::Contact c = ValidContact();
  c.add_emails()->set_value("b@c.d");
  c.add_emails()->set_value(std::string(250, 'x') + "@a.com");
  EXPECT_INVALID(ValidateContact(c),
                 "contact.emails[2].value: longer than 255 characters");
}

TEST(ValidateContact, RejectsPhoneValueOver255Characters) {
  v1::Contact c = ValidContact();
  c.mutable_phones(0)->set_value(std::string(256, '1'));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.phones[0].value: longer than 255 characters");
}

TEST(ValidateContact, RejectsEmptyEmailValue) {
  v1::Contact c = ValidContact();
  c.add_emails()->set_label("home");
  EXPECT_INVALID(ValidateContact(c), "contact.emails[1].value: required");
}

TEST(ValidateContact, RejectsBlankPhoneValue) {
  v1::Contact c = ValidContact();
  c.mutable_phones(0)->set_value(" \xC2\xA0 ");
  EXPECT_INVALID(ValidateContact(c), "contact.phones[0].value: required");
}

TEST(ValidateContact, AcceptsLabelOf64Characters) {
  v1::Contact c = ValidContact();
  c.mutable_emails(0)->set_label(std::string(64, 'l'));
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, RejectsLabelOver64Characters) {
  v1::Contact c = ValidContact();
  c.mutable_phones(0)->set_label(std::string(65, 'l'));
  EXPECT_INVALID(ValidateContact(c),
                 "contact.phones[0].label: longer than 64 characters");
}

TEST(ValidateContact, AcceptsFiftyEmails) {
  v1::Contact c = ValidContact();
  for (int i = 1; i < 50; ++i) {
    c.add_emails()->set_value("e" + std::to_string(i) + "@acme.com");
  }
  EXPECT_OK(ValidateContact(c));
}

TEST(ValidateContact, RejectsFiftyOneEmails) {
  v1::Contact c = ValidContact();
  for (int i = 1; i < 51; ++i) {
    c.add_emails()->set_value("e" + std::to_string(i) + "@acme.com");
  }
  EXPECT_INVALID(ValidateContact(c), "contact.emails: at most 50 entries");
}

TEST(ValidateContact, RejectsFiftyOnePhones) {
  v1::Contact c = ValidContact();
  for (int i = 1; i < 51; ++i) c.add_phones()->set_value(std::to_string(i));
  EXPECT_INVALID(ValidateContact(c), "contact.phones: at most 50 entries");
}

TEST(ValidateContact, RejectsTwoPrimaryEmails) {
  v1::Contact c = ValidContact();
  v1::ContactPoint* second = c.add_emails();
  second->set_value("other@acme.com");
  second->set_primary(true);
  EXPECT_INVALID(ValidateContact(c),
                 "contact.emails: more than one entry is marked primary");
}

TEST(ValidateContact, RejectsTwoPrimaryPhones) {
  v1::Contact c = ValidContact();
  c.mutable_phones(0)->set_primary(true);
  v1::ContactPoint* second = c.add_phones();
  second->set_value("+1 415 555 0199");
  second->set_primary(true);
  EXPECT_INVALID(ValidateContact(c),
                 "contact.phones: more than one entry is marked primary");
}

TEST(ValidateContact, RejectsContactWithNothingToName) {
  v1::Contact c;
  c.set_contact_id("c-1");
  c.set_version(1);
  c.set_job_title("VP Sales");
  c.set_company("Acme");
  EXPECT_INVALID(ValidateContact(c),
                 "contact: needs a name, an email or a phone");
}

TEST(ValidateContact, TreatsWhitespaceNamesAsMissing) {
  v1::Contact c;
  c.set_contact_id("c-1");
  c.set_version(1);
  c.set_first_name("   ");
  c.set_last_name("\xC2\xA0");
  EXPECT_INVALID(ValidateContact(c),
                 "contact: needs a name, an email or a phone");
}

TEST(ValidateContact, ReportsFirstBrokenRuleInFieldOrder) {
  v1::Contact c;
  c.set_first_name("\xC3\x28");
  EXPECT_INVALID(ValidateContact(c), "contact.contact_id: required");
}

TEST(ValidateContact, NeverQuotesTheValue) {
  v1::Contact c = ValidContact();
  c.add_emails()->set_value("secret@example.com\x01");
  const absl::Status status = ValidateContact(c);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               ::testing::Not(::testing::HasSubstr("secret"))));
}

TEST(ValidateContactId, AcceptsWhatValidateContactAccepts) {
  EXPECT_OK(ValidateContactId("caf\u00E9 42/x"));
  EXPECT_OK(ValidateContactId(std::string(128, 'x')));
}

TEST(ValidateContactId, RejectsLikeValidateContactWithTheGivenField) {
  EXPECT_INVALID(ValidateContactId(""), "contact_id: required");
  EXPECT_INVALID(ValidateContactId(" "), "contact_id: required");
  EXPECT_INVALID(ValidateContactId(std::string(129, 'x')),
                 "contact_id: longer than 128 bytes");
  EXPECT_INVALID(ValidateContactId("a\tb"),
                 "contact_id: contains a control character");
  EXPECT_INVALID(ValidateContactId("\xC0\xAF", "request.contact_id"),
                 "request.contact_id: not valid UTF-8");
}

TEST(ValidateAccountId, AcceptsAllowedCharacters) {
  EXPECT_OK(ValidateAccountId("Acct-1_2.3:x@y"));
}

TEST(ValidateAccountId, RejectsEmpty) {
  EXPECT_INVALID(ValidateAccountId(""), "account_id: required");
}

TEST(ValidateAccountId, AcceptsExactly128Bytes) {
  EXPECT_OK(ValidateAccountId(std::string(128, 'a')));
}

TEST(ValidateAccountId, RejectsOver128Bytes) {
  EXPECT_INVALID(ValidateAccountId(std::string(129, 'a')),
                 "account_id: longer than 128 bytes");
}

TEST(ValidateAccountId, RejectsDisallowedCharacters) {
  const std::vector<std::string> ids = {
      "a b", "a/b", "a\nb", "caf\xC3\xA9", "a+b", std::string("a\0b", 3)};
  for (const std::string& id : ids) {
    EXPECT_INVALID(ValidateAccountId(id),
                   "account_id: may contain only ASCII letters, digits and "
                   "\"-_.:@\"");
  }
}

TEST(ValidateAccountId, NamesTheGivenField) {
  EXPECT_INVALID(ValidateAccountId("", "requests[3].account_id"),
                 "requests[3].account_id: required");
}

TEST(Utf8, AcceptsBoundaryCodePoints) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("\x7F"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(IsValidUtf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(IsValidUtf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));      // U+D7FF
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));      // U+E000
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(Utf8, RejectsIllFormedSequences) {
  const char* const cases[] = {
      "\x80",              // stray continuation byte
      "\xBF",              // stray continuation byte
      "\xC0\x80",          // overlong NUL
      "\xC1\xBF",          // overlong
      "\xE0\x80\xAF",      // overlong '/'
      "\xE0\x9F\xBF",      // overlong U+07FF
      "\xF0\x8F\xBF\xBF",  // overlong U+FFFF
      "\xED\xA0\x80",      // surrogate U+D800
      "\xED\xBF\xBF",      // surrogate U+DFFF
      "\xF4\x90\x80\x80",  // U+110000
      "\xF5\x80\x80\x80",  // lead byte above F4
      "\xFE",              // never valid
      "\xFF",              // never valid
      "\xC3",              // truncated 2-byte
      "\xE2\x82",          // truncated 3-byte
      "\xF0\x9F\x98",      // truncated 4-byte
      "a\xE2\x82z",        // continuation replaced by ASCII
  };
  for (const char* s : cases) {
    EXPECT_FALSE(IsValidUtf8(s)) << "bytes: " << ::testing::PrintToString(s);
  }
}

TEST(Utf8, DecodesAndReplacesIllFormedBytes) {
  const std::string s = "\xC3\xA9\xFFz";
  size_t pos = 0;
  char32_t cp = 0;
  EXPECT_TRUE(DecodeUtf8(s, &pos, &cp));
  EXPECT_EQ(cp, 0xE9U);
  EXPECT_EQ(pos, 2U);
  EXPECT_FALSE(DecodeUtf8(s, &pos, &cp));
  EXPECT_EQ(cp, 0xFFFDU);
  EXPECT_EQ(pos, 3U);
  EXPECT_TRUE(DecodeUtf8(s, &pos, &cp));
  EXPECT_EQ(cp, static_cast<char32_t>('z'));
  EXPECT_EQ(pos, 4U);
}

TEST(Utf8, EncodesEveryLength) {
  std::string out;
  for (const char32_t cp : {0x41U, 0xE9U, 0x2013U, 0x1F600U}) {
    AppendUtf8(cp, &out);
  }
  EXPECT_EQ(out, "A\xC3\xA9\xE2\x80\x93\xF0\x9F\x98\x80");
}

TEST(Utf8, EncodesSurrogateAsReplacementCharacter) {
  std::string out;
  AppendUtf8(0xD800, &out);
  EXPECT_EQ(out, "\xEF\xBF\xBD");
}

TEST(Utf8, CountsCodePoints) {
  EXPECT_EQ(CodePointCount(""), 0U);
  EXPECT_EQ(CodePointCount("abc"), 3U);
  EXPECT_EQ(CodePointCount("\xC3\xA9\xE2\x80\x93\xF0\x9F\x98\x80"), 3U);
  EXPECT_EQ(CodePointCount("\xFF\xFE"), 2U);
}

TEST(Utf8, ClassifiesWhitespace) {
  for (const char32_t cp : {0x20U, 0x09U, 0x0AU, 0xA0U, 0x2003U, 0x3000U}) {
    EXPECT_TRUE(IsUnicodeWhitespace(cp)) << static_cast<uint32_t>(cp);
  }
  for (const char32_t cp : {0x41U, 0x00U, 0x200BU, 0xFEFFU}) {
    EXPECT_FALSE(IsUnicodeWhitespace(cp)) << static_cast<uint32_t>(cp);
  }
}

}  // namespace
}  // namespace wave::pipedrive
