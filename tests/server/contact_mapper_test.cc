#include "server/contact_mapper.h"

#include "server/contact_validation.h"
#include "tests/support/status_matchers.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace wave::pipedrive {

// Readable gMock failure messages; static, so that ADL finds it here without
// clashing with any other translation unit.
static void PrintTo(const ContactPoint& p, std::ostream* os) {
  *os << "{\"" << p.value << "\", \"" << p.label << "\", "
      << (p.primary ? "primary" : "secondary") << "}";
}

namespace {

using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kDash[] = " \xE2\x80\x93 ";  // " – "

ContactPoint Point(const std::string& value, const std::string& label,
                   bool primary) {
  return ContactPoint{value, label, primary};
}

v1::ContactPoint* AddPoint(
    google::protobuf::RepeatedPtrField<v1::ContactPoint>* points,
    const std::string& value, const std::string& label = "",
    bool primary = false) {
  v1::ContactPoint* point = points->Add();
  point->set_value(value);
  point->set_label(label);
  point->set_primary(primary);
  return point;
}

v1::Contact BaseContact() {
  v1::Contact c;
  c.set_contact_id("c-42");
  c.set_version(3);
  return c;
}

OwnerLookup NoOwners() {
  return
      [](const std::string&) -> std::optional<int64_t> { return std::nullopt; };
}

MappedContact Map(const v1::Contact& c) {
  return MapContact(c, NoOwners(), MappingOptions{});
}

std::string Repeat(const std::string& s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += s;
  return out;
}

// ---- Person name ---------------------------------------------------------

TEST(MapContactName, JoinsFirstAndLast) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_last_name("Doe");
  EXPECT_EQ(Map(c).person.name, "Jane Doe");
}

TEST(MapContactName, TrimsAndCollapsesWhitespace) {
  v1::Contact c = BaseContact();
  c.set_first_name("  Mary \xC2\xA0 Ann\t");
  c.set_last_name("\xE2\x80\x83 van   der Berg  ");  // EM SPACE first.
  EXPECT_EQ(Map(c).person.name, "Mary Ann van der Berg");
}

TEST(MapContactName, UsesFirstNameAlone) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane ");
  c.set_last_name("  ");
  EXPECT_EQ(Map(c).person.name, "Jane");
}

TEST(MapContactName, UsesLastNameAlone) {
  v1::Contact c = BaseContact();
  c.set_last_name(" Doe");
  EXPECT_EQ(Map(c).person.name, "Doe");
}

TEST(MapContactName, FallsBackToPrimaryEmail) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "first@acme.com");
  AddPoint(c.mutable_emails(), "  Boss@Acme.com ", "work", true);
  AddPoint(c.mutable_phones(), "+1 415 555 0100", "", true);
  EXPECT_EQ(Map(c).person.name, "Boss@Acme.com");
}

TEST(MapContactName, FallsBackToFirstEmailWithoutPrimary) {
  v1::Contact c = BaseContact();
  c.set_first_name(" \xC2\xA0");
  AddPoint(c.mutable_emails(), "first@acme.com");
  AddPoint(c.mutable_emails(), "second@acme.com");
  EXPECT_EQ(Map(c).person.name, "first@acme.com");
}

TEST(MapContactName, FallsBackToEmailThatInheritedPrimary) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "a@acme.com");
  AddPoint(c.mutable_emails(), "b@acme.com");
  AddPoint(c.mutable_emails(), "A@ACME.COM", "", true);
  EXPECT_EQ(Map(c).person.name, "a@acme.com");
}

TEST(MapContactName, FallsBackToPrimaryPhone) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "+1 415 555 0100");
  AddPoint(c.mutable_phones(), " +44 20 7946 0000 ", "", true);
  EXPECT_EQ(Map(c).person.name, "+44 20 7946 0000");
}

