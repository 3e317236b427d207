// Pipedrive's REST API as the sync uses it: v1 users, v2 persons, v1 leads
// and the v2 `channel` deal field. Token costs are the x-token-cost values
// of the OpenAPI documents.

#include "client/sandbox/handlers.h"
#include "client/sandbox/payloads.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace wave::pipedrive::sandbox::internal {
namespace {

using nlohmann::json;

constexpr char kOverLimit[] = "Request over limit";

// Who is calling, from a valid access token.
struct Caller {
  std::string token;
  int64_t company_id = 0;
  int64_t user_id = 0;
};

using EndpointHandler =
    std::function<Reply(SandboxState&, const HttpRequest&, const Caller&)>;

struct Endpoint {
  int64_t token_cost = 0;
  bool is_search = false;
  EndpointHandler handler;
  // Needs deals:read (or deals:full, deal-fields:full, admin).
  bool needs_deal_scope = false;
};

// The bearer token of `Authorization: Bearer <token>`, if well formed.
std::optional<std::string> BearerToken(const HttpRequest& request) {
  const std::string header = request.Header("authorization");
  const size_t space = header.find(' ');
  if (space == std::string::npos ||
      !absl::EqualsIgnoreCase(header.substr(0, space), "bearer")) {
    return std::nullopt;
  }
  const std::string token(absl::StripAsciiWhitespace(header.substr(space + 1)));
  if (token.empty() || token.find(' ') != std::string::npos) {
    return std::nullopt;
  }
  return token;
}

const AccessTokenState* ValidAccessToken(const SandboxState& state,
                                         const std::string& token) {
  auto it = state.access_tokens.find(token);
  if (it == state.access_tokens.end() || it->second.revoked ||
      state.Now() >= it->second.expires_at) {
    return nullptr;
  }
  return &it->second;
}

Reply Unauthorized(const std::string& error) {
  json body = ErrorEnvelope(error);
  body["errorCode"] = 401;
  return JsonReply(401, body);
}

Reply EntityNotFound() {
  return ErrorReply(404, "Entity was not found", kNotFoundInfo);
}

Reply LeadNotFound() {
  return ErrorReply(404, "requested lead not found", kNotFoundInfo);
}

Reply Invalid(const std::string& message) { return ErrorReply(400, message); }

// What Pipedrive answers a call outside the token's scopes; the body is the
// one a public integration recorded, not a documented schema.
Reply ScopeMismatch() {
  return JsonReply(403, {{"success", false},
                         {"error", "Scope and URL mismatch"},
                         {"errorCode", 403},
                         {"error_info", kErrorInfo}});
}

// Parses a JSON object body; both API versions take JSON only.
bool ParseJsonBody(const HttpRequest& request, json* body, Reply* error) {
  if (!IsMediaType(request.Header("content-type"), "application/json")) {
    *error = ErrorReply(415,
                        "Unsupported Media Type: the request body must "
                        "be application/json");
    return false;
  }
  *body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body->is_discarded()) {
    *error = Invalid("Validation failed: body: must be valid JSON");
    return false;
  }
  return true;
}

std::vector<std::string> PathSegments(const std::string& path) {
  return absl::StrSplit(path, '/');
}

// --- Users (v1) -----------------------------------------------------------

json UserJson(const UserState& user, bool is_you) {
  const std::string permission_set = absl::StrCat("sandbox-set-", user.id);
  return {{"id", user.id},
          {"name", user.name},
          {"default_currency", "USD"},
          {"locale", "en_US"},
          {"lang", 1},
          {"email", user.email},
          {"phone", nullptr},
          {"activated", true},
          {"last_login", FormatUserTime(user.created)},
          {"created", FormatUserTime(user.created)},
          {"modified", FormatUserTime(user.created)},
          {"has_created_company", user.is_admin},
          {"access",
           {{{"app", "sales"},
             {"admin", user.is_admin},
             {"permission_set_id", permission_set}},
            {{"app", "global"},
             {"admin", user.is_admin},
             {"permission_set_id", permission_set}}}},
          {"active_flag", user.active},
          {"timezone_name", "UTC"},
          {"timezone_offset", "+00:00"},
          {"role_id", 1},
          {"icon_url", nullptr},
          {"is_you", is_you},
          {"is_deleted", false}};
}

