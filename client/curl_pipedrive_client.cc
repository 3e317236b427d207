#include "client/curl_pipedrive_client.h"

#include "client/http_status.h"
#include "client/http_transport.h"
#include "client/pipedrive_client.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using Json = nlohmann::json;

constexpr char kTokenPath[] = "/oauth/token";
constexpr char kRevokePath[] = "/oauth/revoke";
constexpr char kFormContentType[] = "application/x-www-form-urlencoded";
constexpr char kJsonContentType[] = "application/json";

// Percent-encodes everything but RFC 3986 unreserved characters, which is
// right both for form values and for a single path segment.
std::string PercentEncode(const std::string& value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    }
  }
  return out;
}

// "https://acme.pipedrive.com/" -> "https://acme.pipedrive.com"; nullopt
// for anything that is not a plain http(s) base URL.
std::optional<std::string> NormalizeBaseUrl(const std::string& url) {
  const std::string lower = absl::AsciiStrToLower(url);
  std::size_t host_start = 0;
  if (absl::StartsWith(lower, "https://")) {
    host_start = 8;
  } else if (absl::StartsWith(lower, "http://")) {
    host_start = 7;
  } else {
    return std::nullopt;
  }
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '?' || c == '#') {
      return std::nullopt;
    }
  }

  std::string base = url;
  while (base.size() > host_start && base.back() == '/') base.pop_back();
  if (base.size() == host_start || base[host_start] == '/') {
    return std::nullopt;
  }
  return base;
}

// The JSON accessors below never throw: each checks the type first. A
// missing key and JSON null both read as "absent"; any other type mismatch
// makes the whole response malformed.

bool ReadInt(const Json& object, const char* key, std::optional<int64_t>* out) {
  *out = std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (it->is_number_unsigned()) {
    const auto value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    *out = static_cast<int64_t>(value);
    return true;
  }
  if (!it->is_number_integer()) return false;
  *out = it->get<int64_t>();
  return true;
}

bool ReadRequiredInt(const Json& object, const char* key, int64_t* out) {
  std::optional<int64_t> value;
  if (!ReadInt(object, key, &value) || !value.has_value()) return false;
  *out = *value;
  return true;
}

