#include "client/sandbox/sandbox_state.h"

#include "absl/strings/ascii.h"

#include <algorithm>

namespace wave::pipedrive::sandbox::internal {

void RollingWindow::Expire(absl::Time now) {
  while (!admitted.empty() && admitted.front() <= now - kRateWindow) {
    admitted.pop_front();
  }
}

int64_t RollingWindow::SecondsUntilSlot(absl::Time now) const {
  if (admitted.empty()) return 0;
  const absl::Duration left = admitted.front() + kRateWindow - now;
  return std::max<int64_t>(
      1, absl::ToInt64Seconds(absl::Ceil(left, absl::Seconds(1))));
}

CompanyState* SandboxState::FindCompany(int64_t company_id) {
  auto it = companies.find(company_id);
  return it == companies.end() ? nullptr : &it->second;
}

const UserState* SandboxState::FindUser(int64_t user_id) const {
  auto it = users.find(user_id);
  return it == users.end() ? nullptr : &it->second;
}

const UserState* SandboxState::FindUserByEmail(const std::string& email) const {
  const std::string wanted = absl::AsciiStrToLower(email);
  for (const auto& [id, user] : users) {
    if (absl::AsciiStrToLower(user.email) == wanted) return &user;
  }
  return nullptr;
}

PersonRecord* SandboxState::FindPerson(int64_t company_id, int64_t person_id) {
  auto it = persons.find(person_id);
  if (it == persons.end() || it->second.company_id != company_id) {
    return nullptr;
  }
  return &it->second;
}

LeadRecord* SandboxState::FindLead(int64_t company_id,
                                   const std::string& lead_id) {
  for (LeadRecord& lead : leads) {
    if (lead.id == lead_id && lead.company_id == company_id) return &lead;
  }
  return nullptr;
}

std::string SandboxState::ApiDomainFor(int64_t company_id) const {
  auto it = companies.find(company_id);
  if (it == companies.end() || it->second.api_domain.empty()) return base_url;
  return it->second.api_domain;
}

CompanyContext SandboxState::ContextFor(int64_t company_id) {
  CompanyContext context;
  context.is_active_user = [this, company_id](int64_t user_id) {
    const UserState* user = FindUser(user_id);
    return user != nullptr && user->company_id == company_id && user->active;
  };
  context.is_live_person = [this, company_id](int64_t person_id) {
    const PersonRecord* person = FindPerson(company_id, person_id);
    return person != nullptr && !person->is_deleted;
  };
  context.is_channel_option = [this, company_id](int64_t option_id) {
    const CompanyState* company = FindCompany(company_id);
    if (company == nullptr) return false;
    return std::any_of(
        company->channel_options.begin(), company->channel_options.end(),
        [option_id](const auto& option) { return option.first == option_id; });
  };
  return context;
}

}  // namespace wave::pipedrive::sandbox::internal