Reply GetCurrentUser(SandboxState& state, const HttpRequest& request,
                     const Caller& caller) {
  const UserState* user = state.FindUser(caller.user_id);
  const CompanyState* company = state.FindCompany(caller.company_id);
  if (user == nullptr || company == nullptr) return EntityNotFound();
  json data = UserJson(*user, /*is_you=*/true);
  data["company_id"] = company->id;
  data["company_name"] = company->name;
  data["company_domain"] = company->domain;
  data["company_country"] = "US";
  data["company_industry"] = "Software";
  data["language"] = {{"language_code", "en"}, {"country_code", "US"}};
  return JsonReply(200, SuccessEnvelope(std::move(data)));
}

Reply ListUsers(SandboxState& state, const HttpRequest& request,
                const Caller& caller) {
  json data = json::array();
  for (const auto& [id, user] : state.users) {
    if (user.company_id == caller.company_id) {
      data.push_back(UserJson(user, id == caller.user_id));
    }
  }
  return JsonReply(200, SuccessEnvelope(std::move(data)));
}

// --- Persons (v2) ---------------------------------------------------------

// The id segment of /api/v2/persons/{id}.
bool PersonId(const HttpRequest& request, int64_t* id, Reply* error) {
  const std::optional<int64_t> parsed =
      ParseInt64(PathSegments(request.path)[4]);
  if (!parsed.has_value() || *parsed <= 0) {
    *error = Invalid("Validation failed: id: must be a positive integer");
    return false;
  }
  *id = *parsed;
  return true;
}

Reply CreatePerson(SandboxState& state, const HttpRequest& request,
                   const Caller& caller) {
  json body;
  Reply error;
  if (!ParseJsonBody(request, &body, &error)) return error;

  PersonRecord person;
  person.company_id = caller.company_id;
  person.owner_id = caller.user_id;
  absl::Status status = ApplyPersonBody(body, WriteKind::kCreate,
                                        state.ContextFor(caller.company_id),
                                        state.Now(), &person);
  if (!status.ok()) return Invalid(std::string(status.message()));

  person.id = state.next_person_id++;
  const PersonRecord& stored = state.persons[person.id] = std::move(person);
  return JsonReply(200, SuccessEnvelope(PersonJson(stored)));
}

Reply GetPerson(SandboxState& state, const HttpRequest& request,
                const Caller& caller) {
  int64_t id = 0;
  Reply error;
  if (!PersonId(request, &id, &error)) return error;
  const PersonRecord* person = state.FindPerson(caller.company_id, id);
  if (person == nullptr) return EntityNotFound();
  return JsonReply(200, SuccessEnvelope(PersonJson(*person)));
}

Reply UpdatePerson(SandboxState& state, const HttpRequest& request,
                   const Caller& caller) {
  int64_t id = 0;
  Reply error;
  if (!PersonId(request, &id, &error)) return error;
  PersonRecord* person = state.FindPerson(caller.company_id, id);
  if (person == nullptr || person->is_deleted) return EntityNotFound();
  json body;
  if (!ParseJsonBody(request, &body, &error)) return error;

  absl::Status status =
      ApplyPersonBody(body, WriteKind::kUpdate,
                      state.ContextFor(caller.company_id), state.Now(), person);
  if (!status.ok()) return Invalid(std::string(status.message()));
  return JsonReply(200, SuccessEnvelope(PersonJson(*person)));
}

Reply DeletePerson(SandboxState& state, const HttpRequest& request,
                   const Caller& caller) {
  int64_t id = 0;
  Reply error;
  if (!PersonId(request, &id, &error)) return error;
  PersonRecord* person = state.FindPerson(caller.company_id, id);
  if (person == nullptr || person->is_deleted) return EntityNotFound();

  person->is_deleted = true;
  person->update_time = state.Now();
  return JsonReply(200, SuccessEnvelope({{"id", id}}));
}

bool Matches(const std::string& candidate, const std::string& term,
             bool exact) {
  const std::string lower = absl::AsciiStrToLower(candidate);
  return exact ? lower == term : absl::StrContains(lower, term);
}

