#include "client/sandbox/payloads.h"

#include "client/sandbox/sandbox_http.h"

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive::sandbox::internal {
namespace {

using nlohmann::json;

// v2 person keys, from the addPerson and updatePerson request schemas.
// first_name and last_name are not in the schemas, but Pipedrive's v2
// migration guide accepts them in place of name.
const std::set<std::string>& PersonKeys(WriteKind kind) {
  static const auto* const kUpdate = new std::set<std::string>{
      "name",           "first_name", "last_name",
      "owner_id",       "org_id",     "emails",
      "phones",         "visible_to", "label_ids",
      "postal_address", "notes",      "im",
      "birthday",       "job_title",  "marketing_status",
      "custom_fields"};
  static const auto* const kCreate = [] {
    auto* keys = new std::set<std::string>(*kUpdate);
    keys->insert("add_time");
    return keys;
  }();
  return kind == WriteKind::kCreate ? *kCreate : *kUpdate;
}

// v1 lead keys, from the addLead and updateLead request schemas: origin_id
// only on create, is_archived only on update.
const std::set<std::string>& LeadKeys(WriteKind kind) {
  static const auto* const kCommon = new std::set<std::string>{
      "title",           "owner_id", "label_ids",           "person_id",
      "organization_id", "value",    "expected_close_date", "visible_to",
      "was_seen",        "channel",  "channel_id"};
  static const auto* const kCreate = [] {
    auto* keys = new std::set<std::string>(*kCommon);
    keys->insert("origin_id");
    return keys;
  }();
  static const auto* const kUpdate = [] {
    auto* keys = new std::set<std::string>(*kCommon);
    keys->insert("is_archived");
    return keys;
  }();
  return kind == WriteKind::kCreate ? *kCreate : *kUpdate;
}

const std::set<std::string>& PostalAddressKeys() {
  static const auto* const kKeys =
      new std::set<std::string>{"value",
                                "country",
                                "admin_area_level_1",
                                "admin_area_level_2",
                                "locality",
                                "sublocality",
                                "route",
                                "street_number",
                                "subpremise",
                                "postal_code"};
  return *kKeys;
}

absl::Status Invalid(const std::string& field, const std::string& reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("Validation failed: ", field, ": ", reason));
}

absl::Status NotAllowed(const std::string& field) {
  return Invalid(field, absl::StrCat("Parameter '", field,
                                     "' is not allowed for this request"));
}

std::optional<int64_t> AsInt64(const json& value) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned() &&
      value.get<uint64_t>() >
          static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return value.get<int64_t>();
}

absl::StatusOr<int64_t> RequireInt64(const json& value,
                                     const std::string& field) {
  std::optional<int64_t> number = AsInt64(value);
  if (!number.has_value()) return Invalid(field, "must be an integer");
  return *number;
}

absl::StatusOr<std::string> RequireString(const json& value,
                                          const std::string& field) {
  if (!value.is_string()) return Invalid(field, "must be a string");
  return value.get<std::string>();
}

absl::StatusOr<std::optional<std::string>> NullableString(
    const json& value, const std::string& field) {
  if (value.is_null()) return std::optional<std::string>();
  if (!value.is_string()) return Invalid(field, "must be a string or null");
  return std::optional<std::string>(value.get<std::string>());
}

