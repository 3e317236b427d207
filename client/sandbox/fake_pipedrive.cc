#include "client/sandbox/fake_pipedrive.h"

#include "client/sandbox/handlers.h"
#include "client/sandbox/payloads.h"
#include "client/sandbox/sandbox_http.h"
#include "client/sandbox/sandbox_state.h"

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

#include <algorithm>
#include <exception>
#include <sys/socket.h>
#include <utility>

namespace wave::pipedrive::sandbox {
namespace {

using internal::HttpRequest;
using internal::Reply;
using nlohmann::json;

HttpRequest FromHttplib(const httplib::Request& request) {
  HttpRequest out;
  out.method = request.method;
  out.path = request.path;
  const size_t question = request.target.find('?');
  if (question != std::string::npos) {
    out.query = request.target.substr(question + 1);
  }
  out.params = internal::ParseUrlEncoded(out.query);
  for (const auto& [name, value] : request.headers) {
    out.headers.emplace(absl::AsciiStrToLower(name), value);
  }
  out.body = request.body;
  return out;
}

void ToHttplib(const Reply& reply, httplib::Response& response) {
  response.status = reply.status;
  for (const auto& [name, value] : reply.headers) {
    response.set_header(name, value);
  }
  if (!reply.body.empty()) {
    response.set_content(reply.body, reply.content_type.c_str());
  }
}

bool IsOAuthPath(const std::string& path) {
  return absl::StartsWith(path, "/oauth/");
}

bool IsApiPath(const std::string& path) {
  return absl::StartsWith(path, "/api/");
}

std::string FaultMessage(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 401:
      return "Invalid token: access_token is invalid";
    case 402:
      return "Company account is not open (possible reason: trial expired, "
             "payment details not entered)";
    case 403:
      return "Scope and URL mismatch";
    case 404:
      return "Entity was not found";
    case 410:
      return "Old resource permanently unavailable";
    case 429:
      return "Request over limit";
    case 503:
      return "Requested service is not available";
    default:
      return status >= 500 ? "Internal server error"
                           : absl::StrCat("Injected fault ", status);
  }
}

absl::StatusOr<Fault> FaultFromJson(const json& body) {
  if (!body.is_object()) {
    return absl::InvalidArgumentError("a fault must be a JSON object");
  }
  Fault fault;
  for (const auto& [key, value] : body.items()) {
    if (key == "method" || key == "path_prefix") {
      if (!value.is_string()) {
        return absl::InvalidArgumentError(key + " must be a string");
      }
      (key == "method" ? fault.method : fault.path_prefix) =
          value.get<std::string>();
    } else if (key == "status" || key == "count" || key == "delay_ms") {
      if (!value.is_number_integer()) {
        return absl::InvalidArgumentError(key + " must be an integer");
      }
      (key == "status"  ? fault.status
       : key == "count" ? fault.count
                        : fault.delay_ms) = value.get<int>();
    } else if (key == "apply_then_fail") {
      if (!value.is_boolean()) {
        return absl::InvalidArgumentError(key + " must be a boolean");
      }
      fault.apply_then_fail = value.get<bool>();
    } else {
      return absl::InvalidArgumentError("unknown fault field " + key);
    }
  }
  if (fault.count == 0 || fault.count < -1) {
    return absl::InvalidArgumentError("count must be positive or -1");
  }
  return fault;
}

Reply ControlOk() { return internal::JsonReply(200, {{"success", true}}); }

}  // namespace

FakePipedrive::FakePipedrive(SandboxOptions options)
    : options_(std::move(options)),
      state_(std::make_unique<internal::SandboxState>(options_)) {}

FakePipedrive::~FakePipedrive() { Stop(); }