// GET /api/v2/persons/search: a wrapper of itemSearch restricted to persons.
Reply SearchPersons(SandboxState& state, const HttpRequest& request,
                    const Caller& caller) {
  const std::optional<std::string> term_param = request.Param("term");
  if (!term_param.has_value()) {
    return Invalid("Validation failed: term: Parameter 'term' is required");
  }
  bool exact = false;
  if (const auto param = request.Param("exact_match"); param.has_value()) {
    if (*param == "true" || *param == "1") {
      exact = true;
    } else if (*param != "false" && *param != "0") {
      return Invalid("Validation failed: exact_match: must be a boolean");
    }
  }
  const std::string term = absl::AsciiStrToLower(*term_param);
  if (term.size() < (exact ? 1u : 2u)) {
    return Invalid(absl::StrCat("Validation failed: term: must be at least ",
                                exact ? 1 : 2, " characters"));
  }
  static const auto* const kFields = new std::set<std::string>{
      "custom_fields", "email", "notes", "phone", "name"};
  std::set<std::string> fields = *kFields;
  if (const auto param = request.Param("fields"); param.has_value()) {
    fields.clear();
    for (absl::string_view field : absl::StrSplit(*param, ',')) {
      const std::string name(field);
      if (kFields->count(name) == 0) {
        return Invalid(absl::StrCat("Validation failed: fields: '", name,
                                    "' is not a searchable person field"));
      }
      fields.insert(name);
    }
  }
  int64_t limit = 100;
  if (const auto param = request.Param("limit"); param.has_value()) {
    const std::optional<int64_t> parsed = ParseInt64(*param);
    if (!parsed.has_value() || *parsed < 1 || *parsed > 500) {
      return Invalid("Validation failed: limit: must be between 1 and 500");
    }
    limit = *parsed;
  }

  json items = json::array();
  for (const auto& [id, person] : state.persons) {
    if (person.company_id != caller.company_id || person.is_deleted) continue;
    // The sandbox holds no organizations, so a filter on one finds nobody.
    if (request.Param("organization_id").has_value()) continue;
    bool hit = false;
    if (fields.count("name")) hit |= Matches(person.name, term, exact);
    if (fields.count("email")) {
      for (const ContactValue& email : person.emails) {
        hit |= Matches(email.value, term, exact);
      }
    }
    if (fields.count("phone")) {
      for (const ContactValue& phone : person.phones) {
        hit |= Matches(phone.value, term, exact);
      }
    }
    if (fields.count("notes") && person.notes.has_value()) {
      hit |= Matches(*person.notes, term, exact);
    }
    if (fields.count("custom_fields")) {
      for (const auto& [key, value] : person.custom_fields.items()) {
        if (value.is_string()) {
          hit |= Matches(value.get<std::string>(), term, exact);
        }
      }
    }
    if (!hit) continue;
    items.push_back({{"result_score", exact ? 1.0 : 0.5},
                     {"item", PersonSearchItemJson(person)}});
    if (static_cast<int64_t>(items.size()) >= limit) break;
  }
  json body = SuccessEnvelope({{"items", std::move(items)}});
  body["additional_data"] = {{"next_cursor", nullptr}};
  return JsonReply(200, body);
}

// --- Leads (v1) -----------------------------------------------------------

std::string LeadIdOf(const HttpRequest& request) {
  return PathSegments(request.path)[4];
}

Reply CreateLead(SandboxState& state, const HttpRequest& request,
                 const Caller& caller) {
  json body;
  Reply error;
  if (!ParseJsonBody(request, &body, &error)) return error;

  LeadRecord lead;
  lead.id = NewUuidV4(state.gen);
  lead.company_id = caller.company_id;
  lead.owner_id = caller.user_id;
  lead.creator_id = caller.user_id;
  absl::Status status =
      ApplyLeadBody(body, WriteKind::kCreate,
                    state.ContextFor(caller.company_id), state.Now(), &lead);
  if (!status.ok()) return Invalid(std::string(status.message()));

  state.leads.push_back(std::move(lead));
  return JsonReply(201, SuccessEnvelope(LeadJson(state.leads.back())));
}

Reply GetLead(SandboxState& state, const HttpRequest& request,
              const Caller& caller) {
  const LeadRecord* lead = state.FindLead(caller.company_id, LeadIdOf(request));
  if (lead == nullptr || lead->is_deleted) return LeadNotFound();
  return JsonReply(200, SuccessEnvelope(LeadJson(*lead)));
}

