#ifndef WAVE_CLIENT_SANDBOX_PAYLOADS_H_
#define WAVE_CLIENT_SANDBOX_PAYLOADS_H_

// Validation of person and lead request bodies against Pipedrive's request
// schemas, and the JSON the sandbox answers with.

#include "client/sandbox/sandbox_records.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include <cstdint>
#include <functional>

namespace wave::pipedrive::sandbox::internal {

// What body validation needs to know about the caller's company.
struct CompanyContext {
  // An active user of the company.
  std::function<bool(int64_t)> is_active_user;
  // A person of the company that is not deleted.
  std::function<bool(int64_t)> is_live_person;
  // One of the company's lead channel options.
  std::function<bool(int64_t)> is_channel_option;
};

enum class WriteKind { kCreate, kUpdate };

// Validates a v2 person body (POST or PATCH) and applies it to `*person`.
// Only keys present change. On error returns INVALID_ARGUMENT with
// Pipedrive-style text naming the offending key and leaves `*person`
// untouched. Sets update_time (and add_time on create) from `now`.
absl::Status ApplyPersonBody(const nlohmann::json& body, WriteKind kind,
                             const CompanyContext& company, absl::Time now,
                             PersonRecord* person);

// Validates a v1 lead body (POST or PATCH) and applies it to `*lead`, with
// the same contract as ApplyPersonBody.
absl::Status ApplyLeadBody(const nlohmann::json& body, WriteKind kind,
                           const CompanyContext& company, absl::Time now,
                           LeadRecord* lead);

// The v2 person object of GET/POST/PATCH /api/v2/persons.
nlohmann::json PersonJson(const PersonRecord& person);

// An `item` of GET /api/v2/persons/search: emails and phones are plain
// strings there.
nlohmann::json PersonSearchItemJson(const PersonRecord& person);

// The v1 lead object of /api/v1/leads.
nlohmann::json LeadJson(const LeadRecord& lead);

}  // namespace wave::pipedrive::sandbox::internal

#endif  // WAVE_CLIENT_SANDBOX_PAYLOADS_H_