TEST(MapContactName, TruncatesTo255CodePoints) {
  v1::Contact c = BaseContact();
  c.set_first_name(Repeat("\xC3\xA9", 200));     // é, 2 bytes each
  c.set_last_name(Repeat("\xE2\x82\xAC", 200));  // €, 3 bytes each
  const std::string name = *Map(c).person.name;
  EXPECT_EQ(CodePointCount(name), 255U);
  EXPECT_TRUE(IsValidUtf8(name));
  EXPECT_EQ(name, Repeat("\xC3\xA9", 200) + " " + Repeat("\xE2\x82\xAC", 54));
}

TEST(MapContactName, TruncationDoesNotSplitFourByteSequences) {
  v1::Contact c = BaseContact();
  c.set_first_name(std::string(250, 'a'));
  c.set_last_name(Repeat("\xF0\x9F\x98\x80", 10));  // U+1F600
  const std::string name = *Map(c).person.name;
  EXPECT_TRUE(IsValidUtf8(name));
  EXPECT_EQ(name, std::string(250, 'a') + " " + Repeat("\xF0\x9F\x98\x80", 4));
}

TEST(MapContactName, TruncationDropsTrailingSpace) {
  v1::Contact c = BaseContact();
  c.set_first_name(std::string(254, 'a'));
  c.set_last_name("Doe");
  EXPECT_EQ(Map(c).person.name, std::string(254, 'a'));
}

TEST(MapContactName, ReplacesIllFormedBytesOfUnvalidatedInput) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jo\xC3\x28");
  const std::string name = *Map(c).person.name;
  EXPECT_TRUE(IsValidUtf8(name));
  EXPECT_EQ(name, "Jo\xEF\xBF\xBD(");
}

TEST(MapContactName, IsEmptyOnlyForContactsThatFailValidation) {
  v1::Contact c = BaseContact();
  ASSERT_FALSE(ValidateContact(c).ok());
  EXPECT_EQ(Map(c).person.name, "");
}

// ---- Emails and phones ---------------------------------------------------

TEST(MapContactEmails, KeepsOrderTrimsAndMarksFirstPrimary) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), " Jane@Acme.com ", "work");
  AddPoint(c.mutable_emails(), "jane@home.org", "home");
  EXPECT_THAT(*Map(c).person.emails,
              ElementsAre(Point("Jane@Acme.com", "work", true),
                          Point("jane@home.org", "home", false)));
}

TEST(MapContactEmails, KeepsTheContactsPrimary) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "a@acme.com");
  AddPoint(c.mutable_emails(), "b@acme.com", "", true);
  EXPECT_THAT(*Map(c).person.emails,
              ElementsAre(Point("a@acme.com", "work", false),
                          Point("b@acme.com", "work", true)));
}

TEST(MapContactEmails, RemovesCaseInsensitiveDuplicatesKeepingFirst) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "Jane@Acme.com", "work");
  AddPoint(c.mutable_emails(), "other@acme.com", "home");
  AddPoint(c.mutable_emails(), " jane@ACME.com", "home");
  EXPECT_THAT(*Map(c).person.emails,
              ElementsAre(Point("Jane@Acme.com", "work", true),
                          Point("other@acme.com", "home", false)));
}

TEST(MapContactEmails, DuplicateHandsItsPrimaryToTheKeptEntry) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "first@acme.com");
  AddPoint(c.mutable_emails(), "jane@acme.com", "home");
  AddPoint(c.mutable_emails(), "JANE@acme.com", "work", true);
  EXPECT_THAT(*Map(c).person.emails,
              ElementsAre(Point("first@acme.com", "work", false),
                          Point("jane@acme.com", "home", true)));
}

TEST(MapContactEmails, MarksExactlyOnePrimaryEvenWhenInputHasTwo) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "a@acme.com");
  AddPoint(c.mutable_emails(), "b@acme.com", "", true);
  AddPoint(c.mutable_emails(), "c@acme.com", "", true);
  EXPECT_THAT(*Map(c).person.emails,
              ElementsAre(Point("a@acme.com", "work", false),
                          Point("b@acme.com", "work", true),
                          Point("c@acme.com", "work", false)));
}