absl::Status FakePipedrive::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return absl::FailedPreconditionError("already started");
    started_ = true;
  }

  server_ = std::make_unique<httplib::Server>();
  const size_t threads =
      static_cast<size_t>(std::max(2, options_.worker_threads));
  server_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  // Without it, a small answer on a reused connection waits for Nagle's
  // delayed ACK (tens of milliseconds per request).
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_timeout(
      std::max<time_t>(1, absl::ToInt64Seconds(options_.keep_alive_timeout)));
  const auto handler = [this](const httplib::Request& request,
                              httplib::Response& response) {
    ToHttplib(Serve(FromHttplib(request)), response);
  };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);
  server_->Options(".*", handler);
  server_->set_exception_handler([](const httplib::Request&,
                                    httplib::Response& response,
                                    std::exception_ptr) {
    ToHttplib(internal::ErrorReply(500, "Internal server error"), response);
  });

  // httplib's default also sets SO_REUSEPORT, which lets a second sandbox
  // share a busy port and take half of the requests.
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.host, ":", options_.port));
  }
  port_ = port;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_->base_url = base_url();
  }

  listener_ = std::thread([this] {
    server_->listen_after_bind();
    listener_done_ = true;
  });
  // httplib's stop() is a no-op until the accept loop runs, so Stop()
  // right after Start() would hang without this wait.
  while (!server_->is_running() && !listener_done_) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (listener_done_) {
    listener_.join();
    return absl::UnavailableError("the HTTP server stopped at once");
  }
  return absl::OkStatus();
}

void FakePipedrive::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  if (server_ != nullptr) server_->stop();
  if (listener_.joinable()) listener_.join();
}

int FakePipedrive::port() const { return port_; }

std::string FakePipedrive::base_url() const {
  return absl::StrCat("http://", options_.host, ":", port_.load());
}

int64_t FakePipedrive::AddCompany(const std::string& name,
                                  const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  internal::CompanyState company;
  company.id = state_->next_company_id++;
  company.name = name;
  company.domain = domain;
  state_->companies[company.id] = company;
  return company.id;
}

int64_t FakePipedrive::AddUser(int64_t company_id, const std::string& name,
                               const std::string& email, bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_->FindCompany(company_id) == nullptr) return 0;
  internal::UserState user;
  user.id = state_->next_user_id++;
  user.company_id = company_id;
  user.name = name;
  user.email = email;
  user.active = active;
  user.is_admin = true;
  for (const auto& [id, other] : state_->users) {
    if (other.company_id == company_id) user.is_admin = false;
  }
  user.created = state_->Now();
  state_->users[user.id] = user;
  return user.id;
}

void FakePipedrive::SetUserActive(int64_t user_id, bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->users.find(user_id);
  if (it != state_->users.end()) it->second.active = active;
}

void FakePipedrive::AddChannelOption(int64_t company_id, int64_t option_id,
                                     const std::string& label) {
  std::lock_guard<std::mutex> lock(mu_);
  internal::CompanyState* company = state_->FindCompany(company_id);
  if (company != nullptr) {
    company->channel_options.emplace_back(option_id, label);
  }
}

void FakePipedrive::SetDealScope(bool granted) {
  std::lock_guard<std::mutex> lock(mu_);
  state_->deal_scope = granted;
}

void FakePipedrive::SetApiDomain(int64_t company_id,
                                 const std::string& api_domain) {
  std::lock_guard<std::mutex> lock(mu_);
  internal::CompanyState* company = state_->FindCompany(company_id);
  if (company != nullptr) company->api_domain = api_domain;
}

std::string FakePipedrive::IssueAuthorizationCode(
    int64_t company_id, int64_t user_id, const std::string& redirect_uri) {
  std::lock_guard<std::mutex> lock(mu_);
  const internal::UserState* user = state_->FindUser(user_id);
  if (user == nullptr || user->company_id != company_id) return "";
  const std::string code = internal::RandomHex(state_->gen, 40);
  internal::AuthCodeState& grant = state_->auth_codes[code];
  grant.company_id = company_id;
  grant.user_id = user_id;
  grant.redirect_uri = redirect_uri;
  grant.issued = state_->Now();
  return code;
}

void FakePipedrive::InjectFault(const Fault& fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(fault);
}

void FakePipedrive::ClearFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
}

void FakePipedrive::ExpireAccessTokens() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = state_->Now();
  for (auto& [token, access] : state_->access_tokens) {
    access.expires_at = std::min(access.expires_at, now);
  }
}

void FakePipedrive::ResetTokenBudgets() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, company] : state_->companies) company.tokens_spent = 0;
}

void FakePipedrive::ArchiveLead(const std::string& lead_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (LeadRecord& lead : state_->leads) {
    if (lead.id == lead_id) {
      lead.is_archived = true;
      lead.update_time = state_->Now();
    }
  }
}

void FakePipedrive::ConvertLead(const std::string& lead_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (LeadRecord& lead : state_->leads) {
    if (lead.id == lead_id) {
      lead.is_converted = true;
      lead.is_deleted = true;
      lead.update_time = state_->Now();
    }
  }
}

