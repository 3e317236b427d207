#ifndef WAVE_CLIENT_PIPEDRIVE_CLIENT_H_
#define WAVE_CLIENT_PIPEDRIVE_CLIENT_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wave::pipedrive {

// Tokens from Pipedrive's OAuth token endpoint.
struct TokenSet {
  std::string access_token;
  std::string refresh_token;
  // Base URL for API calls, e.g. "https://acme.pipedrive.com". Pipedrive may
  // change it; the latest token response is authoritative.
  std::string api_domain;
  std::string scope;
  absl::Time expires_at = absl::InfinitePast();
};

// What an API call needs to reach one company as one user.
struct Credentials {
  std::string access_token;
  std::string api_domain;
  // Calls made for background work (an import): they leave part of the
  // burst window to changes a caller waits for.
  bool background = false;
  // The user the token acts for (see HttpRequest::rate_key); empty while
  // that is not known yet, as during the connect.
  std::string rate_key;
};

// The user who authorised the app, with their company.
struct CurrentUser {
  int64_t id = 0;
  std::string email;
  int64_t company_id = 0;
  std::string company_name;
  std::string company_domain;
};

// A user of the company, for owner matching.
struct User {
  int64_t id = 0;
  std::string email;
  // Pipedrive's `active_flag` and not `is_deleted`.
  bool active = false;
};

// An email address or phone number as Pipedrive v2 persons carry it.
struct ContactPoint {
  std::string value;
  std::string label;  // "work", "home", "mobile" or "other".
  bool primary = false;

  bool operator==(const ContactPoint& o) const {
    return value == o.value && label == o.label && primary == o.primary;
  }
};

// Fields to write on a v2 Person. An unset field is not sent, so a PATCH
// changes only the fields that are set.
struct PersonWrite {
  std::optional<std::string> name;
  std::optional<std::vector<ContactPoint>> emails;
  std::optional<std::vector<ContactPoint>> phones;
  std::optional<int64_t> owner_id;
};

// A v2 Person as Pipedrive returns it.
struct Person {
  int64_t id = 0;
  std::string name;
  std::vector<ContactPoint> emails;
  std::vector<ContactPoint> phones;
  std::optional<int64_t> owner_id;
  bool is_deleted = false;
};

// Fields to write on a v1 Lead. An unset field is not sent.
struct LeadWrite {
  std::optional<std::string> title;
  std::optional<int64_t> person_id;
  std::optional<int64_t> owner_id;
  // Settable only when the lead is created; ignored on update.
  std::optional<std::string> origin_id;
  std::optional<std::string> channel_id;
  std::optional<int64_t> channel;
};

// A v1 Lead as Pipedrive returns it.
struct Lead {
  std::string id;  // A UUID.
  std::string title;
  std::optional<int64_t> person_id;
  std::optional<int64_t> owner_id;
  std::optional<std::string> origin_id;
  std::optional<std::string> channel_id;
  std::optional<int64_t> channel;
  bool is_archived = false;
};

// One option of an enum or set deal field, such as a "Source channel" that
// a lead's `channel` may name.
struct FieldOption {
  int64_t id = 0;
  std::string label;
};

// A person found by a search; emails and phones are plain values there.
struct PersonMatch {
  int64_t id = 0;
  std::string name;
  std::vector<std::string> emails;
  std::vector<std::string> phones;
};

// Provides Pipedrive's OAuth and the REST calls the sync needs.
//
// Every method returns a status mapped from the HTTP outcome in one place
// (see http_status.h): 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
// 402 FAILED_PRECONDITION, 403 PERMISSION_DENIED, 404 and 410 NOT_FOUND,
// 429 RESOURCE_EXHAUSTED, 5xx and transport failures UNAVAILABLE or
// DEADLINE_EXCEEDED. The token endpoint's "Invalid grant" answer is
// UNAUTHENTICATED with a message starting "invalid_grant". Messages carry
// Pipedrive's error text, never a token or secret.
//
// Implementations are thread-safe.
class PipedriveClient {
 public:
  virtual ~PipedriveClient() = default;

  // OAuth (on the OAuth base URL, with the app's client credentials).
  virtual absl::StatusOr<TokenSet> ExchangeCode(
      const std::string& code, const std::string& redirect_uri) = 0;
  virtual absl::StatusOr<TokenSet> RefreshToken(
      const std::string& refresh_token) = 0;
  // Revokes a refresh token, which uninstalls the app for that user.
  virtual absl::Status RevokeRefreshToken(const std::string& refresh_token) = 0;

  // Users (v1).
  virtual absl::StatusOr<CurrentUser> GetCurrentUser(
      const Credentials& creds) = 0;
  virtual absl::StatusOr<std::vector<User>> ListUsers(
      const Credentials& creds) = 0;

  // Persons (v2).
  virtual absl::StatusOr<Person> CreatePerson(const Credentials& creds,
                                              const PersonWrite& person) = 0;
  virtual absl::StatusOr<Person> UpdatePerson(const Credentials& creds,
                                              int64_t id,
                                              const PersonWrite& person) = 0;
  virtual absl::StatusOr<Person> GetPerson(const Credentials& creds,
                                           int64_t id) = 0;
  virtual absl::Status DeletePerson(const Credentials& creds, int64_t id) = 0;

  // Persons whose `field` ("email" or "phone") equals `term` exactly
  // (Pipedrive compares case-insensitively), via the v2 search. Searches
  // cost 20 tokens and have a burst limit of their own: use them to
  // recover, not on every write.
  virtual absl::StatusOr<std::vector<PersonMatch>> SearchPersons(
      const Credentials& creds, const std::string& field,
      const std::string& term) = 0;

  // Leads (v1).
  virtual absl::StatusOr<Lead> CreateLead(const Credentials& creds,
                                          const LeadWrite& lead) = 0;
  virtual absl::StatusOr<Lead> UpdateLead(const Credentials& creds,
                                          const std::string& id,
                                          const LeadWrite& lead) = 0;
  virtual absl::StatusOr<Lead> GetLead(const Credentials& creds,
                                       const std::string& id) = 0;
  virtual absl::Status DeleteLead(const Credentials& creds,
                                  const std::string& id) = 0;
  // The person's leads that are neither archived nor deleted.
  virtual absl::StatusOr<std::vector<Lead>> ListLeadsOfPerson(
      const Credentials& creds, int64_t person_id) = 0;

  // Deal fields (v2).
  // The options of the deal field `field_code` (e.g. "channel"), in
  // Pipedrive's order; empty for a field without options. Needs a deal
  // scope (deals:read, deals:full, deal-fields:full or admin): without one
  // Pipedrive answers 403, i.e. PERMISSION_DENIED.
  virtual absl::StatusOr<std::vector<FieldOption>> GetDealFieldOptions(
      const Credentials& creds, const std::string& field_code) = 0;
};

}  // namespace wave::pipedrive

#endif  // WAVE_CLIENT_PIPEDRIVE_CLIENT_H_