TEST(MapContactEmails, IsAnEmptyListWhenThereAreNone) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  const MappedContact mapped = Map(c);
  ASSERT_TRUE(mapped.person.emails.has_value());
  EXPECT_THAT(*mapped.person.emails, IsEmpty());
  ASSERT_TRUE(mapped.person.phones.has_value());
  EXPECT_THAT(*mapped.person.phones, IsEmpty());
}

TEST(MapContactEmails, SkipsBlankValuesOfUnvalidatedInput) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "  ", "", true);
  AddPoint(c.mutable_emails(), "a@acme.com");
  EXPECT_THAT(*Map(c).person.emails,
              ElementsAre(Point("a@acme.com", "work", true)));
}

TEST(MapContactPhones, FormattedAndCompactNumbersAreDuplicates) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "+1 (415) 555-0100", "mobile");
  AddPoint(c.mutable_phones(), "+14155550100", "work", true);
  EXPECT_THAT(*Map(c).person.phones,
              ElementsAre(Point("+1 (415) 555-0100", "mobile", true)));
}

TEST(MapContactPhones, LeadingPlusMakesADifferentNumber) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "+14155550100");
  AddPoint(c.mutable_phones(), "1 415 555 0100");
  EXPECT_THAT(*Map(c).person.phones,
              ElementsAre(Point("+14155550100", "work", true),
                          Point("1 415 555 0100", "work", false)));
}

TEST(MapContactPhones, ComparesFullwidthDigitsAsAscii) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "555 0100");
  AddPoint(c.mutable_phones(),
           "\xEF\xBC\x95\xEF\xBC\x95\xEF\xBC\x95\xEF\xBC\x90\xEF\xBC\x91"
           "\xEF\xBC\x90\xEF\xBC\x90",  // ５５５０１００
           "home", true);
  EXPECT_THAT(*Map(c).person.phones,
              ElementsAre(Point("555 0100", "work", true)));
}

TEST(MapContactPhones, ValuesWithoutDigitsAreNotAllDuplicates) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "ask reception");
  AddPoint(c.mutable_phones(), "see website");
  AddPoint(c.mutable_phones(), "Ask Reception");
  EXPECT_THAT(*Map(c).person.phones,
              ElementsAre(Point("ask reception", "work", true),
                          Point("see website", "work", false)));
}

TEST(MapContactPhones, KeepsOriginalFormatting) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "  +1 415 555 0100 ext. 7 ");
  EXPECT_THAT(*Map(c).person.phones,
              ElementsAre(Point("+1 415 555 0100 ext. 7", "work", true)));
}

TEST(MapContactLabels, MapsWaveLabelsToPipedriveLabels) {
  const struct {
    const char* wave;
    const char* pipedrive;
  } cases[] = {
      {"", "work"},
      {"work", "work"},
      {"Business", "work"},
      {"OFFICE", "work"},
      {"company", "work"},
      {"  ", "work"},
      {"home", "home"},
      {"Personal", "home"},
      {"private", "home"},
      {"mobile", "mobile"},
      {"Cell", "mobile"},
      {"cellphone", "mobile"},
      {"Mobile Phone", "mobile"},
      {" mobile   phone ", "mobile"},
      {"iPhone", "mobile"},
      {"fax", "other"},
      {"pager", "other"},
      {"main", "other"},
      {"workplace", "other"},
      {"Büro", "other"},
  };
  for (const auto& test_case : cases) {
    v1::Contact c = BaseContact();
    AddPoint(c.mutable_phones(), "123", test_case.wave);
    AddPoint(c.mutable_emails(), "a@b.c", test_case.wave);
    const MappedContact mapped = Map(c);
    EXPECT_EQ(mapped.person.phones->at(0).label, test_case.pipedrive)
        << "label: " << test_case.wave;
    EXPECT_EQ(mapped.person.emails->at(0).label, test_case.pipedrive)
        << "label: " << test_case.wave;
  }
}

// ---- Owner ---------------------------------------------------------------

