#ifndef WAVE_CLIENT_SANDBOX_SANDBOX_STATE_H_
#define WAVE_CLIENT_SANDBOX_SANDBOX_STATE_H_

// The sandbox's in-memory Pipedrive: companies, users, OAuth grants,
// persons, leads and rate-limit windows. FakePipedrive owns one and guards
// it with its mutex; every function here expects that mutex held.

#include "client/sandbox/fake_pipedrive.h"
#include "client/sandbox/payloads.h"
#include "client/sandbox/sandbox_records.h"

#include "absl/random/random.h"
#include "absl/time/time.h"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive::sandbox::internal {

struct CompanyState {
  int64_t id = 0;
  std::string name;
  std::string domain;
  // Empty: the sandbox's own base URL.
  std::string api_domain;
  std::vector<std::pair<int64_t, std::string>> channel_options;
  int64_t tokens_spent = 0;
};

struct UserState {
  int64_t id = 0;
  int64_t company_id = 0;
  std::string name;
  std::string email;
  bool active = true;
  bool is_admin = false;
  absl::Time created;
};

struct AuthCodeState {
  int64_t company_id = 0;
  int64_t user_id = 0;
  std::string redirect_uri;
  absl::Time issued;
  bool used = false;
};

struct RefreshTokenState {
  int64_t company_id = 0;
  int64_t user_id = 0;
  bool revoked = false;
};

struct AccessTokenState {
  int64_t company_id = 0;
  int64_t user_id = 0;
  std::string refresh_token;
  absl::Time expires_at;
  bool revoked = false;
};

// Requests admitted in the last two seconds, for one token.
struct RollingWindow {
  std::deque<absl::Time> admitted;

  // Drops entries older than the window.
  void Expire(absl::Time now);
  // Whole seconds until the oldest entry leaves the window, at least 1.
  int64_t SecondsUntilSlot(absl::Time now) const;
};

inline constexpr absl::Duration kRateWindow = absl::Seconds(2);
inline constexpr absl::Duration kAuthCodeLifetime = absl::Minutes(5);

struct SandboxState {
  explicit SandboxState(SandboxOptions opts)
      : options(std::move(opts)), deal_scope(options.deal_scope) {}

  absl::Time Now() const {
    return options.clock ? options.clock() : absl::Now();
  }

  CompanyState* FindCompany(int64_t company_id);
  const UserState* FindUser(int64_t user_id) const;
  // The first user (lowest id) with this email, compared ignoring case.
  const UserState* FindUserByEmail(const std::string& email) const;
  // The person if it belongs to the company (deleted or not).
  PersonRecord* FindPerson(int64_t company_id, int64_t person_id);
  // The lead if it belongs to the company (in any state).
  LeadRecord* FindLead(int64_t company_id, const std::string& lead_id);
  // The api_domain a token response hands out for the company now.
  std::string ApiDomainFor(int64_t company_id) const;
  // Lookups for body validation, bound to one company.
  CompanyContext ContextFor(int64_t company_id);

  const SandboxOptions options;
  std::string base_url;
  // Starts as options.deal_scope; FakePipedrive::SetDealScope changes it.
  bool deal_scope;

  std::map<int64_t, CompanyState> companies;
  std::map<int64_t, UserState> users;
  std::map<std::string, AuthCodeState> auth_codes;
  std::map<std::string, RefreshTokenState> refresh_tokens;
  std::map<std::string, AccessTokenState> access_tokens;
  std::map<int64_t, PersonRecord> persons;
  // In creation order.
  std::vector<LeadRecord> leads;
  // Keyed by the bearer token string.
  std::map<std::string, RollingWindow> burst_windows;
  std::map<std::string, RollingWindow> search_windows;

  // Distinct ranges, so that an id passed in the wrong field stands out.
  int64_t next_company_id = 7000001;
  int64_t next_user_id = 10001;
  int64_t next_person_id = 1;
  absl::BitGen gen;
};

}  // namespace wave::pipedrive::sandbox::internal

#endif  // WAVE_CLIENT_SANDBOX_SANDBOX_STATE_H_