bool ReadString(const Json& object, const char* key,
                std::optional<std::string>* out) {
  *out = std::nullopt;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

bool ReadString(const Json& object, const char* key, std::string* out) {
  std::optional<std::string> value;
  if (!ReadString(object, key, &value)) return false;
  *out = value.value_or("");
  return true;
}

bool ReadBool(const Json& object, const char* key, bool* out) {
  *out = false;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

// The `data` member of Pipedrive's {"success": true, "data": ...} envelope.
std::optional<Json> ParseEnvelope(const std::string& body) {
  Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return std::nullopt;
  auto success = root.find("success");
  if (success != root.end() &&
      !(success->is_boolean() && success->get<bool>())) {
    return std::nullopt;
  }
  auto data = root.find("data");
  if (data == root.end()) return std::nullopt;
  return std::move(*data);
}

bool ParseContactPoints(const Json& object, const char* key,
                        std::vector<ContactPoint>* out) {
  out->clear();
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const Json& item : *it) {
    if (!item.is_object()) return false;
    ContactPoint point;
    std::optional<std::string> value;
    if (!ReadString(item, "value", &value) || !value.has_value() ||
        !ReadString(item, "label", &point.label) ||
        !ReadBool(item, "primary", &point.primary)) {
      return false;
    }
    point.value = std::move(*value);
    out->push_back(std::move(point));
  }
  return true;
}

std::optional<Person> ParsePerson(const Json& data) {
  Person person;
  if (!data.is_object() || !ReadRequiredInt(data, "id", &person.id) ||
      !ReadString(data, "name", &person.name) ||
      !ParseContactPoints(data, "emails", &person.emails) ||
      !ParseContactPoints(data, "phones", &person.phones) ||
      !ReadInt(data, "owner_id", &person.owner_id) ||
      !ReadBool(data, "is_deleted", &person.is_deleted)) {
    return std::nullopt;
  }
  return person;
}

std::optional<Lead> ParseLead(const Json& data) {
  Lead lead;
  std::optional<std::string> id;
  if (!data.is_object() || !ReadString(data, "id", &id) || !id.has_value() ||
      id->empty() || !ReadString(data, "title", &lead.title) ||
      !ReadInt(data, "person_id", &lead.person_id) ||
      !ReadInt(data, "owner_id", &lead.owner_id) ||
      !ReadString(data, "origin_id", &lead.origin_id) ||
      !ReadString(data, "channel_id", &lead.channel_id) ||
      !ReadInt(data, "channel", &lead.channel) ||
      !ReadBool(data, "is_archived", &lead.is_archived)) {
    return std::nullopt;
  }
  lead.id = std::move(*id);
  return lead;
}

std::optional<CurrentUser> ParseCurrentUser(const Json& data) {
  CurrentUser user;
  if (!data.is_object() || !ReadRequiredInt(data, "id", &user.id) ||
      !ReadRequiredInt(data, "company_id", &user.company_id) ||
      !ReadString(data, "email", &user.email) ||
      !ReadString(data, "company_name", &user.company_name) ||
      !ReadString(data, "company_domain", &user.company_domain)) {
    return std::nullopt;
  }
  return user;
}

std::optional<std::vector<User>> ParseUsers(const Json& data) {
  std::vector<User> users;
  if (data.is_null()) return users;
  if (!data.is_array()) return std::nullopt;
  for (const Json& item : data) {
    User user;
    bool active_flag = false;
    bool is_deleted = false;
    if (!item.is_object() || !ReadRequiredInt(item, "id", &user.id) ||
        !ReadString(item, "email", &user.email) ||
        !ReadBool(item, "active_flag", &active_flag) ||
        !ReadBool(item, "is_deleted", &is_deleted)) {
      return std::nullopt;
    }
    // A missing flag reads as false: never pick an owner we are unsure of.
    user.active = active_flag && !is_deleted;
    users.push_back(std::move(user));
  }
  return users;
}

// An option id of GET /api/v2/dealFields/{field_code}: the spec types it
// as an integer for custom fields and a string for built-in ones (such as
// `channel`), whose value a lead's integer `channel` must still carry.
bool ReadOptionId(const Json& option, int64_t* out) {
  auto it = option.find("id");
  if (it == option.end()) return false;
  if (it->is_string()) {
    const std::string text = it->get<std::string>();
    // SimpleAtoi alone would also take " 73" or "+73".
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return false;
    }
    return absl::SimpleAtoi(text, out);
  }
  return ReadRequiredInt(option, "id", out);
}

std::optional<std::vector<FieldOption>> ParseFieldOptions(const Json& data) {
  std::vector<FieldOption> options;
  if (!data.is_object()) return std::nullopt;
  // Null (and, the key not being required, absent) for a field that is not
  // an enum or set.
  auto it = data.find("options");
  if (it == data.end() || it->is_null()) return options;
  if (!it->is_array()) return std::nullopt;
  for (const Json& item : *it) {
    FieldOption option;
    if (!item.is_object() || !ReadOptionId(item, &option.id) ||
        !ReadString(item, "label", &option.label)) {
      return std::nullopt;
    }
    options.push_back(std::move(option));
  }
  return options;
}