absl::StatusOr<std::vector<ContactValue>> ParseContactList(
    const json& value, const std::string& field) {
  if (!value.is_array()) return Invalid(field, "must be an array of objects");
  std::vector<ContactValue> items;
  int primaries = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const json& element = value[i];
    const std::string where = absl::StrCat(field, "[", i, "]");
    if (!element.is_object()) {
      return Invalid(where, "must be an object with a string 'value'");
    }
    ContactValue item;
    bool has_label = false;
    for (const auto& [key, member] : element.items()) {
      if (key == "value") {
        if (!member.is_string()) {
          return Invalid(where + ".value", "must be a string");
        }
        item.value = member.get<std::string>();
      } else if (key == "label") {
        if (!member.is_string()) {
          return Invalid(where + ".label", "must be a string");
        }
        item.label = member.get<std::string>();
        has_label = true;
      } else if (key == "primary") {
        if (!member.is_boolean()) {
          return Invalid(where + ".primary", "must be a boolean");
        }
        item.primary = member.get<bool>();
      } else {
        return NotAllowed(absl::StrCat(where, ".", key));
      }
    }
    if (!element.contains("value")) {
      return Invalid(where + ".value", "is required");
    }
    if (absl::StripAsciiWhitespace(item.value).empty()) {
      return Invalid(where + ".value", "must not be empty");
    }
    // Pipedrive's documented default label.
    if (!has_label) item.label = "work";
    if (item.primary) ++primaries;
    items.push_back(std::move(item));
  }
  if (primaries > 1) {
    return Invalid(field, "only one item can be marked as primary");
  }
  if (primaries == 0 && !items.empty()) items.front().primary = true;
  return items;
}