TEST(MapContactOwner, MatchesByTrimmedLowercaseEmail) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_owner_email("  Owner@Wave.Test ");
  std::vector<std::string> asked;
  const OwnerLookup owners = [&asked](const std::string& email) {
    asked.push_back(email);
    return email == "owner@wave.test" ? std::optional<int64_t>(77)
                                      : std::nullopt;
  };

  const MappedContact mapped = MapContact(c, owners, MappingOptions{});

  EXPECT_THAT(asked, ElementsAre("owner@wave.test"));
  EXPECT_TRUE(mapped.owner_matched);
  EXPECT_EQ(mapped.owner_note, "");
  EXPECT_EQ(mapped.person.owner_id, 77);
  EXPECT_EQ(mapped.lead.owner_id, 77);
}

TEST(MapContactOwner, NotSetLeavesOwnerUnsetWithoutLookup) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  int calls = 0;
  const OwnerLookup owners = [&calls](const std::string&) {
    ++calls;
    return std::optional<int64_t>(1);
  };

  const MappedContact mapped = MapContact(c, owners, MappingOptions{});

  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(mapped.owner_matched);
  EXPECT_EQ(mapped.owner_note, "no team member assigned");
  EXPECT_FALSE(mapped.person.owner_id.has_value());
  EXPECT_FALSE(mapped.lead.owner_id.has_value());
}

TEST(MapContactOwner, BlankEmailCountsAsNotSet) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_owner_email(" \xC2\xA0 ");
  const MappedContact mapped = Map(c);
  EXPECT_FALSE(mapped.owner_matched);
  EXPECT_EQ(mapped.owner_note, kOwnerNotAssignedNote);
}

TEST(MapContactOwner, UnmatchedEmailExplainsWithoutTheEmail) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_owner_email("gone@wave.test");

  const MappedContact mapped = Map(c);

  EXPECT_FALSE(mapped.owner_matched);
  EXPECT_EQ(mapped.owner_note,
            "the assigned team member has no matching Pipedrive user; "
            "records are owned by the user who connected Pipedrive");
  EXPECT_THAT(mapped.owner_note, Not(HasSubstr("gone")));
  EXPECT_FALSE(mapped.person.owner_id.has_value());
  EXPECT_FALSE(mapped.lead.owner_id.has_value());
}

TEST(MapContactOwner, EmptyLookupMatchesNobody) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_owner_email("owner@wave.test");
  const MappedContact mapped = MapContact(c, OwnerLookup(), MappingOptions{});
  EXPECT_FALSE(mapped.owner_matched);
  EXPECT_EQ(mapped.owner_note, kOwnerNotMatchedNote);
}

// ---- Lead ----------------------------------------------------------------

TEST(MapContactLead, TitleJoinsNameJobTitleAndCompany) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_last_name("Doe");
  c.set_job_title(" VP   Sales ");
  c.set_company("Acme\xC2\xA0\xC2\xA0Inc ");
  EXPECT_EQ(Map(c).lead.title,
            std::string("Jane Doe") + kDash + "VP Sales" + kDash + "Acme Inc");
}

TEST(MapContactLead, TitleHasNoDanglingSeparatorForAnyMissingPart) {
  for (int mask = 0; mask < 8; ++mask) {
    const bool has_name = (mask & 1) != 0;
    const bool has_job = (mask & 2) != 0;
    const bool has_company = (mask & 4) != 0;
    v1::Contact c = BaseContact();
    c.set_first_name(has_name ? "Jane" : "  ");
    c.set_job_title(has_job ? "CTO" : " ");
    c.set_company(has_company ? "Acme" : "");
    std::vector<std::string> parts;
    if (has_name) parts.emplace_back("Jane");
    if (has_job) parts.emplace_back("CTO");
    if (has_company) parts.emplace_back("Acme");
    std::string expected;
    for (const std::string& part : parts) {
      if (!expected.empty()) expected += kDash;
      expected += part;
    }

    EXPECT_EQ(Map(c).lead.title, expected) << "mask " << mask;
  }
}