// `data` of GET /api/v2/persons/search: {"items": [{"item": {...}}]}.
std::optional<std::vector<PersonMatch>> ParsePersonMatches(const Json& data) {
  if (!data.is_object()) return std::nullopt;
  auto items = data.find("items");
  if (items == data.end() || items->is_null()) {
    return std::vector<PersonMatch>();
  }
  if (!items->is_array()) return std::nullopt;
  std::vector<PersonMatch> matches;
  for (const Json& entry : *items) {
    if (!entry.is_object()) return std::nullopt;
    auto item = entry.find("item");
    if (item == entry.end() || !item->is_object()) return std::nullopt;
    PersonMatch match;
    if (!ReadRequiredInt(*item, "id", &match.id)) return std::nullopt;
    if (!ReadString(*item, "name", &match.name)) return std::nullopt;
    for (const char* key : {"emails", "phones"}) {
      auto values = item->find(key);
      if (values == item->end() || values->is_null()) continue;
      if (!values->is_array()) return std::nullopt;
      auto& out = std::string(key) == "emails" ? match.emails : match.phones;
      for (const Json& value : *values) {
        if (!value.is_string()) return std::nullopt;
        out.push_back(value.get<std::string>());
      }
    }
    matches.push_back(std::move(match));
  }
  return matches;
}

Json ContactPointsJson(const std::vector<ContactPoint>& points) {
  Json array = Json::array();
  for (const ContactPoint& point : points) {
    Json item = {{"value", point.value}, {"primary", point.primary}};
    // Pipedrive defaults a missing label to "work".
    if (!point.label.empty()) item["label"] = point.label;
    array.push_back(std::move(item));
  }
  return array;
}

// Invalid UTF-8 (from a contact's data) is replaced instead of throwing.
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string PersonJson(const PersonWrite& person) {
  Json body = Json::object();
  if (person.name.has_value()) body["name"] = *person.name;
  if (person.owner_id.has_value()) body["owner_id"] = *person.owner_id;
  if (person.emails.has_value()) {
    body["emails"] = ContactPointsJson(*person.emails);
  }
  if (person.phones.has_value()) {
    body["phones"] = ContactPointsJson(*person.phones);
  }
  return Dump(body);
}

std::string LeadJson(const LeadWrite& lead, bool create) {
  Json body = Json::object();
  if (lead.title.has_value()) body["title"] = *lead.title;
  if (lead.person_id.has_value()) body["person_id"] = *lead.person_id;
  if (lead.owner_id.has_value()) body["owner_id"] = *lead.owner_id;
  // Pipedrive fixes origin_id at creation; PATCH does not accept it.
  if (create && lead.origin_id.has_value()) {
    body["origin_id"] = *lead.origin_id;
  }
  if (lead.channel.has_value()) body["channel"] = *lead.channel;
  if (lead.channel_id.has_value()) body["channel_id"] = *lead.channel_id;
  return Dump(body);
}

absl::Status Malformed(const char* method, const char* path_template) {
  return absl::InternalError(absl::StrCat("pipedrive: malformed response to ",
                                          method, " ", path_template));
}

absl::Status MalformedToken() {
  return absl::InternalError("pipedrive: malformed token response");
}

// Runs `body`, turning any exception (nlohmann's, bad_alloc) into INTERNAL
// so that none escapes the client.
template <typename Fn>
auto Guarded(const char* what, Fn&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception&) {
    return absl::InternalError(
        absl::StrCat("pipedrive: unexpected failure in ", what));
  }
}

int64_t MillisSince(absl::Time start) {
  return absl::ToInt64Milliseconds(absl::Now() - start);
}

}  // namespace

CurlPipedriveClient::CurlPipedriveClient(
    std::shared_ptr<HttpTransport> transport,
    const PipedriveClientOptions& options)
    : transport_(std::move(transport)),
      oauth_base_url_(
          NormalizeBaseUrl(options.oauth_base_url).value_or(std::string())),
      has_client_credentials_(!options.client_id.empty() &&
                              !options.client_secret.empty()),
      basic_authorization_(absl::StrCat(
          "Basic ", absl::Base64Escape(absl::StrCat(options.client_id, ":",
                                                    options.client_secret)))) {}