Reply UpdateLead(SandboxState& state, const HttpRequest& request,
                 const Caller& caller) {
  LeadRecord* lead = state.FindLead(caller.company_id, LeadIdOf(request));
  // Since 2025-07-15 archived leads cannot be edited through the API.
  if (lead == nullptr || lead->is_deleted || lead->is_archived) {
    return LeadNotFound();
  }
  json body;
  Reply error;
  if (!ParseJsonBody(request, &body, &error)) return error;

  absl::Status status =
      ApplyLeadBody(body, WriteKind::kUpdate,
                    state.ContextFor(caller.company_id), state.Now(), lead);
  if (!status.ok()) return Invalid(std::string(status.message()));
  return JsonReply(200, SuccessEnvelope(LeadJson(*lead)));
}

Reply DeleteLead(SandboxState& state, const HttpRequest& request,
                 const Caller& caller) {
  LeadRecord* lead = state.FindLead(caller.company_id, LeadIdOf(request));
  if (lead == nullptr || lead->is_deleted) return LeadNotFound();

  lead->is_deleted = true;
  lead->update_time = state.Now();
  return JsonReply(200, SuccessEnvelope({{"id", lead->id}}));
}

// GET /api/v1/leads: not archived, not deleted, oldest first.
Reply ListLeads(SandboxState& state, const HttpRequest& request,
                const Caller& caller) {
  std::optional<int64_t> filters[3];
  const char* const kFilterNames[3] = {"person_id", "owner_id",
                                       "organization_id"};
  for (int i = 0; i < 3; ++i) {
    if (const auto param = request.Param(kFilterNames[i]); param.has_value()) {
      filters[i] = ParseInt64(*param);
      if (!filters[i].has_value()) {
        return Invalid(absl::StrCat("Validation failed: ", kFilterNames[i],
                                    ": must be an integer"));
      }
    }
  }
  int64_t limit = 100;
  int64_t start = 0;
  if (const auto param = request.Param("limit"); param.has_value()) {
    const std::optional<int64_t> parsed = ParseInt64(*param);
    if (!parsed.has_value() || *parsed < 1 || *parsed > 500) {
      return Invalid("Validation failed: limit: must be between 1 and 500");
    }
    limit = *parsed;
  }
  if (const auto param = request.Param("start"); param.has_value()) {
    const std::optional<int64_t> parsed = ParseInt64(*param);
    if (!parsed.has_value() || *parsed < 0) {
      return Invalid(
          "Validation failed: start: must be a non-negative "
          "integer");
    }
    start = *parsed;
  }

  std::vector<const LeadRecord*> matching;
  for (const LeadRecord& lead : state.leads) {
    if (lead.company_id != caller.company_id || lead.is_deleted ||
        lead.is_archived) {
      continue;
    }
    if (filters[0].has_value() && lead.person_id != filters[0]) continue;
    if (filters[1].has_value() && lead.owner_id != *filters[1]) continue;
    if (filters[2].has_value() && lead.organization_id != filters[2]) continue;
    matching.push_back(&lead);
  }
  json data = json::array();
  for (int64_t i = start;
       i < static_cast<int64_t>(matching.size()) && i < start + limit; ++i) {
    data.push_back(LeadJson(*matching[i]));
  }
  json body = SuccessEnvelope(std::move(data));
  body["additional_data"] = {
      {"start", start},
      {"limit", limit},
      {"more_items_in_collection",
       start + limit < static_cast<int64_t>(matching.size())}};
  return JsonReply(200, body);
}

// --- Deal fields (v2) -----------------------------------------------------