TEST(MapContactLead, TitleUsesTheNameFallback) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_emails(), "jane@acme.com");
  c.set_company("Acme");
  EXPECT_EQ(Map(c).lead.title, std::string("jane@acme.com") + kDash + "Acme");
}

TEST(MapContactLead, TitleOfPhoneOnlyContactWithJobTitle) {
  v1::Contact c = BaseContact();
  AddPoint(c.mutable_phones(), "+1 415 555 0100");
  c.set_job_title("Buyer");
  EXPECT_EQ(Map(c).lead.title,
            std::string("+1 415 555 0100") + kDash + "Buyer");
}

TEST(MapContactLead, TitleTruncatesTheLastPartThatFits) {
  v1::Contact c = BaseContact();
  c.set_first_name(std::string(240, 'n'));
  c.set_job_title(Repeat("\xC3\xA9", 20));
  c.set_company("Acme");
  const std::string title = *Map(c).lead.title;
  EXPECT_EQ(CodePointCount(title), 255U);
  EXPECT_EQ(title, std::string(240, 'n') + kDash + Repeat("\xC3\xA9", 12));
}

TEST(MapContactLead, TitleDropsPartsWithNoRoomAfterTheSeparator) {
  for (const int name_length : {252, 253, 255}) {
    v1::Contact c = BaseContact();
    c.set_first_name(std::string(name_length, 'n'));
    c.set_job_title("CTO");
    c.set_company("Acme");
    EXPECT_EQ(Map(c).lead.title, std::string(name_length, 'n'))
        << "name length " << name_length;
  }
}

TEST(MapContactLead, TitleKeepsOneCharacterWhenOnlyOneFits) {
  v1::Contact c = BaseContact();
  c.set_first_name(std::string(251, 'n'));
  c.set_job_title("CTO");
  EXPECT_EQ(Map(c).lead.title, std::string(251, 'n') + kDash + "C");
}

TEST(MapContactLead, TitleTruncationDropsTrailingSpaceOfAPart) {
  v1::Contact c = BaseContact();
  c.set_first_name(std::string(247, 'n'));
  c.set_job_title("Head of Sales");  // Cut after "Head ".
  EXPECT_EQ(Map(c).lead.title, std::string(247, 'n') + kDash + "Head");
}

TEST(MapContactLead, SetsMarkersAndLeavesPersonUnset) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  const MappedContact mapped = Map(c);
  EXPECT_EQ(mapped.lead.channel_id, "Wave Connect");
  EXPECT_EQ(mapped.lead.origin_id, "wave-connect:c-42");
  EXPECT_FALSE(mapped.lead.channel.has_value());
  EXPECT_FALSE(mapped.lead.person_id.has_value());
}

TEST(MapContactLead, SetsConfiguredChannelOption) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  MappingOptions options;
  options.channel_option_id = 71;
  EXPECT_EQ(MapContact(c, NoOwners(), options).lead.channel, 71);
}

TEST(LeadOriginId, PrefixesTheContactId) {
  EXPECT_EQ(LeadOriginId("abc-1"), "wave-connect:abc-1");
}

// ---- JSON ----------------------------------------------------------------

PersonWrite SamplePerson() {
  PersonWrite p;
  p.name = "Zoë Doe";
  p.emails = std::vector<ContactPoint>{Point("z@acme.com", "work", true),
                                       Point("z@home.org", "home", false)};
  p.phones = std::vector<ContactPoint>{Point("+1 415", "mobile", true)};
  p.owner_id = 12345;
  return p;
}

LeadWrite SampleLead() {
  LeadWrite l;
  l.title = std::string("Zoë Doe") + kDash + "CTO";
  l.person_id = 987;
  l.owner_id = 12345;
  l.origin_id = "wave-connect:c-1";
  l.channel_id = "Wave Connect";
  l.channel = 71;
  return l;
}

void ExpectSamePerson(const PersonWrite& a, const PersonWrite& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.emails, b.emails);
  EXPECT_EQ(a.phones, b.phones);
  EXPECT_EQ(a.owner_id, b.owner_id);
}

