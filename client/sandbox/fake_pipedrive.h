#ifndef WAVE_CLIENT_SANDBOX_FAKE_PIPEDRIVE_H_
#define WAVE_CLIENT_SANDBOX_FAKE_PIPEDRIVE_H_

#include "client/sandbox/sandbox_records.h"

#include "absl/status/status.h"
#include "absl/time/time.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}  // namespace httplib

namespace wave::pipedrive::sandbox {

namespace internal {
struct HttpRequest;
struct Reply;
struct SandboxState;
}  // namespace internal

struct SandboxOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port.
  // The one registered app; required for the OAuth endpoints.
  std::string client_id;
  std::string client_secret;
  absl::Duration access_token_ttl = absl::Hours(1);
  // Requests per rolling 2 s per access token (Pipedrive's Lite OAuth
  // limit), and the tighter limit of the search endpoints.
  int burst_limit = 80;
  int search_burst_limit = 10;
  // Tokens per company (30,000 x 10 seats); 429 for everything once spent.
  int64_t daily_token_budget = 30000 * 10;
  // Whether the app holds a deal scope (deals:read), which GET
  // /api/v2/dealFields/{field_code} needs; without it that endpoint answers
  // 403 "Scope and URL mismatch".
  bool deal_scope = true;
  // Server threads. Each open keep-alive connection holds one.
  int worker_threads = 16;
  // How long an idle keep-alive connection stays open (whole seconds, at
  // least 1). Stop() waits up to this long for idle client connections.
  absl::Duration keep_alive_timeout = absl::Seconds(1);
  // The time for token lifetimes, authorization code expiry and rate
  // windows; absl::Now when empty. Lets tests move time without sleeping.
  std::function<absl::Time()> clock;
};

// Provides a local Pipedrive over real HTTP: OAuth (authorize, token,
// revoke), v1 users, v2 persons, v1 leads, the v2 `channel` deal field,
// scopes, rate limits, token budgets and injected faults, plus a control
// API for scripts:
//   GET /_sandbox/state           companies with users, persons and leads
//   POST /_sandbox/faults         body: a Fault as JSON (same field names)
//   DELETE /_sandbox/faults       clears faults
//   POST /_sandbox/expire-tokens  as ExpireAccessTokens()
//
// It answers what Pipedrive's documents say Pipedrive answers, and rejects
// what Pipedrive would reject (unknown fields, wrong types, ids of another
// company), so that a wrong request shape fails tests. State lives in memory
// and dies with the object. Start() listens in a background thread; every
// method is thread-safe, and all state is guarded by one mutex. Seeding and
// inspection methods may be called before Start() and after Stop(). Nothing
// is logged.
class FakePipedrive {
 public:
  explicit FakePipedrive(SandboxOptions options);
  ~FakePipedrive();  // Stops.

  FakePipedrive(const FakePipedrive&) = delete;
  FakePipedrive& operator=(const FakePipedrive&) = delete;

  // Binds options.host:options.port and serves in a background thread.
  // UNAVAILABLE when the port cannot be bound; FAILED_PRECONDITION when
  // called twice.
  absl::Status Start();
  // Stops serving and waits for in-flight requests (also cutting injected
  // delays short). Idempotent.
  void Stop();

  int port() const;
  std::string base_url() const;  // "http://HOST:PORT".

  // Seeding.
  int64_t AddCompany(const std::string& name, const std::string& domain);
  // The company's first user becomes its admin.
  int64_t AddUser(int64_t company_id, const std::string& name,
                  const std::string& email, bool active = true);
  void SetUserActive(int64_t user_id, bool active);
  // A lead channel option (the "Source channel" field) of the company.
  void AddChannelOption(int64_t company_id, int64_t option_id,
                        const std::string& label);
  // Grants or withdraws the deal scope (see SandboxOptions::deal_scope) for
  // every token, issued or not; token responses from now on list it in
  // `scope` or not.
  void SetDealScope(bool granted);
  // The api_domain handed out in token responses issued from now on for
  // that company (default: base_url()).
  void SetApiDomain(int64_t company_id, const std::string& api_domain);
  // What the consent page would do: returns a fresh authorization code,
  // or "" when the user is not in the company.
  std::string IssueAuthorizationCode(int64_t company_id, int64_t user_id,
                                     const std::string& redirect_uri);

  // Faults.
  void InjectFault(const Fault& fault);
  void ClearFaults();
  // Makes every access token issued so far answer 401, as if expired.
  void ExpireAccessTokens();
  // Zeroes every company's spent tokens, as at Pipedrive's midnight.
  void ResetTokenBudgets();

  // The sales team acting in Pipedrive's UI.
  void ArchiveLead(const std::string& lead_id);
  // Converted to a deal: Pipedrive marks the lead deleted.
  void ConvertLead(const std::string& lead_id);
  void DeletePersonInUi(int64_t person_id);
  // A Person the sales team entered by hand, owned by `owner_user_id`.
  // Returns its id.
  int64_t AddPersonInUi(int64_t company_id, int64_t owner_user_id,
                        const std::string& name,
                        const std::vector<ContactValue>& emails,
                        const std::vector<ContactValue>& phones);

  // Inspection for tests.
  std::vector<PersonRecord> Persons(int64_t company_id) const;  // Any state.
  std::vector<LeadRecord> Leads(int64_t company_id) const;      // Any state.
  std::vector<RequestRecord> Requests() const;
  void ClearRequests();
  int CountRequests(const std::string& method,
                    const std::string& path_prefix) const;
  bool IsRefreshTokenRevoked(const std::string& refresh_token) const;
  int64_t TokensSpent(int64_t company_id) const;
  // The most API requests the sandbox was answering at one moment.
  int PeakConcurrentRequests() const { return peak_in_flight_.load(); }
  // What GET /_sandbox/state answers: companies with their users, channel
  // options, persons and leads.
  std::string StateJson() const;

 private:
  // Runs one request through faults and routing; called by the server.
  internal::Reply Serve(const internal::HttpRequest& request);
  internal::Reply Route(const internal::HttpRequest& request);
  internal::Reply HandleControl(const internal::HttpRequest& request);
  // Removes and returns the first fault matching the request, if any.
  bool TakeFault(const internal::HttpRequest& request, Fault* fault);
  // The answer of a fault that does nothing.
  internal::Reply FaultReply(const internal::HttpRequest& request,
                             const Fault& fault);
  // Waits, or returns early when Stop() begins.
  void Delay(absl::Duration delay);
  // Requires mu_.
  std::string StateJsonLocked() const;

  const SandboxOptions options_;
  // A std::mutex rather than absl::Mutex: Debian's Abseil is not built for
  // ThreadSanitizer, which then cannot see its locking and reports every
  // access below as a race.
  mutable std::mutex mu_;
  std::condition_variable stopping_cv_;
  // Guarded by mu_.
  std::unique_ptr<internal::SandboxState> state_;
  std::vector<Fault> faults_;
  std::vector<RequestRecord> requests_;
  bool stopping_ = false;
  bool started_ = false;

  std::atomic<int> port_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_in_flight_{0};
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
};

}  // namespace wave::pipedrive::sandbox

#endif  // WAVE_CLIENT_SANDBOX_FAKE_PIPEDRIVE_H_