absl::StatusOr<HttpResponse> CurlPipedriveClient::CallOAuth(
    const char* path, const std::string& form) {
  if (oauth_base_url_.empty()) {
    return absl::FailedPreconditionError(
        "pipedrive: oauth_base_url must be an http(s) URL");
  }
  if (!has_client_credentials_) {
    return absl::FailedPreconditionError(
        "pipedrive: the OAuth client_id and client_secret are not configured");
  }

  HttpRequest request;
  request.method = "POST";
  request.url = absl::StrCat(oauth_base_url_, path);
  request.headers = {{"Authorization", basic_authorization_},
                     {"Content-Type", kFormContentType},
                     {"Accept", kJsonContentType}};
  request.body = form;

  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response = transport_->Send(request);
  if (!response.ok()) {
    spdlog::debug("pipedrive POST {}: {} after {} ms", path,
                  absl::StatusCodeToString(response.status().code()),
                  MillisSince(start));
    return absl::Status(response.status().code(),
                        absl::StrCat("pipedrive: POST ", path, ": ",
                                     response.status().message()));
  }
  spdlog::debug("pipedrive POST {}: HTTP {} in {} ms", path, response->status,
                MillisSince(start));

  if (absl::Status status = StatusFromTokenEndpoint(*response); !status.ok()) {
    return status;
  }
  return response;
}

absl::StatusOr<TokenSet> CurlPipedriveClient::RequestTokens(
    const std::string& form, const std::string& fallback_refresh_token) {
  absl::StatusOr<HttpResponse> response = CallOAuth(kTokenPath, form);
  if (!response.ok()) return response.status();

  return Guarded("the token response", [&]() -> absl::StatusOr<TokenSet> {
    const Json root =
        Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object()) return MalformedToken();

    TokenSet tokens;
    std::optional<std::string> api_domain;
    std::optional<std::string> refresh_token;
    if (!ReadString(root, "access_token", &tokens.access_token) ||
        tokens.access_token.empty() ||
        !ReadString(root, "api_domain", &api_domain) ||
        !api_domain.has_value() ||
        !ReadString(root, "refresh_token", &refresh_token) ||
        !ReadString(root, "scope", &tokens.scope)) {
      return MalformedToken();
    }
    std::optional<std::string> base = NormalizeBaseUrl(*api_domain);
    if (!base.has_value()) return MalformedToken();
    tokens.api_domain = std::move(*base);

    // Pipedrive returns the same refresh token on refresh; should one ever
    // be left out, the one just used stays valid.
    tokens.refresh_token = refresh_token.value_or("");
    if (tokens.refresh_token.empty()) {
      tokens.refresh_token = fallback_refresh_token;
    }
    if (tokens.refresh_token.empty()) return MalformedToken();

    // Documented as an integer; a numeric string costs nothing to accept.
    auto expires_in = root.find("expires_in");
    int64_t seconds = 0;
    if (expires_in == root.end()) return MalformedToken();
    if (expires_in->is_number_integer()) {
      seconds = expires_in->get<int64_t>();
    } else if (!expires_in->is_string() ||
               !absl::SimpleAtoi(expires_in->get<std::string>(), &seconds)) {
      return MalformedToken();
    }
    if (seconds <= 0) return MalformedToken();
    tokens.expires_at = absl::Now() + absl::Seconds(seconds);
    return tokens;
  });
}

absl::StatusOr<TokenSet> CurlPipedriveClient::ExchangeCode(
    const std::string& code, const std::string& redirect_uri) {
  if (code.empty() || redirect_uri.empty()) {
    return absl::InvalidArgumentError(
        "pipedrive: ExchangeCode needs a code and a redirect_uri");
  }
  return RequestTokens(
      absl::StrCat("grant_type=authorization_code&code=", PercentEncode(code),
                   "&redirect_uri=", PercentEncode(redirect_uri)),
      /*fallback_refresh_token=*/"");
}

absl::StatusOr<TokenSet> CurlPipedriveClient::RefreshToken(
    const std::string& refresh_token) {
  if (refresh_token.empty()) {
    return absl::InvalidArgumentError(
        "pipedrive: RefreshToken needs a refresh token");
  }
  return RequestTokens(absl::StrCat("grant_type=refresh_token&refresh_token=",
                                    PercentEncode(refresh_token)),
                       refresh_token);
}