TEST(PersonJson, RoundTrips) {
  const PersonWrite p = SamplePerson();
  const std::optional<PersonWrite> parsed =
      PersonFromJson(json::parse(PersonToJson(p).dump()));
  ASSERT_TRUE(parsed.has_value());
  ExpectSamePerson(*parsed, p);
}

TEST(PersonJson, RoundTripsUnsetFieldsAndEmptyLists) {
  PersonWrite p;
  p.emails = std::vector<ContactPoint>{};
  const json j = PersonToJson(p);
  EXPECT_EQ(j.dump(), R"({"emails":[]})");
  const std::optional<PersonWrite> parsed = PersonFromJson(j);
  ASSERT_TRUE(parsed.has_value());
  ExpectSamePerson(*parsed, p);
}

TEST(PersonJson, IsCanonical) {
  EXPECT_EQ(
      PersonToJson(SamplePerson()).dump(),
      R"({"emails":[{"label":"work","primary":true,"value":"z@acme.com"},)"
      R"({"label":"home","primary":false,"value":"z@home.org"}],)"
      R"("name":"Zoë Doe","owner_id":12345,)"
      R"("phones":[{"label":"mobile","primary":true,"value":"+1 415"}]})");
}

TEST(PersonJson, TreatsNullAsUnsetAndIgnoresUnknownKeys) {
  const std::optional<PersonWrite> parsed =
      PersonFromJson(json{{"name", "A"}, {"owner_id", nullptr}, {"future", 1}});
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->name, "A");
  EXPECT_FALSE(parsed->owner_id.has_value());
  EXPECT_FALSE(parsed->emails.has_value());
}

TEST(PersonJson, RejectsMalformed) {
  const char* const cases[] = {
      R"([])",
      R"("name")",
      R"(null)",
      R"({"name":1})",
      R"({"emails":{}})",
      R"({"emails":["a@b.c"]})",
      R"({"emails":[{"value":"a@b.c","label":"work"}]})",
      R"({"emails":[{"value":"a@b.c","label":"work","primary":"yes"}]})",
      R"({"phones":[{"value":1,"label":"work","primary":true}]})",
      R"({"owner_id":"12"})",
      R"({"owner_id":1.5})",
      R"({"owner_id":true})",
      R"({"owner_id":9223372036854775808})",
  };
  for (const char* text : cases) {
    EXPECT_FALSE(PersonFromJson(json::parse(text)).has_value()) << text;
  }
}

TEST(PersonJson, AcceptsLargestAndNegativeOwnerIds) {
  EXPECT_EQ(PersonFromJson(json::parse(R"({"owner_id":9223372036854775807})"))
                ->owner_id,
            INT64_MAX);
  EXPECT_EQ(PersonFromJson(json::parse(R"({"owner_id":-3})"))->owner_id, -3);
}

TEST(LeadJson, RoundTripsWithoutOriginId) {
  const LeadWrite l = SampleLead();
  const json j = LeadToJson(l);
  EXPECT_FALSE(j.contains("origin_id"));

  const std::optional<LeadWrite> parsed = LeadFromJson(json::parse(j.dump()));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->title, l.title);
  EXPECT_EQ(parsed->person_id, l.person_id);
  EXPECT_EQ(parsed->owner_id, l.owner_id);
  EXPECT_EQ(parsed->channel_id, l.channel_id);
  EXPECT_EQ(parsed->channel, l.channel);
  EXPECT_FALSE(parsed->origin_id.has_value());
}

TEST(LeadJson, OmitsUnsetFields) {
  LeadWrite l;
  l.title = "T";
  l.origin_id = "wave-connect:x";
  EXPECT_EQ(LeadToJson(l).dump(), R"({"title":"T"})");
}

TEST(LeadJson, RejectsMalformed) {
  const char* const cases[] = {
      R"(42)",
      R"({"title":["x"]})",
      R"({"person_id":"987"})",
      R"({"owner_id":{}})",
      R"({"channel_id":7})",
      R"({"channel":"71"})",
  };
  for (const char* text : cases) {
    EXPECT_FALSE(LeadFromJson(json::parse(text)).has_value()) << text;
  }
}