// GET /api/v2/dealFields/{field_code}, for the one field the sandbox models:
// the system "Source channel" field, whose options are the company's lead
// channels.
Reply GetDealField(SandboxState& state, const HttpRequest& request,
                   const Caller& caller) {
  static const auto* const kIncludeFields = new std::set<std::string>{
      "ui_visibility",
      "important_fields",
      "required_fields",
      "ui_visibility,important_fields",
      "ui_visibility,required_fields",
      "important_fields,required_fields",
      "ui_visibility,important_fields,required_fields"};
  std::string include;
  if (const auto param = request.Param("include_fields"); param.has_value()) {
    if (kIncludeFields->count(*param) == 0) {
      return Invalid(
          "Validation failed: include_fields: must be one of the documented "
          "combinations of ui_visibility, important_fields and "
          "required_fields");
    }
    include = *param;
  }
  if (PathSegments(request.path)[4] != "channel") return EntityNotFound();
  const CompanyState* company = state.FindCompany(caller.company_id);
  if (company == nullptr) return EntityNotFound();

  json options = json::array();
  for (const auto& [id, label] : company->channel_options) {
    // The spec types option ids as strings for built-in fields.
    options.push_back({{"id", absl::StrCat(id)},
                       {"label", label},
                       {"color", nullptr},
                       {"update_time", nullptr},
                       {"add_time", nullptr}});
  }
  json data = {{"field_name", "Source channel"},
               {"field_code", "channel"},
               {"field_type", "enum"},
               {"options", std::move(options)},
               {"subfields", nullptr},
               {"is_custom_field", false},
               {"is_optional_response_field", false}};
  const std::vector<std::string> namespaces = absl::StrSplit(include, ',');
  for (const std::string& name : namespaces) {
    if (name == "ui_visibility") {
      data[name] = {{"add_visible_flag", true},
                    {"details_visible_flag", true},
                    {"projects_detail_visible_flag", false},
                    {"show_in_pipelines",
                     {{"show_in_all", true}, {"pipeline_ids", json::array()}}}};
    } else if (name == "important_fields") {
      data[name] = {{"enabled", false}, {"stage_ids", json::array()}};
    } else if (name == "required_fields") {
      data[name] = {{"enabled", false},
                    {"stage_ids", json::array()},
                    {"statuses", json::object()}};
    }
  }
  return JsonReply(200, SuccessEnvelope(std::move(data)));
}

// Finds the endpoint for the request; nullopt answers 404.
std::optional<Endpoint> FindEndpoint(const HttpRequest& request) {
  const std::vector<std::string> parts = PathSegments(request.path);
  // parts[0] is the empty string before the leading '/'.
  const std::string& method = request.method;
  if (parts.size() < 4 || parts[1] != "api") return std::nullopt;
  const std::string& version = parts[2];
  const std::string& resource = parts[3];
  if (version == "v1" && resource == "users") {
    if (parts.size() == 4 && method == "GET")
      return Endpoint{20, false, ListUsers};
    if (parts.size() == 5 && parts[4] == "me" && method == "GET") {
      return Endpoint{2, false, GetCurrentUser};
    }
  } else if (version == "v2" && resource == "persons") {
    if (parts.size() == 4 && method == "POST") {
      return Endpoint{5, false, CreatePerson};
    }
    if (parts.size() == 5 && parts[4] == "search") {
      if (method == "GET") return Endpoint{20, true, SearchPersons};
    } else if (parts.size() == 5 && !parts[4].empty()) {
      if (method == "GET") return Endpoint{1, false, GetPerson};
      if (method == "PATCH") return Endpoint{5, false, UpdatePerson};
      if (method == "DELETE") return Endpoint{3, false, DeletePerson};
    }
  } else if (version == "v1" && resource == "leads") {
    if (parts.size() == 4 && method == "POST") {
      return Endpoint{10, false, CreateLead};
    }
    if (parts.size() == 4 && method == "GET") {
      return Endpoint{20, false, ListLeads};
    }
    if (parts.size() == 5 && !parts[4].empty()) {
      if (method == "GET") return Endpoint{2, false, GetLead};
      if (method == "PATCH") return Endpoint{10, false, UpdateLead};
      if (method == "DELETE") return Endpoint{6, false, DeleteLead};
    }
  } else if (version == "v2" && resource == "dealFields") {
    if (parts.size() == 5 && !parts[4].empty() && method == "GET") {
      return Endpoint{1, false, GetDealField, /*needs_deal_scope=*/true};
    }
  }
  return std::nullopt;
}

void WriteRateHeaders(int limit, const RollingWindow& window, absl::Time now,
                      bool exhausted, Reply* reply) {
  const int64_t used = static_cast<int64_t>(window.admitted.size());
  const int64_t remaining = exhausted ? 0 : std::max<int64_t>(0, limit - used);
  int64_t reset = window.SecondsUntilSlot(now);
  if (exhausted) reset = std::max<int64_t>(reset, 1);
  reply->SetHeader("x-ratelimit-limit", absl::StrCat(limit));
  reply->SetHeader("x-ratelimit-remaining", absl::StrCat(remaining));
  reply->SetHeader("x-ratelimit-reset", absl::StrCat(reset));
}

}  // namespace

