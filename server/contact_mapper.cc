#include "server/contact_mapper.h"

#include "server/contact_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::nlohmann::json;

// Pipedrive documents no limit for person names or lead titles; 255 is its
// usual text column size, so longer values risk a rejected write.
constexpr size_t kMaxTextChars = 255;
// " – ": the en dash reads better than a hyphen between title parts.
constexpr char32_t kTitleSeparator[] = U" \u2013 ";
constexpr size_t kTitleSeparatorChars = 3;

std::u32string Decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp;
    DecodeUtf8(s, &pos, &cp);
    out.push_back(cp);
  }
  return out;
}

std::string Encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char32_t cp : s) AppendUtf8(cp, &out);
  return out;
}

std::u32string TrimWhitespace(std::u32string s) {
  size_t end = s.size();
  while (end > 0 && IsUnicodeWhitespace(s[end - 1])) --end;
  size_t begin = 0;
  while (begin < end && IsUnicodeWhitespace(s[begin])) ++begin;
  return s.substr(begin, end - begin);
}

// Trims `s` and collapses every internal run of whitespace to one space.
std::u32string CollapseWhitespace(const std::string& s) {
  std::u32string out;
  bool pending_space = false;
  for (const char32_t cp : Decode(s)) {
    if (IsUnicodeWhitespace(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(U' ');
    pending_space = false;
    out.push_back(cp);
  }
  return out;
}

// Cuts `s` to `max_chars` code points; a cut may expose a space at the end.
std::u32string Truncate(const std::u32string& s, size_t max_chars) {
  if (s.size() <= max_chars) return s;
  return TrimWhitespace(s.substr(0, max_chars));
}

std::string TrimmedValue(const std::string& s) {
  return Encode(TrimWhitespace(Decode(s)));
}

// Maps Unicode decimal digits that people paste from phones' keypads and
// localized UIs to ASCII; returns 0 for anything else.
char AsciiDigit(char32_t cp) {
  static constexpr char32_t kZeros[] = {
      U'0',    // ASCII
      0x0660,  // Arabic-Indic
      0x06F0,  // Extended Arabic-Indic (Persian, Urdu)
      0x0966,  // Devanagari
      0xFF10,  // Fullwidth
  };
  for (const char32_t zero : kZeros) {
    if (cp >= zero && cp <= zero + 9) return static_cast<char>('0' + cp - zero);
  }
  return 0;
}

std::string EmailKey(const std::string& value) {
  return absl::AsciiStrToLower(value);
}

// "+1 (415) 555-0100" and "+14155550100" are one number: compare the digits
// and whether the number starts with '+'.
std::string PhoneKey(const std::string& value) {
  const std::u32string text = Decode(value);
  std::string key;
  if (!text.empty() && (text[0] == U'+' || text[0] == 0xFF0B)) key = "+";
  bool has_digit = false;
  for (const char32_t cp : text) {
    if (const char digit = AsciiDigit(cp); digit != 0) {
      key.push_back(digit);
      has_digit = true;
    }
  }
  // Keeps values without digits from all colliding on "" or "+".
  if (!has_digit) return absl::StrCat("text:", absl::AsciiStrToLower(value));
  return key;
}

std::string MapLabel(const std::string& label) {
  const std::string key =
      absl::AsciiStrToLower(Encode(CollapseWhitespace(label)));
  if (key.empty() || key == "work" || key == "business" || key == "office" ||
      key == "company") {
    return "work";
  }
  if (key == "home" || key == "personal" || key == "private") return "home";
  if (key == "mobile" || key == "cell" || key == "cellphone" ||
      key == "mobile phone" || key == "iphone") {
    return "mobile";
  }
  return "other";
}

// Trims, drops blanks and duplicates (first occurrence kept, with the
// primary flag of any duplicate it absorbs), maps labels and marks exactly
// one entry primary.
std::vector<ContactPoint> MapContactPoints(
    const google::protobuf::RepeatedPtrField<v1::ContactPoint>& points,
    std::string (*key_of)(const std::string&)) {
  std::vector<ContactPoint> out;
  std::unordered_map<std::string, size_t> index_by_key;
  std::optional<size_t> primary;
  for (const v1::ContactPoint& point : points) {
    std::string value = TrimmedValue(point.value());
    if (value.empty()) continue;

    const auto [it, inserted] = index_by_key.emplace(key_of(value), out.size());
    if (inserted) {
      out.push_back(ContactPoint{std::move(value), MapLabel(point.label()),
                                 /*primary=*/false});
    }
    if (point.primary() && !primary.has_value()) primary = it->second;
  }

  if (!out.empty()) out[primary.value_or(0)].primary = true;
  return out;
}

const ContactPoint* PrimaryOf(const std::vector<ContactPoint>& points) {
  for (const ContactPoint& point : points) {
    if (point.primary) return &point;
  }
  return nullptr;
}

std::u32string PersonName(const v1::Contact& c,
                          const std::vector<ContactPoint>& emails,
                          const std::vector<ContactPoint>& phones) {
  const std::u32string first = CollapseWhitespace(c.first_name());
  const std::u32string last = CollapseWhitespace(c.last_name());
  std::u32string name = first;
  if (!first.empty() && !last.empty()) name.push_back(U' ');
  name += last;

  if (name.empty()) {
    const ContactPoint* fallback = PrimaryOf(emails);
    if (fallback == nullptr) fallback = PrimaryOf(phones);
    if (fallback != nullptr) name = CollapseWhitespace(fallback->value);
  }
  return Truncate(name, kMaxTextChars);
}

// Joins the non-empty parts with " – " within the length limit. A part that
// would not fit with at least one character after its separator is dropped
// with the rest, so the title never ends in a separator.
std::u32string LeadTitle(const std::vector<std::u32string>& parts) {
  std::u32string title;
  for (const std::u32string& part : parts) {
    if (part.empty()) continue;
    if (title.empty()) {
      title = Truncate(part, kMaxTextChars);
      continue;
    }
    if (title.size() + kTitleSeparatorChars >= kMaxTextChars) break;
    title += kTitleSeparator;
    title += Truncate(part, kMaxTextChars - title.size());
  }
  return title;
}

std::optional<int64_t> LookUpOwner(const OwnerLookup& owners,
                                   const std::string& email) {
  if (!owners) return std::nullopt;
  return owners(absl::AsciiStrToLower(email));
}

json PointsToJson(const std::vector<ContactPoint>& points) {
  json out = json::array();
  for (const ContactPoint& point : points) {
    out.push_back(json{{"value", point.value},
                       {"label", point.label},
                       {"primary", point.primary}});
  }
  return out;
}

// The readers below return false when a present key has the wrong type and
// leave `*out` unset when the key is absent or null.
bool ReadString(const json& j, const char* key,
                std::optional<std::string>* out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool ReadInt64(const json& j, const char* key, std::optional<int64_t>* out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number_integer()) return false;
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() >
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return false;
  }
  *out = it->get<int64_t>();
  return true;
}

bool ReadPoints(const json& j, const char* key,
                std::optional<std::vector<ContactPoint>>* out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_array()) return false;

  std::vector<ContactPoint> points;
  for (const json& item : *it) {
    if (!item.is_object()) return false;
    const auto value = item.find("value");
    const auto label = item.find("label");
    const auto primary = item.find("primary");
    if (value == item.end() || !value->is_string() || label == item.end() ||
        !label->is_string() || primary == item.end() ||
        !primary->is_boolean()) {
      return false;
    }
    points.push_back(ContactPoint{value->get<std::string>(),
                                  label->get<std::string>(),
                                  primary->get<bool>()});
  }
  *out = std::move(points);
  return true;
}