TEST(MappedJson, MapContactOutputRoundTrips) {
  v1::Contact c = BaseContact();
  c.set_first_name("Zoë");
  AddPoint(c.mutable_emails(), "z@acme.com", "Personal", true);
  AddPoint(c.mutable_phones(), "+1 415 555 0100", "cell");
  c.set_job_title("CTO");
  const MappedContact mapped = Map(c);

  const std::optional<PersonWrite> person =
      PersonFromJson(json::parse(PersonToJson(mapped.person).dump()));
  const std::optional<LeadWrite> lead =
      LeadFromJson(json::parse(LeadToJson(mapped.lead).dump()));

  ASSERT_TRUE(person.has_value());
  ASSERT_TRUE(lead.has_value());
  EXPECT_FALSE(PersonChanges(*person, mapped.person).has_value());
  EXPECT_FALSE(LeadChanges(*lead, mapped.lead).has_value());
}

// ---- Changes -------------------------------------------------------------

TEST(PersonChanges, IdenticalIsNullopt) {
  EXPECT_FALSE(PersonChanges(SamplePerson(), SamplePerson()).has_value());
}

TEST(PersonChanges, PhoneChangeSendsOnlyPhones) {
  PersonWrite desired = SamplePerson();
  desired.phones->push_back(Point("+1 416", "work", false));

  const std::optional<PersonWrite> changes =
      PersonChanges(SamplePerson(), desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_FALSE(changes->name.has_value());
  EXPECT_FALSE(changes->emails.has_value());
  EXPECT_FALSE(changes->owner_id.has_value());
  EXPECT_EQ(changes->phones, desired.phones);
}

TEST(PersonChanges, PrimaryMoveIsAChange) {
  PersonWrite desired = SamplePerson();
  (*desired.emails)[0].primary = false;
  (*desired.emails)[1].primary = true;

  const std::optional<PersonWrite> changes =
      PersonChanges(SamplePerson(), desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(changes->emails, desired.emails);
  EXPECT_FALSE(changes->phones.has_value());
}

TEST(PersonChanges, LostOwnerIsNotSent) {
  PersonWrite desired = SamplePerson();
  desired.owner_id.reset();
  EXPECT_FALSE(PersonChanges(SamplePerson(), desired).has_value());
}

TEST(PersonChanges, NewOwnerIsSent) {
  PersonWrite written = SamplePerson();
  written.owner_id.reset();
  PersonWrite desired = SamplePerson();
  desired.owner_id = 5;

  const std::optional<PersonWrite> changes = PersonChanges(written, desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(changes->owner_id, 5);
  EXPECT_FALSE(changes->name.has_value());
}

TEST(PersonChanges, NameChangeSendsOnlyName) {
  PersonWrite desired = SamplePerson();
  desired.name = "Zoë Smith";

  const std::optional<PersonWrite> changes =
      PersonChanges(SamplePerson(), desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(changes->name, "Zoë Smith");
  EXPECT_FALSE(changes->emails.has_value());
  EXPECT_FALSE(changes->phones.has_value());
  EXPECT_FALSE(changes->owner_id.has_value());
}

TEST(PersonChanges, RemovingAllEmailsSendsAnEmptyList) {
  PersonWrite desired = SamplePerson();
  desired.emails->clear();

  const std::optional<PersonWrite> changes =
      PersonChanges(SamplePerson(), desired);

  ASSERT_TRUE(changes.has_value());
  ASSERT_TRUE(changes->emails.has_value());
  EXPECT_THAT(*changes->emails, IsEmpty());
}

TEST(LeadChanges, IdenticalIsNullopt) {
  EXPECT_FALSE(LeadChanges(SampleLead(), SampleLead()).has_value());
}

TEST(LeadChanges, JobTitleChangeSendsOnlyTitle) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_job_title("CTO");
  const LeadWrite written = Map(c).lead;
  c.set_job_title("CEO");
  const LeadWrite desired = Map(c).lead;

  const std::optional<LeadWrite> changes = LeadChanges(written, desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(changes->title, std::string("Jane") + kDash + "CEO");
  EXPECT_FALSE(changes->person_id.has_value());
  EXPECT_FALSE(changes->owner_id.has_value());
  EXPECT_FALSE(changes->origin_id.has_value());
  EXPECT_FALSE(changes->channel_id.has_value());
  EXPECT_FALSE(changes->channel.has_value());
}

TEST(LeadChanges, NeverSendsOriginId) {
  LeadWrite desired = SampleLead();
  desired.origin_id = "wave-connect:other";
  EXPECT_FALSE(LeadChanges(SampleLead(), desired).has_value());
}

TEST(LeadChanges, LostOwnerAndChannelAreNotSent) {
  LeadWrite desired = SampleLead();
  desired.owner_id.reset();
  desired.channel.reset();
  EXPECT_FALSE(LeadChanges(SampleLead(), desired).has_value());
}

TEST(LeadChanges, OwnerAndChannelChangesAreSent) {
  LeadWrite desired = SampleLead();
  desired.owner_id = 1;
  desired.channel = 72;

  const std::optional<LeadWrite> changes = LeadChanges(SampleLead(), desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(changes->owner_id, 1);
  EXPECT_EQ(changes->channel, 72);
  EXPECT_FALSE(changes->title.has_value());
}

TEST(LeadChanges, ChangesAgainstStoredJson) {
  const std::optional<LeadWrite> written =
      LeadFromJson(LeadToJson(SampleLead()));
  ASSERT_TRUE(written.has_value());
  LeadWrite desired = SampleLead();
  desired.title = "New title";

  const std::optional<LeadWrite> changes = LeadChanges(*written, desired);

  ASSERT_TRUE(changes.has_value());
  EXPECT_EQ(changes->title, "New title");
  EXPECT_FALSE(changes->origin_id.has_value());
  EXPECT_FALSE(changes->person_id.has_value());
}

// ---- Whole mapping -------------------------------------------------------

TEST(MapContact, MapsAValidContactCompletely) {
  v1::Contact c = BaseContact();
  c.set_first_name("Jane");
  c.set_last_name("Doe");
  AddPoint(c.mutable_emails(), "jane@acme.com", "work", true);
  AddPoint(c.mutable_emails(), "jane.doe@gmail.com", "personal");
  AddPoint(c.mutable_phones(), "+1 415 555 0100", "mobile", true);
  AddPoint(c.mutable_phones(), "+1 415 555 0199", "office");
  c.set_job_title("VP Sales");
  c.set_company("Acme Inc");
  c.set_owner_email("owner@wave.test");
  ASSERT_OK(ValidateContact(c));
  MappingOptions options;
  options.channel_option_id = 71;

  const MappedContact mapped = MapContact(
      c, [](const std::string&) { return std::optional<int64_t>(12345); },
      options);

  EXPECT_EQ(PersonToJson(mapped.person), json::parse(R"({
              "name": "Jane Doe", "owner_id": 12345,
              "emails": [
                {"value": "jane@acme.com", "primary": true, "label": "work"},
                {"value": "jane.doe@gmail.com", "primary": false,
                 "label": "home"}],
              "phones": [
                {"value": "+1 415 555 0100", "primary": true,
                 "label": "mobile"},
                {"value": "+1 415 555 0199", "primary": false,
                 "label": "work"}]})"));
  EXPECT_EQ(mapped.lead.title,
            std::string("Jane Doe") + kDash + "VP Sales" + kDash + "Acme Inc");
  EXPECT_EQ(mapped.lead.owner_id, 12345);
  EXPECT_EQ(mapped.lead.channel, 71);
  EXPECT_EQ(mapped.lead.channel_id, kWaveChannelId);
  EXPECT_EQ(mapped.lead.origin_id, "wave-connect:c-42");
  EXPECT_TRUE(mapped.owner_matched);
}

}  // namespace
}  // namespace wave::pipedrive