void FakePipedrive::DeletePersonInUi(int64_t person_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->persons.find(person_id);
  if (it != state_->persons.end()) {
    it->second.is_deleted = true;
    it->second.update_time = state_->Now();
  }
}

int64_t FakePipedrive::AddPersonInUi(int64_t company_id, int64_t owner_user_id,
                                     const std::string& name,
                                     const std::vector<ContactValue>& emails,
                                     const std::vector<ContactValue>& phones) {
  std::lock_guard<std::mutex> lock(mu_);
  PersonRecord person;
  person.id = state_->next_person_id++;
  person.company_id = company_id;
  person.owner_id = owner_user_id;
  person.name = name;
  person.emails = emails;
  person.phones = phones;
  person.add_time = state_->Now();
  person.update_time = person.add_time;
  const int64_t id = person.id;
  state_->persons[id] = std::move(person);
  return id;
}

std::vector<PersonRecord> FakePipedrive::Persons(int64_t company_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PersonRecord> out;
  for (const auto& [id, person] : state_->persons) {
    if (person.company_id == company_id) out.push_back(person);
  }
  return out;
}

std::vector<LeadRecord> FakePipedrive::Leads(int64_t company_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LeadRecord> out;
  for (const LeadRecord& lead : state_->leads) {
    if (lead.company_id == company_id) out.push_back(lead);
  }
  return out;
}

std::vector<RequestRecord> FakePipedrive::Requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void FakePipedrive::ClearRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.clear();
}

int FakePipedrive::CountRequests(const std::string& method,
                                 const std::string& path_prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  int count = 0;
  for (const RequestRecord& request : requests_) {
    if ((method.empty() || request.method == method) &&
        absl::StartsWith(request.path, path_prefix)) {
      ++count;
    }
  }
  return count;
}

bool FakePipedrive::IsRefreshTokenRevoked(
    const std::string& refresh_token) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->refresh_tokens.find(refresh_token);
  return it != state_->refresh_tokens.end() && it->second.revoked;
}

int64_t FakePipedrive::TokensSpent(int64_t company_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_->companies.find(company_id);
  return it == state_->companies.end() ? 0 : it->second.tokens_spent;
}

std::string FakePipedrive::StateJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  return StateJsonLocked();
}

std::string FakePipedrive::StateJsonLocked() const {
  json companies = json::array();
  for (const auto& [company_id, company] : state_->companies) {
    json users = json::array();
    for (const auto& [user_id, user] : state_->users) {
      if (user.company_id != company_id) continue;
      users.push_back({{"id", user.id},
                       {"name", user.name},
                       {"email", user.email},
                       {"active", user.active},
                       {"is_admin", user.is_admin}});
    }
    json channels = json::array();
    for (const auto& [id, label] : company.channel_options) {
      channels.push_back({{"id", id}, {"label", label}});
    }
    json persons = json::array();
    for (const auto& [person_id, person] : state_->persons) {
      if (person.company_id == company_id) {
        persons.push_back(internal::PersonJson(person));
      }
    }
    json leads = json::array();
    for (const LeadRecord& lead : state_->leads) {
      if (lead.company_id != company_id) continue;
      json entry = internal::LeadJson(lead);
      entry["is_deleted"] = lead.is_deleted;
      entry["is_converted"] = lead.is_converted;
      leads.push_back(std::move(entry));
    }
    companies.push_back({{"id", company.id},
                         {"name", company.name},
                         {"domain", company.domain},
                         {"api_domain", state_->ApiDomainFor(company_id)},
                         {"tokens_spent", company.tokens_spent},
                         {"channel_options", std::move(channels)},
                         {"users", std::move(users)},
                         {"persons", std::move(persons)},
                         {"leads", std::move(leads)}});
  }
  return json{{"companies", std::move(companies)}}.dump();
}