absl::Status CurlPipedriveClient::RevokeRefreshToken(
    const std::string& refresh_token) {
  if (refresh_token.empty()) {
    return absl::InvalidArgumentError(
        "pipedrive: RevokeRefreshToken needs a refresh token");
  }
  // RFC 7009: 200 whether or not the token was valid; the body is unused.
  return CallOAuth(kRevokePath,
                   absl::StrCat("token=", PercentEncode(refresh_token),
                                "&token_type_hint=refresh_token"))
      .status();
}

absl::StatusOr<HttpResponse> CurlPipedriveClient::CallApi(
    const Credentials& creds, const ApiCall& call) {
  std::optional<std::string> base = NormalizeBaseUrl(creds.api_domain);
  if (!base.has_value()) {
    return absl::InvalidArgumentError(
        "pipedrive: api_domain must be an http(s) URL");
  }
  if (creds.access_token.empty()) {
    return absl::InvalidArgumentError(
        "pipedrive: credentials carry no access token");
  }

  HttpRequest request;
  request.method = call.method;
  request.url = absl::StrCat(*base, call.path);
  request.background = creds.background;
  request.rate_key = creds.rate_key;
  request.headers = {{"Authorization", "Bearer " + creds.access_token},
                     {"Accept", kJsonContentType}};
  if (!call.body.empty()) {
    request.headers.emplace_back("Content-Type", kJsonContentType);
    request.body = call.body;
  }

  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response = transport_->Send(request);
  if (!response.ok()) {
    spdlog::debug(
        "pipedrive {} {}: {} after {} ms", call.method, call.path_template,
        absl::StatusCodeToString(response.status().code()), MillisSince(start));
    return absl::Status(
        response.status().code(),
        absl::StrCat("pipedrive: ", call.method, " ", call.path_template, ": ",
                     response.status().message()));
  }
  spdlog::debug("pipedrive {} {}: HTTP {} in {} ms", call.method,
                call.path_template, response->status, MillisSince(start));

  if (absl::Status status = StatusFromHttp(*response); !status.ok()) {
    return status;
  }
  return response;
}

