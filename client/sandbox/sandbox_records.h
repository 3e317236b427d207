#ifndef WAVE_CLIENT_SANDBOX_SANDBOX_RECORDS_H_
#define WAVE_CLIENT_SANDBOX_SANDBOX_RECORDS_H_

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wave::pipedrive::sandbox {

// One entry of a person's `emails`, `phones` or `im` list.
struct ContactValue {
  std::string value;
  std::string label;
  bool primary = false;
};

// A v2 Person as the sandbox stores it, including soft-deleted ones.
struct PersonRecord {
  int64_t id = 0;
  int64_t company_id = 0;
  std::string name;
  std::string first_name;
  std::string last_name;
  int64_t owner_id = 0;
  std::optional<int64_t> org_id;
  std::vector<ContactValue> emails;
  std::vector<ContactValue> phones;
  std::vector<ContactValue> im;
  int visible_to = 3;
  std::vector<int64_t> label_ids;
  std::optional<std::string> notes;
  std::optional<std::string> birthday;
  std::optional<std::string> job_title;
  std::optional<std::string> marketing_status;
  // Objects stored as sent; null when never set.
  nlohmann::json postal_address;
  nlohmann::json custom_fields = nlohmann::json::object();
  absl::Time add_time;
  absl::Time update_time;
  bool is_deleted = false;
};

// A v1 Lead as the sandbox stores it, including archived, converted and
// deleted ones.
struct LeadRecord {
  std::string id;  // UUID v4.
  int64_t company_id = 0;
  std::string title;
  std::optional<int64_t> person_id;
  std::optional<int64_t> organization_id;
  int64_t owner_id = 0;
  int64_t creator_id = 0;
  std::vector<std::string> label_ids;
  // `{"amount": number, "currency": string}` or null.
  nlohmann::json value;
  std::optional<std::string> expected_close_date;
  std::string visible_to = "3";  // A string on v1 leads.
  bool was_seen = false;
  std::optional<std::string> origin_id;
  std::optional<int64_t> channel;
  std::optional<std::string> channel_id;
  absl::Time add_time;
  absl::Time update_time;
  bool is_archived = false;
  // Converted to a deal in the UI; Pipedrive then marks the lead deleted,
  // so is_deleted is true as well.
  bool is_converted = false;
  bool is_deleted = false;
};

// One HTTP request the sandbox answered (control API calls excluded).
struct RequestRecord {
  std::string method;
  std::string path;
  std::string query;  // The raw query string, without '?'.
  std::string host;   // The Host header as sent.
  std::string body;
  int status = 0;          // The status answered.
  int64_t company_id = 0;  // 0 when the request carried no valid token.
  absl::Time at;           // When it was answered, by the sandbox's clock.
};

// A failure the sandbox injects into matching requests.
//
// A request matches when `method` is empty or equal (case-sensitive, e.g.
// "POST") and its path starts with `path_prefix`. The first matching fault
// in injection order applies; it waits `delay_ms`, then either answers
// `status` with an error envelope without doing anything, or, with
// `apply_then_fail`, performs the request and answers `status` anyway. A
// status below 400 only delays the request. Control API requests
// (/_sandbox/...) never match.
struct Fault {
  std::string method;
  std::string path_prefix;
  int status = 500;
  int count = 1;  // -1: until cleared.
  int delay_ms = 0;
  bool apply_then_fail = false;
};

}  // namespace wave::pipedrive::sandbox

#endif  // WAVE_CLIENT_SANDBOX_SANDBOX_RECORDS_H_