Reply FakePipedrive::Serve(const HttpRequest& request) {
  if (absl::StartsWith(request.path, "/_sandbox/")) {
    return HandleControl(request);
  }

  // Counts the requests being answered at once, injected delays included.
  struct InFlight {
    InFlight(std::atomic<int>& now, std::atomic<int>& peak) : now_(now) {
      const int mine = ++now_;
      int seen = peak.load();
      while (mine > seen && !peak.compare_exchange_weak(seen, mine)) {
      }
    }
    ~InFlight() { --now_; }
    std::atomic<int>& now_;
  } in_flight(in_flight_, peak_in_flight_);

  Fault fault;
  const bool faulted = TakeFault(request, &fault);
  if (faulted && fault.delay_ms > 0) {
    Delay(absl::Milliseconds(fault.delay_ms));
  }
  // A fault below 400 only delays the request.
  const bool fails = faulted && fault.status >= 400;
  Reply reply;
  if (fails && !fault.apply_then_fail) {
    reply = FaultReply(request, fault);
  } else {
    reply = Route(request);
    if (fails) {
      const int64_t company_id = reply.company_id;
      reply = FaultReply(request, fault);
      reply.company_id = company_id;
    }
  }

  RequestRecord record;
  record.method = request.method;
  record.path = request.path;
  record.query = request.query;
  record.host = request.Header("host");
  record.body = request.body;
  record.status = reply.status;
  record.company_id = reply.company_id;
  std::lock_guard<std::mutex> lock(mu_);
  // Taken under the lock, so that the list stays in time order.
  record.at = state_->Now();
  requests_.push_back(std::move(record));
  return reply;
}

Reply FakePipedrive::Route(const HttpRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  internal::SandboxState& state = *state_;
  const std::string& path = request.path;
  if (path == "/oauth/authorize" && request.method == "GET") {
    return internal::HandleAuthorize(state, request);
  }
  // The spec lists refresh under "/oauth/token/"; the docs use no slash.
  if ((path == "/oauth/token" || path == "/oauth/token/") &&
      request.method == "POST") {
    return internal::HandleToken(state, request);
  }
  if (path == "/oauth/revoke" && request.method == "POST") {
    return internal::HandleRevoke(state, request);
  }
  if (IsApiPath(path)) return internal::HandleApi(state, request);
  if (IsOAuthPath(path)) return internal::OAuthErrorReply(404, "Not found");
  return internal::ErrorReply(404, "Unknown method .");
}

Reply FakePipedrive::HandleControl(const HttpRequest& request) {
  const std::string& path = request.path;
  if (path == "/_sandbox/state" && request.method == "GET") {
    Reply reply;
    std::lock_guard<std::mutex> lock(mu_);
    reply.body = StateJsonLocked();
    return reply;
  }
  if (path == "/_sandbox/faults" && request.method == "POST") {
    const json body =
        json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    absl::StatusOr<Fault> fault = FaultFromJson(body);
    if (!fault.ok()) {
      return internal::ErrorReply(400, std::string(fault.status().message()));
    }
    InjectFault(*fault);
    return ControlOk();
  }
  if (path == "/_sandbox/faults" && request.method == "DELETE") {
    ClearFaults();
    return ControlOk();
  }
  if (path == "/_sandbox/expire-tokens" && request.method == "POST") {
    ExpireAccessTokens();
    return ControlOk();
  }
  return internal::ErrorReply(404, "Unknown sandbox control endpoint");
}

bool FakePipedrive::TakeFault(const HttpRequest& request, Fault* fault) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if ((!it->method.empty() && it->method != request.method) ||
        !absl::StartsWith(request.path, it->path_prefix)) {
      continue;
    }
    *fault = *it;
    if (it->count > 0 && --it->count == 0) faults_.erase(it);
    return true;
  }
  return false;
}

Reply FakePipedrive::FaultReply(const HttpRequest& request,
                                const Fault& fault) {
  const std::string message = FaultMessage(fault.status);
  Reply reply = IsOAuthPath(request.path)
                    ? internal::OAuthErrorReply(fault.status, message)
                    : internal::ErrorReply(fault.status, message);
  std::lock_guard<std::mutex> lock(mu_);
  reply.company_id = internal::CompanyOfRequest(*state_, request);
  if (IsApiPath(request.path) && fault.status != 429) {
    internal::SetRateLimitHeaders(*state_, request, /*exhausted=*/false,
                                  &reply);
  } else if (fault.status == 429) {
    reply.SetHeader("x-ratelimit-limit", absl::StrCat(options_.burst_limit));
    reply.SetHeader("x-ratelimit-remaining", "0");
    reply.SetHeader("x-ratelimit-reset", "1");
  }
  return reply;
}

void FakePipedrive::Delay(absl::Duration delay) {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_cv_.wait_for(lock, absl::ToChronoMilliseconds(delay),
                        [this] { return stopping_; });
}

}  // namespace wave::pipedrive::sandbox
