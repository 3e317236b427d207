#ifndef WAVE_CLIENT_CURL_PIPEDRIVE_CLIENT_H_
#define WAVE_CLIENT_CURL_PIPEDRIVE_CLIENT_H_

#include "client/http_transport.h"
#include "client/pipedrive_client.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace wave::pipedrive {

// Where Pipedrive's OAuth server is and how this app authenticates to it.
struct PipedriveClientOptions {
  // Where /oauth/token and /oauth/revoke live; a sandbox overrides it.
  std::string oauth_base_url = "https://oauth.pipedrive.com";
  // The app's credentials from Pipedrive's Developer Hub.
  std::string client_id;
  std::string client_secret;
};

// Provides PipedriveClient over an HttpTransport (in production a
// CurlHttpTransport): Pipedrive's OAuth endpoints, v1 users and leads, and
// v2 persons and deal fields.
//
// Errors, besides the HTTP mapping documented on PipedriveClient:
// - a transport failure keeps its code (UNAVAILABLE, DEADLINE_EXCEEDED),
//   with "pipedrive: <METHOD> <path template>: " prepended;
// - an api_domain that is not an http(s) URL, or empty credentials:
//   INVALID_ARGUMENT, before anything is sent; likewise a create without
//   the fields Pipedrive requires (a person's name; a lead's title and
//   person_id), and an empty deal field code;
// - OAuth calls without a client_id and client_secret, or with an
//   oauth_base_url that is not http(s): FAILED_PRECONDITION;
// - a 2xx whose body is not the documented JSON (HTML, truncated, wrong
//   types, "success": false): INTERNAL "pipedrive: malformed response to
//   <METHOD> <path template>"; for the token endpoint INTERNAL
//   "pipedrive: malformed token response". Bodies are never quoted. A deal
//   field option id must be an integer or a string of one (the spec gives
//   built-in fields string ids); anything else is malformed.
//
// Only the fields that are set in a PersonWrite or LeadWrite are sent;
// LeadWrite::origin_id is sent on create only. Logs at debug level the
// method, path template, HTTP status and elapsed time of each call, never a
// token, body or personal data.
//
// Thread-safe if the transport is (CurlHttpTransport is). Shares ownership
// of the transport.
class CurlPipedriveClient : public PipedriveClient {
 public:
  CurlPipedriveClient(std::shared_ptr<HttpTransport> transport,
                      const PipedriveClientOptions& options);

  absl::StatusOr<TokenSet> ExchangeCode(
      const std::string& code, const std::string& redirect_uri) override;
  absl::StatusOr<TokenSet> RefreshToken(
      const std::string& refresh_token) override;
  absl::Status RevokeRefreshToken(const std::string& refresh_token) override;

  absl::StatusOr<CurrentUser> GetCurrentUser(const Credentials& creds) override;
  absl::StatusOr<std::vector<User>> ListUsers(
      const Credentials& creds) override;

  absl::StatusOr<Person> CreatePerson(const Credentials& creds,
                                      const PersonWrite& person) override;
  absl::StatusOr<Person> UpdatePerson(const Credentials& creds, int64_t id,
                                      const PersonWrite& person) override;
  absl::StatusOr<Person> GetPerson(const Credentials& creds,
                                   int64_t id) override;
  absl::Status DeletePerson(const Credentials& creds, int64_t id) override;

  absl::StatusOr<Lead> CreateLead(const Credentials& creds,
                                  const LeadWrite& lead) override;
  absl::StatusOr<Lead> UpdateLead(const Credentials& creds,
                                  const std::string& id,
                                  const LeadWrite& lead) override;
  absl::StatusOr<Lead> GetLead(const Credentials& creds,
                               const std::string& id) override;
  absl::Status DeleteLead(const Credentials& creds,
                          const std::string& id) override;

  absl::StatusOr<std::vector<FieldOption>> GetDealFieldOptions(
      const Credentials& creds, const std::string& field_code) override;
  absl::StatusOr<std::vector<PersonMatch>> SearchPersons(
      const Credentials& creds, const std::string& field,
      const std::string& term) override;
  absl::StatusOr<std::vector<Lead>> ListLeadsOfPerson(
      const Credentials& creds, int64_t person_id) override;

 private:
  // A call to the REST API: where it goes and how it is logged.
  struct ApiCall {
    const char* method;
    // The path with placeholders, for logs and error messages.
    const char* path_template;
    // The path with placeholders filled and escaped.
    std::string path;
    // JSON, or empty for no body.
    std::string body;
  };

  // Sends `call`; OK only for a 2xx response, returned with its body.
  absl::StatusOr<HttpResponse> CallApi(const Credentials& creds,
                                       const ApiCall& call);
  // Posts `form` to the OAuth server at `path` with the app's credentials.
  absl::StatusOr<HttpResponse> CallOAuth(const char* path,
                                         const std::string& form);
  absl::StatusOr<TokenSet> RequestTokens(
      const std::string& form, const std::string& fallback_refresh_token);

  const std::shared_ptr<HttpTransport> transport_;
  const std::string oauth_base_url_;
  const bool has_client_credentials_;
  const std::string basic_authorization_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_CLIENT_CURL_PIPEDRIVE_CLIENT_H_