absl::Status ApplyPersonField(const std::string& key, const json& value,
                              const CompanyContext& company,
                              PersonRecord* person) {
  if (key == "name" || key == "first_name" || key == "last_name") {
    absl::StatusOr<std::string> text = RequireString(value, key);
    if (!text.ok()) return text.status();
    if (key == "name" && absl::StripAsciiWhitespace(*text).empty()) {
      return Invalid(key, "must not be empty");
    }
    (key == "name"         ? person->name
     : key == "first_name" ? person->first_name
                           : person->last_name) = *std::move(text);
  } else if (key == "owner_id") {
    absl::StatusOr<int64_t> id = RequireInt64(value, key);
    if (!id.ok()) return id.status();
    if (!company.is_active_user(*id)) {
      return Invalid(
          key, absl::StrCat("User with id ", *id, " not found or not active"));
    }
    person->owner_id = *id;
  } else if (key == "org_id") {
    if (value.is_null()) {
      person->org_id.reset();
      return absl::OkStatus();
    }
    absl::StatusOr<int64_t> id = RequireInt64(value, key);
    if (!id.ok()) return id.status();
    // The sandbox holds no organizations.
    return Invalid(key,
                   absl::StrCat("Organization with id ", *id, " not found"));
  } else if (key == "add_time") {
    absl::StatusOr<std::string> text = RequireString(value, key);
    if (!text.ok()) return text.status();
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, *text, &time, &error)) {
      return Invalid(key, "must be an RFC 3339 date-time");
    }
    person->add_time = time;
  } else if (key == "emails" || key == "phones" || key == "im") {
    absl::StatusOr<std::vector<ContactValue>> list =
        ParseContactList(value, key);
    if (!list.ok()) return list.status();
    (key == "emails"   ? person->emails
     : key == "phones" ? person->phones
                       : person->im) = *std::move(list);
  } else if (key == "visible_to") {
    std::optional<int64_t> level = AsInt64(value);
    if (!level.has_value() ||
        (*level != 1 && *level != 3 && *level != 5 && *level != 7)) {
      return Invalid(key, "must be one of the integers 1, 3, 5, 7");
    }
    person->visible_to = static_cast<int>(*level);
  } else if (key == "label_ids") {
    if (!value.is_array()) return Invalid(key, "must be an array of integers");
    std::vector<int64_t> ids;
    for (const json& element : value) {
      std::optional<int64_t> id = AsInt64(element);
      if (!id.has_value()) return Invalid(key, "must be an array of integers");
      ids.push_back(*id);
    }
    person->label_ids = std::move(ids);
  } else if (key == "postal_address") {
    if (value.is_null()) {
      person->postal_address = nullptr;
      return absl::OkStatus();
    }
    if (!value.is_object()) return Invalid(key, "must be an object");
    for (const auto& [member, text] : value.items()) {
      if (PostalAddressKeys().count(member) == 0) {
        return NotAllowed(absl::StrCat(key, ".", member));
      }
      if (!text.is_string() && !text.is_null()) {
        return Invalid(absl::StrCat(key, ".", member), "must be a string");
      }
    }
    person->postal_address = value;
  } else if (key == "notes" || key == "job_title") {
    absl::StatusOr<std::optional<std::string>> text =
        NullableString(value, key);
    if (!text.ok()) return text.status();
    if (key == "notes" && text->has_value() && (*text)->size() > 10000) {
      return Invalid(key, "must be at most 10000 characters");
    }
    (key == "notes" ? person->notes : person->job_title) = *std::move(text);
  } else if (key == "birthday") {
    absl::StatusOr<std::optional<std::string>> text =
        NullableString(value, key);
    if (!text.ok()) return text.status();
    if (text->has_value() && !IsIsoDate(**text)) {
      return Invalid(key, "must be a date in the format YYYY-MM-DD");
    }
    person->birthday = *std::move(text);
  } else if (key == "marketing_status") {
    static const auto* const kStatuses = new std::set<std::string>{
        "no_consent", "unsubscribed", "subscribed", "archived"};
    if (!value.is_string() || kStatuses->count(value.get<std::string>()) == 0) {
      return Invalid(key,
                     "must be one of no_consent, unsubscribed, "
                     "subscribed, archived");
    }
    person->marketing_status = value.get<std::string>();
  } else if (key == "custom_fields") {
    if (!value.is_object()) return Invalid(key, "must be an object");
    for (const auto& [field, field_value] : value.items()) {
      if (field_value.is_null()) {
        person->custom_fields.erase(field);
      } else {
        person->custom_fields[field] = field_value;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyLeadField(const std::string& key, const json& value,
                            const CompanyContext& company, LeadRecord* lead) {
  if (key == "title") {
    // The PATCH schema marks title nullable; null leaves it unchanged.
    if (value.is_null()) return absl::OkStatus();
    absl::StatusOr<std::string> text = RequireString(value, key);
    if (!text.ok()) return text.status();
    if (absl::StripAsciiWhitespace(*text).empty()) {
      return Invalid(key, "must not be empty");
    }
    lead->title = *std::move(text);
  } else if (key == "owner_id") {
    absl::StatusOr<int64_t> id = RequireInt64(value, key);
    if (!id.ok()) return id.status();
    if (!company.is_active_user(*id)) {
      return Invalid(
          key, absl::StrCat("User with id ", *id, " not found or not active"));
    }
    lead->owner_id = *id;
  } else if (key == "label_ids") {
    if (!value.is_array()) return Invalid(key, "must be an array of UUIDs");
    std::vector<std::string> ids;
    for (const json& element : value) {
      if (!element.is_string() || !IsUuid(element.get<std::string>())) {
        return Invalid(key, "must be an array of UUIDs");
      }
      ids.push_back(element.get<std::string>());
    }
    lead->label_ids = std::move(ids);
  } else if (key == "person_id") {
    if (value.is_null()) {
      lead->person_id.reset();
      return absl::OkStatus();
    }
    absl::StatusOr<int64_t> id = RequireInt64(value, key);
    if (!id.ok()) return id.status();
    if (!company.is_live_person(*id)) {
      return Invalid(key, absl::StrCat("Person with id ", *id, " not found"));
    }
    lead->person_id = *id;
  } else if (key == "organization_id") {
    if (value.is_null()) {
      lead->organization_id.reset();
      return absl::OkStatus();
    }
    absl::StatusOr<int64_t> id = RequireInt64(value, key);
    if (!id.ok()) return id.status();
    // The sandbox holds no organizations.
    return Invalid(key,
                   absl::StrCat("Organization with id ", *id, " not found"));
  } else if (key == "value") {
    if (!value.is_null()) {
      if (!value.is_object() || !value.contains("amount") ||
          !value.contains("currency") || !value["amount"].is_number() ||
          !value["currency"].is_string() || value.size() != 2) {
        return Invalid(key,
                       "must be null or an object with a number "
                       "'amount' and a string 'currency'");
      }
    }
    lead->value = value;
  } else if (key == "expected_close_date") {
    absl::StatusOr<std::optional<std::string>> text =
        NullableString(value, key);
    if (!text.ok()) return text.status();
    if (text->has_value() && !IsIsoDate(**text)) {
      return Invalid(key, "must be a date in the format YYYY-MM-DD");
    }
    lead->expected_close_date = *std::move(text);
  } else if (key == "visible_to") {
    // A string on v1 leads, unlike the integer on v2 persons.
    if (!value.is_string()) {
      return Invalid(key,
                     "must be one of the strings \"1\", \"3\", \"5\", "
                     "\"7\"");
    }
    const std::string level = value.get<std::string>();
    if (level != "1" && level != "3" && level != "5" && level != "7") {
      return Invalid(key,
                     "must be one of the strings \"1\", \"3\", \"5\", "
                     "\"7\"");
    }
    lead->visible_to = level;
  } else if (key == "was_seen" || key == "is_archived") {
    if (!value.is_boolean()) return Invalid(key, "must be a boolean");
    (key == "was_seen" ? lead->was_seen : lead->is_archived) =
        value.get<bool>();
  } else if (key == "origin_id" || key == "channel_id") {
    absl::StatusOr<std::optional<std::string>> text =
        NullableString(value, key);
    if (!text.ok()) return text.status();
    (key == "origin_id" ? lead->origin_id : lead->channel_id) =
        *std::move(text);
  } else if (key == "channel") {
    if (value.is_null()) {
      lead->channel.reset();
      return absl::OkStatus();
    }
    absl::StatusOr<int64_t> id = RequireInt64(value, key);
    if (!id.ok()) return id.status();
    if (!company.is_channel_option(*id)) {
      return Invalid(key,
                     absl::StrCat("Provided value ", *id,
                                  " is not one of the company's channels"));
    }
    lead->channel = *id;
  }
  return absl::OkStatus();
}

json ContactListJson(const std::vector<ContactValue>& items) {
  json list = json::array();
  for (const ContactValue& item : items) {
    list.push_back({{"value", item.value},
                    {"primary", item.primary},
                    {"label", item.label}});
  }
  return list;
}

json ContactStrings(const std::vector<ContactValue>& items) {
  json list = json::array();
  for (const ContactValue& item : items) list.push_back(item.value);
  return list;
}

template <typename T>
json OptionalJson(const std::optional<T>& value) {
  return value.has_value() ? json(*value) : json(nullptr);
}

}  // namespace

absl::Status ApplyPersonBody(const json& body, WriteKind kind,
                             const CompanyContext& company, absl::Time now,
                             PersonRecord* person) {
  if (!body.is_object()) return Invalid("body", "must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (PersonKeys(kind).count(key) == 0) return NotAllowed(key);
  }
  if (kind == WriteKind::kCreate && !body.contains("name") &&
      !(body.contains("first_name") && body.contains("last_name"))) {
    return Invalid("name",
                   "Parameter 'name' is required (or both "
                   "'first_name' and 'last_name')");
  }

  PersonRecord updated = *person;
  for (const auto& [key, value] : body.items()) {
    absl::Status status = ApplyPersonField(key, value, company, &updated);
    if (!status.ok()) return status;
  }

  // Pipedrive keeps name and first/last name consistent: a name is split,
  // first and last names are joined.
  const bool has_first_or_last =
      body.contains("first_name") || body.contains("last_name");
  if (body.contains("name") && !has_first_or_last) {
    const std::string name(absl::StripAsciiWhitespace(updated.name));
    const size_t space = name.find(' ');
    updated.first_name = name.substr(0, space);
    updated.last_name =
        space == std::string::npos
            ? ""
            : std::string(absl::StripAsciiWhitespace(name.substr(space + 1)));
  } else if (!body.contains("name") && has_first_or_last) {
    updated.name = std::string(absl::StripAsciiWhitespace(
        absl::StrCat(updated.first_name, " ", updated.last_name)));
    if (updated.name.empty()) return Invalid("name", "must not be empty");
  }
  if (kind == WriteKind::kCreate && !body.contains("add_time")) {
    updated.add_time = now;
  }
  updated.update_time = now;
  *person = std::move(updated);
  return absl::OkStatus();
}

absl::Status ApplyLeadBody(const json& body, WriteKind kind,
                           const CompanyContext& company, absl::Time now,
                           LeadRecord* lead) {
  if (!body.is_object()) return Invalid("body", "must be a JSON object");
  for (const auto& [key, value] : body.items()) {
    if (LeadKeys(kind).count(key) == 0) return NotAllowed(key);
  }
  if (kind == WriteKind::kCreate &&
      (!body.contains("title") || body["title"].is_null())) {
    return Invalid("title", "Parameter 'title' is required");
  }

  LeadRecord updated = *lead;
  for (const auto& [key, value] : body.items()) {
    absl::Status status = ApplyLeadField(key, value, company, &updated);
    if (!status.ok()) return status;
  }

  if (!updated.person_id.has_value() && !updated.organization_id.has_value()) {
    return Invalid("person_id",
                   "A lead always has to be linked to a person "
                   "or an organization or both");
  }
  if (kind == WriteKind::kCreate) updated.add_time = now;
  updated.update_time = now;
  *lead = std::move(updated);
  return absl::OkStatus();
}

json PersonJson(const PersonRecord& person) {
  json out = {{"id", person.id},
              {"name", person.name},
              {"first_name", person.first_name},
              {"last_name", person.last_name},
              {"owner_id", person.owner_id},
              {"org_id", OptionalJson(person.org_id)},
              {"add_time", FormatV2Time(person.add_time)},
              {"update_time", FormatV2Time(person.update_time)},
              {"emails", ContactListJson(person.emails)},
              {"phones", ContactListJson(person.phones)},
              {"is_deleted", person.is_deleted},
              {"visible_to", person.visible_to},
              {"label_ids", person.label_ids},
              {"picture_id", nullptr},
              {"custom_fields", person.custom_fields}};
  // Present only when set, as with companies without contact sync.
  if (!person.im.empty()) out["im"] = ContactListJson(person.im);
  if (person.notes.has_value()) out["notes"] = *person.notes;
  if (person.birthday.has_value()) out["birthday"] = *person.birthday;
  if (person.job_title.has_value()) out["job_title"] = *person.job_title;
  if (person.marketing_status.has_value()) {
    out["marketing_status"] = *person.marketing_status;
  }
  if (!person.postal_address.is_null()) {
    out["postal_address"] = person.postal_address;
  }
  return out;
}

json PersonSearchItemJson(const PersonRecord& person) {
  json notes = json::array();
  if (person.notes.has_value()) notes.push_back(*person.notes);
  json custom_fields = json::array();
  for (const auto& [key, value] : person.custom_fields.items()) {
    if (value.is_string()) custom_fields.push_back(value);
  }
  return {{"id", person.id},
          {"type", "person"},
          {"name", person.name},
          {"phones", ContactStrings(person.phones)},
          {"emails", ContactStrings(person.emails)},
          {"visible_to", person.visible_to},
          {"owner", {{"id", person.owner_id}}},
          {"organization", nullptr},
          {"custom_fields", std::move(custom_fields)},
          {"notes", std::move(notes)}};
}

json LeadJson(const LeadRecord& lead) {
  return {{"id", lead.id},
          {"title", lead.title},
          {"owner_id", lead.owner_id},
          {"creator_id", lead.creator_id},
          {"label_ids", lead.label_ids},
          {"person_id", OptionalJson(lead.person_id)},
          {"organization_id", OptionalJson(lead.organization_id)},
          {"source_name", "API"},
          {"origin", "API"},
          {"origin_id", OptionalJson(lead.origin_id)},
          {"channel", OptionalJson(lead.channel)},
          {"channel_id", OptionalJson(lead.channel_id)},
          {"source_deal_id", nullptr},
          {"is_archived", lead.is_archived},
          {"was_seen", lead.was_seen},
          {"value", lead.value},
          {"expected_close_date", OptionalJson(lead.expected_close_date)},
          {"next_activity_id", nullptr},
          {"add_time", FormatV1Time(lead.add_time)},
          {"update_time", FormatV1Time(lead.update_time)},
          {"visible_to", lead.visible_to},
          {"cc_email", absl::StrCat("company+", lead.company_id, "+lead",
                                    lead.id.substr(0, 8),
                                    "@sandbox.pipedrivemail.invalid")}};
}

}  // namespace wave::pipedrive::sandbox::internal