int64_t CompanyOfRequest(SandboxState& state, const HttpRequest& request) {
  const std::optional<std::string> token = BearerToken(request);
  if (!token.has_value()) return 0;
  const AccessTokenState* access = ValidAccessToken(state, *token);
  return access == nullptr ? 0 : access->company_id;
}

void SetRateLimitHeaders(SandboxState& state, const HttpRequest& request,
                         bool exhausted, Reply* reply) {
  const absl::Time now = state.Now();
  const std::string token = BearerToken(request).value_or("");
  const std::optional<Endpoint> endpoint = FindEndpoint(request);
  const bool search = endpoint.has_value() && endpoint->is_search;
  RollingWindow& window =
      search ? state.search_windows[token] : state.burst_windows[token];
  window.Expire(now);
  WriteRateHeaders(
      search ? state.options.search_burst_limit : state.options.burst_limit,
      window, now, exhausted, reply);
}

Reply HandleApi(SandboxState& state, const HttpRequest& request) {
  const absl::Time now = state.Now();
  const std::optional<std::string> token = BearerToken(request);
  if (!token.has_value()) {
    Reply reply = Unauthorized("unauthorized access");
    SetRateLimitHeaders(state, request, /*exhausted=*/false, &reply);
    return reply;
  }
  const AccessTokenState* access = ValidAccessToken(state, *token);
  if (access == nullptr) {
    Reply reply = Unauthorized("Invalid token: access_token is invalid");
    SetRateLimitHeaders(state, request, /*exhausted=*/false, &reply);
    return reply;
  }
  const Caller caller{*token, access->company_id, access->user_id};

  // Burst limits per token over a rolling window; search has its own,
  // tighter one. Rejected requests do not take a slot.
  const std::optional<Endpoint> endpoint = FindEndpoint(request);
  const bool search = endpoint.has_value() && endpoint->is_search;
  RollingWindow& burst = state.burst_windows[caller.token];
  burst.Expire(now);
  RollingWindow* search_window = nullptr;
  if (search) {
    search_window = &state.search_windows[caller.token];
    search_window->Expire(now);
  }
  const bool burst_full =
      static_cast<int64_t>(burst.admitted.size()) >= state.options.burst_limit;
  const bool search_full =
      search_window != nullptr &&
      static_cast<int64_t>(search_window->admitted.size()) >=
          state.options.search_burst_limit;
  if (burst_full || search_full) {
    Reply reply = ErrorReply(429, kOverLimit);
    reply.company_id = caller.company_id;
    if (search_full) {
      WriteRateHeaders(state.options.search_burst_limit, *search_window, now,
                       /*exhausted=*/true, &reply);
    } else {
      WriteRateHeaders(state.options.burst_limit, burst, now,
                       /*exhausted=*/true, &reply);
    }
    return reply;
  }
  burst.admitted.push_back(now);
  if (search_window != nullptr) search_window->admitted.push_back(now);

  // The daily budget is per company, whichever user's token spends it.
  CompanyState* company = state.FindCompany(caller.company_id);
  Reply reply;
  if (company != nullptr &&
      company->tokens_spent >= state.options.daily_token_budget) {
    reply = ErrorReply(429, kOverLimit);
  } else if (!endpoint.has_value()) {
    reply = ErrorReply(404, "Unknown method .");
  } else if (endpoint->needs_deal_scope && !state.deal_scope) {
    // Refused before the endpoint runs, so it costs no tokens.
    reply = ScopeMismatch();
  } else {
    if (company != nullptr) company->tokens_spent += endpoint->token_cost;
    reply = endpoint->handler(state, request, caller);
  }
  reply.company_id = caller.company_id;
  if (search_window != nullptr) {
    WriteRateHeaders(state.options.search_burst_limit, *search_window, now,
                     /*exhausted=*/false, &reply);
  } else {
    WriteRateHeaders(state.options.burst_limit, burst, now,
                     /*exhausted=*/false, &reply);
  }
  return reply;
}

}  // namespace wave::pipedrive::sandbox::internal
