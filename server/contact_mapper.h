#ifndef WAVE_SERVER_CONTACT_MAPPER_H_
#define WAVE_SERVER_CONTACT_MAPPER_H_

#include "client/pipedrive_client.h"
#include "wave/integrations/pipedrive/v1/pipedrive_sync.pb.h"

#include "nlohmann/json.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace wave::pipedrive {

namespace v1 = ::wave::integrations::pipedrive::v1;

// Looks up a Pipedrive user id by email; case-insensitive; implemented by
// the caller (storage-backed). Receives the email trimmed and ASCII
// lowercased. Returns nullopt when no active user matches.
using OwnerLookup =
    std::function<std::optional<int64_t>(const std::string& email_lower)>;

// Per-company settings of the mapping.
struct MappingOptions {
  // The option id of the company's "Wave Connect" source channel, if the
  // company has one.
  std::optional<int64_t> channel_option_id;
};

// The Pipedrive records one Wave contact becomes.
struct MappedContact {
  // Every field set; owner_id only when the owner matched. emails and phones
  // may be empty lists.
  PersonWrite person;
  // title, owner_id (when matched), channel_id, channel (when configured)
  // and origin_id; person_id is left for the caller to fill in.
  LeadWrite lead;
  bool owner_matched = false;
  // Why no owner is set, when owner_matched is false. Never holds the email.
  std::string owner_note;
};

// The "Source channel ID" every lead of ours carries.
inline constexpr char kWaveChannelId[] = "Wave Connect";

// owner_note values.
inline constexpr char kOwnerNotAssignedNote[] = "no team member assigned";
inline constexpr char kOwnerNotMatchedNote[] =
    "the assigned team member has no matching Pipedrive user; records are "
    "owned by the user who connected Pipedrive";

// Maps a Wave contact to a Pipedrive Person and Lead.
//
// Expects a contact that passed ValidateContact. Given anything else it still
// returns well-formed UTF-8 (ill-formed bytes become U+FFFD) and never
// crashes, but the person's name may be empty, which Pipedrive rejects.
// `owners` is called at most once, only when owner_email is set; an empty
// function matches nobody. Deterministic and free of side effects apart from
// that call.
MappedContact MapContact(const v1::Contact& c, const OwnerLookup& owners,
                         const MappingOptions& options);

// The origin_id marker for a contact's lead: "wave-connect:" + contact_id.
std::string LeadOriginId(const std::string& contact_id);

// Canonical JSON of what was written, for storage and change detection.
// Unset fields are omitted; object keys are sorted, so equal writes dump to
// equal text. Strings must be valid UTF-8 (MapContact's are), or dumping the
// result throws.
nlohmann::json PersonToJson(const PersonWrite& p);
// Omits origin_id: it is fixed when the lead is created and never compared.
nlohmann::json LeadToJson(const LeadWrite& l);

// Parse what PersonToJson / LeadToJson produced. Absent or null keys are
// unset and unknown keys are ignored; returns nullopt when the value is not
// an object or a known key has the wrong type.
std::optional<PersonWrite> PersonFromJson(const nlohmann::json& j);
std::optional<LeadWrite> LeadFromJson(const nlohmann::json& j);

// Fields of `desired` that differ from `written` (unset = unchanged). A field
// unset in `desired` is never sent: in particular a lost owner match leaves
// the owner Pipedrive has. Lists compare in order, including labels and
// primary flags. Returns nullopt when nothing differs.
std::optional<PersonWrite> PersonChanges(const PersonWrite& written,
                                         const PersonWrite& desired);
// As PersonChanges; origin_id is never part of the changes, since Pipedrive
// accepts it only on create.
std::optional<LeadWrite> LeadChanges(const LeadWrite& written,
                                     const LeadWrite& desired);

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_CONTACT_MAPPER_H_