// Copies `desired` into `*out` when it is set and differs from `written`.
template <typename T>
bool TakeIfChanged(const std::optional<T>& written,
                   const std::optional<T>& desired, std::optional<T>* out) {
  if (!desired.has_value() || desired == written) return false;
  *out = desired;
  return true;
}

}  // namespace

MappedContact MapContact(const v1::Contact& c, const OwnerLookup& owners,
                         const MappingOptions& options) {
  MappedContact mapped;
  std::vector<ContactPoint> emails = MapContactPoints(c.emails(), &EmailKey);
  std::vector<ContactPoint> phones = MapContactPoints(c.phones(), &PhoneKey);
  const std::u32string name = PersonName(c, emails, phones);

  const std::string owner_email = TrimmedValue(c.owner_email());
  std::optional<int64_t> owner_id;
  if (owner_email.empty()) {
    mapped.owner_note = kOwnerNotAssignedNote;
  } else {
    owner_id = LookUpOwner(owners, owner_email);
    mapped.owner_matched = owner_id.has_value();
    if (!mapped.owner_matched) mapped.owner_note = kOwnerNotMatchedNote;
  }

  mapped.person.name = Encode(name);
  mapped.person.emails = std::move(emails);
  mapped.person.phones = std::move(phones);
  mapped.person.owner_id = owner_id;

  mapped.lead.title = Encode(LeadTitle({name, CollapseWhitespace(c.job_title()),
                                        CollapseWhitespace(c.company())}));
  mapped.lead.owner_id = owner_id;
  mapped.lead.channel_id = kWaveChannelId;
  mapped.lead.channel = options.channel_option_id;
  mapped.lead.origin_id = LeadOriginId(c.contact_id());
  return mapped;
}