absl::StatusOr<CurrentUser> CurlPipedriveClient::GetCurrentUser(
    const Credentials& creds) {
  const ApiCall call{"GET", "/api/v1/users/me", "/api/v1/users/me", ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();

  return Guarded(call.path_template, [&]() -> absl::StatusOr<CurrentUser> {
    std::optional<Json> data = ParseEnvelope(response->body);
    if (!data.has_value()) return Malformed(call.method, call.path_template);
    std::optional<CurrentUser> user = ParseCurrentUser(*data);
    if (!user.has_value()) return Malformed(call.method, call.path_template);
    return *std::move(user);
  });
}

absl::StatusOr<std::vector<User>> CurlPipedriveClient::ListUsers(
    const Credentials& creds) {
  const ApiCall call{"GET", "/api/v1/users", "/api/v1/users", ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();

  return Guarded(call.path_template,
                 [&]() -> absl::StatusOr<std::vector<User>> {
                   std::optional<Json> data = ParseEnvelope(response->body);
                   if (!data.has_value()) {
                     return Malformed(call.method, call.path_template);
                   }
                   std::optional<std::vector<User>> users = ParseUsers(*data);
                   if (!users.has_value()) {
                     return Malformed(call.method, call.path_template);
                   }
                   return *std::move(users);
                 });
}

namespace {

absl::StatusOr<Person> PersonFromResponse(const HttpResponse& response,
                                          const char* method,
                                          const char* path_template) {
  return Guarded(path_template, [&]() -> absl::StatusOr<Person> {
    std::optional<Json> data = ParseEnvelope(response.body);
    if (!data.has_value()) return Malformed(method, path_template);
    std::optional<Person> person = ParsePerson(*data);
    if (!person.has_value()) return Malformed(method, path_template);
    return *std::move(person);
  });
}

absl::StatusOr<Lead> LeadFromResponse(const HttpResponse& response,
                                      const char* method,
                                      const char* path_template) {
  return Guarded(path_template, [&]() -> absl::StatusOr<Lead> {
    std::optional<Json> data = ParseEnvelope(response.body);
    if (!data.has_value()) return Malformed(method, path_template);
    std::optional<Lead> lead = ParseLead(*data);
    if (!lead.has_value()) return Malformed(method, path_template);
    return *std::move(lead);
  });
}

// A delete answers {"success": true, "data": {"id": ...}}; only the
// envelope is checked, and an empty body (as a 204 would have) is accepted.
absl::Status CheckDeleteResponse(const HttpResponse& response,
                                 const char* path_template) {
  if (absl::StripAsciiWhitespace(response.body).empty()) {
    return absl::OkStatus();
  }
  return Guarded(path_template, [&]() -> absl::Status {
    if (!ParseEnvelope(response.body).has_value()) {
      return Malformed("DELETE", path_template);
    }
    return absl::OkStatus();
  });
}

absl::Status InvalidPersonId() {
  return absl::InvalidArgumentError("pipedrive: person id must be positive");
}

absl::Status InvalidLeadId() {
  return absl::InvalidArgumentError("pipedrive: lead id must not be empty");
}

}  // namespace

absl::StatusOr<Person> CurlPipedriveClient::CreatePerson(
    const Credentials& creds, const PersonWrite& person) {
  if (!person.name.has_value() || person.name->empty()) {
    return absl::InvalidArgumentError("pipedrive: a new person needs a name");
  }

  const ApiCall call{"POST", "/api/v2/persons", "/api/v2/persons",
                     PersonJson(person)};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return PersonFromResponse(*response, call.method, call.path_template);
}

absl::StatusOr<Person> CurlPipedriveClient::UpdatePerson(
    const Credentials& creds, int64_t id, const PersonWrite& person) {
  if (id <= 0) return InvalidPersonId();

  const ApiCall call{"PATCH", "/api/v2/persons/{id}",
                     absl::StrCat("/api/v2/persons/", id), PersonJson(person)};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return PersonFromResponse(*response, call.method, call.path_template);
}

absl::StatusOr<Person> CurlPipedriveClient::GetPerson(const Credentials& creds,
                                                      int64_t id) {
  if (id <= 0) return InvalidPersonId();

  const ApiCall call{"GET", "/api/v2/persons/{id}",
                     absl::StrCat("/api/v2/persons/", id), ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return PersonFromResponse(*response, call.method, call.path_template);
}

absl::Status CurlPipedriveClient::DeletePerson(const Credentials& creds,
                                               int64_t id) {
  if (id <= 0) return InvalidPersonId();

  const ApiCall call{"DELETE", "/api/v2/persons/{id}",
                     absl::StrCat("/api/v2/persons/", id), ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return CheckDeleteResponse(*response, call.path_template);
}

absl::StatusOr<Lead> CurlPipedriveClient::CreateLead(const Credentials& creds,
                                                     const LeadWrite& lead) {
  // Pipedrive requires a title and a person or organization; this client
  // links leads to persons only.
  if (!lead.title.has_value() || lead.title->empty() ||
      !lead.person_id.has_value()) {
    return absl::InvalidArgumentError(
        "pipedrive: a new lead needs a title and a person_id");
  }

  const ApiCall call{"POST", "/api/v1/leads", "/api/v1/leads",
                     LeadJson(lead, /*create=*/true)};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return LeadFromResponse(*response, call.method, call.path_template);
}

absl::StatusOr<Lead> CurlPipedriveClient::UpdateLead(const Credentials& creds,
                                                     const std::string& id,
                                                     const LeadWrite& lead) {
  if (id.empty()) return InvalidLeadId();

  const ApiCall call{"PATCH", "/api/v1/leads/{id}",
                     absl::StrCat("/api/v1/leads/", PercentEncode(id)),
                     LeadJson(lead, /*create=*/false)};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return LeadFromResponse(*response, call.method, call.path_template);
}

absl::StatusOr<Lead> CurlPipedriveClient::GetLead(const Credentials& creds,
                                                  const std::string& id) {
  if (id.empty()) return InvalidLeadId();

  const ApiCall call{"GET", "/api/v1/leads/{id}",
                     absl::StrCat("/api/v1/leads/", PercentEncode(id)), ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return LeadFromResponse(*response, call.method, call.path_template);
}

absl::Status CurlPipedriveClient::DeleteLead(const Credentials& creds,
                                             const std::string& id) {
  if (id.empty()) return InvalidLeadId();

  const ApiCall call{"DELETE", "/api/v1/leads/{id}",
                     absl::StrCat("/api/v1/leads/", PercentEncode(id)), ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();
  return CheckDeleteResponse(*response, call.path_template);
}

absl::StatusOr<std::vector<FieldOption>>
CurlPipedriveClient::GetDealFieldOptions(const Credentials& creds,
                                         const std::string& field_code) {
  if (field_code.empty()) {
    return absl::InvalidArgumentError(
        "pipedrive: deal field code must not be empty");
  }

  const ApiCall call{
      "GET", "/api/v2/dealFields/{field_code}",
      absl::StrCat("/api/v2/dealFields/", PercentEncode(field_code)), ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();

  return Guarded(call.path_template,
                 [&]() -> absl::StatusOr<std::vector<FieldOption>> {
                   std::optional<Json> data = ParseEnvelope(response->body);
                   if (!data.has_value()) {
                     return Malformed(call.method, call.path_template);
                   }
                   std::optional<std::vector<FieldOption>> options =
                       ParseFieldOptions(*data);
                   if (!options.has_value()) {
                     return Malformed(call.method, call.path_template);
                   }
                   return *std::move(options);
                 });
}

absl::StatusOr<std::vector<PersonMatch>> CurlPipedriveClient::SearchPersons(
    const Credentials& creds, const std::string& field,
    const std::string& term) {
  if (field != "email" && field != "phone") {
    return absl::InvalidArgumentError(
        "pipedrive: persons are searched by email or phone");
  }
  if (term.empty()) {
    return absl::InvalidArgumentError("pipedrive: empty search term");
  }

  const ApiCall call{
      "GET", "/api/v2/persons/search",
      absl::StrCat("/api/v2/persons/search?term=", PercentEncode(term),
                   "&fields=", field, "&exact_match=true&limit=100"),
      ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();

  return Guarded(call.path_template,
                 [&]() -> absl::StatusOr<std::vector<PersonMatch>> {
                   std::optional<Json> data = ParseEnvelope(response->body);
                   if (!data.has_value()) {
                     return Malformed(call.method, call.path_template);
                   }
                   auto matches = ParsePersonMatches(*data);
                   if (!matches.has_value()) {
                     return Malformed(call.method, call.path_template);
                   }
                   return *std::move(matches);
                 });
}

absl::StatusOr<std::vector<Lead>> CurlPipedriveClient::ListLeadsOfPerson(
    const Credentials& creds, int64_t person_id) {
  if (person_id <= 0) {
    return absl::InvalidArgumentError("pipedrive: invalid person id");
  }

  const ApiCall call{
      "GET", "/api/v1/leads",
      absl::StrCat("/api/v1/leads?person_id=", person_id, "&limit=500"), ""};
  absl::StatusOr<HttpResponse> response = CallApi(creds, call);
  if (!response.ok()) return response.status();

  return Guarded(call.path_template,
                 [&]() -> absl::StatusOr<std::vector<Lead>> {
                   std::optional<Json> data = ParseEnvelope(response->body);
                   if (!data.has_value())
                     return Malformed(call.method, call.path_template);
                   std::vector<Lead> leads;
                   if (data->is_null()) return leads;
                   if (!data->is_array())
                     return Malformed(call.method, call.path_template);
                   for (const Json& entry : *data) {
                     std::optional<Lead> lead = ParseLead(entry);
                     if (!lead.has_value())
                       return Malformed(call.method, call.path_template);
                     leads.push_back(*std::move(lead));
                   }
                   return leads;
                 });
}

}  // namespace wave::pipedrive