std::string LeadOriginId(const std::string& contact_id) {
  return absl::StrCat("wave-connect:", contact_id);
}

json PersonToJson(const PersonWrite& p) {
  json j = json::object();
  if (p.name.has_value()) j["name"] = *p.name;
  if (p.emails.has_value()) j["emails"] = PointsToJson(*p.emails);
  if (p.phones.has_value()) j["phones"] = PointsToJson(*p.phones);
  if (p.owner_id.has_value()) j["owner_id"] = *p.owner_id;
  return j;
}

json LeadToJson(const LeadWrite& l) {
  json j = json::object();
  if (l.title.has_value()) j["title"] = *l.title;
  if (l.person_id.has_value()) j["person_id"] = *l.person_id;
  if (l.owner_id.has_value()) j["owner_id"] = *l.owner_id;
  if (l.channel_id.has_value()) j["channel_id"] = *l.channel_id;
  if (l.channel.has_value()) j["channel"] = *l.channel;
  return j;
}

std::optional<PersonWrite> PersonFromJson(const json& j) {
  if (!j.is_object()) return std::nullopt;

  PersonWrite p;
  if (!ReadString(j, "name", &p.name) || !ReadPoints(j, "emails", &p.emails) ||
      !ReadPoints(j, "phones", &p.phones) ||
      !ReadInt64(j, "owner_id", &p.owner_id)) {
    return std::nullopt;
  }
  return p;
}

std::optional<LeadWrite> LeadFromJson(const json& j) {
  if (!j.is_object()) return std::nullopt;

  LeadWrite l;
  if (!ReadString(j, "title", &l.title) ||
      !ReadInt64(j, "person_id", &l.person_id) ||
      !ReadInt64(j, "owner_id", &l.owner_id) ||
      !ReadString(j, "channel_id", &l.channel_id) ||
      !ReadInt64(j, "channel", &l.channel)) {
    return std::nullopt;
  }
  return l;
}

std::optional<PersonWrite> PersonChanges(const PersonWrite& written,
                                         const PersonWrite& desired) {
  PersonWrite changes;
  bool changed = TakeIfChanged(written.name, desired.name, &changes.name);
  changed |= TakeIfChanged(written.emails, desired.emails, &changes.emails);
  changed |= TakeIfChanged(written.phones, desired.phones, &changes.phones);
  changed |=
      TakeIfChanged(written.owner_id, desired.owner_id, &changes.owner_id);
  if (!changed) return std::nullopt;
  return changes;
}

std::optional<LeadWrite> LeadChanges(const LeadWrite& written,
                                     const LeadWrite& desired) {
  LeadWrite changes;
  bool changed = TakeIfChanged(written.title, desired.title, &changes.title);
  changed |=
      TakeIfChanged(written.person_id, desired.person_id, &changes.person_id);
  changed |=
      TakeIfChanged(written.owner_id, desired.owner_id, &changes.owner_id);
  changed |= TakeIfChanged(written.channel_id, desired.channel_id,
                           &changes.channel_id);
  changed |= TakeIfChanged(written.channel, desired.channel, &changes.channel);
  if (!changed) return std::nullopt;
  return changes;
}

}  // namespace wave::pipedrive
