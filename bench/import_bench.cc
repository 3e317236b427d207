// import_bench: measures how fast the service imports an account's
// contacts into Pipedrive, and how close that import runs to Pipedrive's
// rate limit.
//
// It starts the Pipedrive sandbox in this process (one company with an
// admin and three sales users, every API request delayed by --latency_ms,
// --burst_limit requests per rolling 2 s per token), starts the real server
// binary on a fresh schema of PostgreSQL, connects an account through
// OAuth, streams --contacts generated contacts through ImportAll and polls
// GetImport until the import is DONE. Then it prints the import's pace, the
// Pipedrive requests the import took and their rate against the burst
// limit, the 429 answers, the tokens spent and the server's memory.
//
// With --stream_only every Pipedrive API request is answered 402 (the
// company's subscription lapsed), so delivery waits and the run ends when
// ImportAll answers: it measures taking in a large import (contacts per
// second, the server's memory) without waiting for Pipedrive's pace.
//
// Run it against a throwaway PostgreSQL cluster, from the repository root:
//   tests/with_postgres.sh build/bench/import_bench --contacts=500
// or against any database it may create a schema in:
//   build/bench/import_bench --database_url="host=... dbname=..."
// (default: $DATABASE_URL, else $WAVE_TEST_DATABASE_URL). The schema is
// dropped at the end, also when the run fails.
//
// The server runs with WORKER_POLL_MS=100 and LOG_LEVEL=warning; its
// warnings go to this program's stderr. Its other settings are its
// production defaults, unless DB_POOL_SIZE, LEASE_TTL_MS, SYNC_WAIT_MS,
// RETRY_BASE_MS or RETRY_CAP_MS are set in this program's environment, which
// are then passed on. Exit status: 0 when the import is DONE (with
// --stream_only: accepted in full), 1 when it
// failed, timed out or was interrupted (the figures so far are printed
// first), 2 for bad flags.

#include "client/sandbox/fake_pipedrive.h"
#include "storage/token_cipher.h"
#include "wave/integrations/pipedrive/v1/pipedrive_sync.grpc.pb.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "pqxx/pqxx"

#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

ABSL_FLAG(int, contacts, 2000, "Contacts to import.");
ABSL_FLAG(int, burst_limit, 80,
          "The sandbox's limit: requests per rolling 2 s per access token.");
ABSL_FLAG(int, latency_ms, 20,
          "Latency the sandbox adds to every Pipedrive API request.");
ABSL_FLAG(int64_t, daily_budget, int64_t{1} << 40,
          "The sandbox's daily token budget of the company; the default "
          "never runs out.");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL to create a temporary schema in (default: "
          "$DATABASE_URL, else $WAVE_TEST_DATABASE_URL).");
ABSL_FLAG(bool, link_existing, false,
          "Whether the import links contacts to Persons already in Pipedrive "
          "(one person search per new contact; the search limit is 10 per "
          "2 s). The service's default for an auto-sync import is on.");
ABSL_FLAG(bool, stream_only, false,
          "Measure only the stream: Pipedrive answers every API request 402, "
          "delivery waits, and the run ends when ImportAll answers.");
ABSL_FLAG(int, timeout_s, 1800,
          "Give up when the import is not DONE this long after the stream "
          "started.");

namespace wave::pipedrive::bench {
namespace {

namespace v1 = ::wave::integrations::pipedrive::v1;
namespace health = ::grpc::health::v1;

constexpr char kClientId[] = "wave-bench-app";
constexpr char kClientSecret[] = "bench-secret-0123456789";
constexpr char kStateKey[] = "YmVuY2gtc3RhdGUtc2lnbmluZy1rZXktMDEyMzQ1Njc4OWFi";
constexpr char kRedirectUri[] =
    "https://app.wave.example/integrations/pipedrive/callback";
constexpr char kAccountId[] = "bench-account";

// The sales team the generated contacts are assigned to, in turn.
constexpr const char* kOwnerEmails[] = {
    "bob@acme.example", "carol@acme.example", "dave@acme.example"};
constexpr const char* kFirstNames[] = {"Ada", "Ben",  "Cleo", "Dan",
                                       "Eva", "Finn", "Gia",  "Hugo"};
constexpr const char* kJobTitles[] = {"Buyer", "CTO", "Head of Sales",
                                      "Office Manager", "Founder"};

// Server settings passed on from this program's environment when set.
constexpr const char* kPassedSettings[] = {"DB_POOL_SIZE", "LEASE_TTL_MS",
                                           "SYNC_WAIT_MS", "RETRY_BASE_MS",
                                           "RETRY_CAP_MS"};

constexpr absl::Duration kRateWindow = absl::Seconds(2);
constexpr absl::Duration kPollInterval = absl::Milliseconds(500);
constexpr absl::Duration kProgressInterval = absl::Seconds(10);
constexpr absl::Duration kStartLimit = absl::Seconds(60);
constexpr absl::Duration kStopLimit = absl::Seconds(30);

volatile std::sig_atomic_t interrupted = 0;

void OnInterrupt(int) { interrupted = 1; }

struct BenchOptions {
  int contacts = 0;
  int burst_limit = 0;
  int latency_ms = 0;
  int64_t daily_budget = 0;
  bool link_existing = false;
  bool stream_only = false;
  std::string database_url;
  absl::Duration timeout;
};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

absl::StatusOr<BenchOptions> OptionsFromFlags() {
  BenchOptions o;
  o.contacts = absl::GetFlag(FLAGS_contacts);
  o.burst_limit = absl::GetFlag(FLAGS_burst_limit);
  o.latency_ms = absl::GetFlag(FLAGS_latency_ms);
  o.daily_budget = absl::GetFlag(FLAGS_daily_budget);
  o.link_existing = absl::GetFlag(FLAGS_link_existing);
  o.stream_only = absl::GetFlag(FLAGS_stream_only);
  o.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  o.database_url = absl::GetFlag(FLAGS_database_url);
  if (o.database_url.empty()) o.database_url = Env("DATABASE_URL");
  if (o.database_url.empty()) o.database_url = Env("WAVE_TEST_DATABASE_URL");

  if (o.contacts < 1) return absl::InvalidArgumentError("--contacts: < 1");
  if (o.burst_limit < 1) {
    return absl::InvalidArgumentError("--burst_limit: < 1");
  }
  if (o.latency_ms < 0) return absl::InvalidArgumentError("--latency_ms: < 0");
  if (o.daily_budget < 1) {
    return absl::InvalidArgumentError("--daily_budget: < 1");
  }
  if (o.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout_s: < 1");
  }
  if (o.database_url.empty()) {
    return absl::InvalidArgumentError(
        "no database: set --database_url, DATABASE_URL or "
        "WAVE_TEST_DATABASE_URL (tests/with_postgres.sh sets the last)");
  }
  return o;
}

// The generated contact number `i`: stable across runs, unique email.
v1::Contact MakeContact(int i) {
  v1::Contact c;
  c.set_contact_id(absl::StrCat("c-", i));
  c.set_version(1);
  c.set_first_name(kFirstNames[i % std::size(kFirstNames)]);
  c.set_last_name(absl::StrCat("Bench", i));
  auto* work = c.add_emails();
  work->set_value(absl::StrCat("c", i, "@bench.example"));
  work->set_label("work");
  work->set_primary(true);
  if (i % 2 == 1) {
    auto* home = c.add_emails();
    home->set_value(absl::StrCat("c", i, ".home@bench.example"));
    home->set_label("personal");
  }
  auto* phone = c.add_phones();
  phone->set_value(
      absl::StrFormat("+1 %03d 555 %04d", 200 + (i / 10000) % 800, i % 10000));
  phone->set_label("mobile");
  c.set_job_title(kJobTitles[i % std::size(kJobTitles)]);
  c.set_company(absl::StrCat("Bench Customer ", i % 50));
  c.set_owner_email(kOwnerEmails[i % std::size(kOwnerEmails)]);
  return c;
}

// A loopback port nobody listens on right now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// `url` with `schema` first on the search path; libpq takes the option in
// both of its connection string forms.
std::string WithSearchPath(const std::string& url, const std::string& schema) {
  const bool is_uri = absl::StartsWith(url, "postgresql://") ||
                      absl::StartsWith(url, "postgres://");
  if (!is_uri) {
    return absl::StrCat(url, " options='-csearch_path=", schema, "'");
  }
  return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?",
                      "options=-csearch_path%3D", schema);
}

// A schema of its own in the benchmark's database, dropped on destruction
// unless already dropped. Not thread-safe.
class TemporarySchema {
 public:
  explicit TemporarySchema(std::string database_url)
      : database_url_(std::move(database_url)) {}
  ~TemporarySchema() { Drop(); }

  TemporarySchema(const TemporarySchema&) = delete;
  TemporarySchema& operator=(const TemporarySchema&) = delete;

  // UNAVAILABLE when the database cannot be reached or refuses.
  absl::Status Create() {
    const std::string name =
        absl::StrCat("b_", absl::Hex(absl::Uniform<uint64_t>(absl::BitGen())));
    if (absl::Status s = Execute(absl::StrCat("CREATE SCHEMA ", name));
        !s.ok()) {
      return s;
    }
    name_ = name;
    return absl::OkStatus();
  }

  // Errors are printed: the caller can do nothing more about them.
  void Drop() {
    if (name_.empty()) return;
    const absl::Status s =
        Execute(absl::StrCat("DROP SCHEMA ", name_, " CASCADE"));
    if (!s.ok()) {
      absl::FPrintF(stderr, "import_bench: schema %s not dropped: %s\n", name_,
                    s.ToString());
    }
    name_.clear();
  }

  std::string ServerUrl() const { return WithSearchPath(database_url_, name_); }

 private:
  absl::Status Execute(const std::string& sql) {
    try {
      pqxx::connection conn(database_url_);
      pqxx::work tx(conn);
      tx.exec0(sql);
      tx.commit();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("PostgreSQL: ", e.what()));
    }
  }

  const std::string database_url_;
  std::string name_;
};

// The server binary as a child process: started with posix_spawn, stopped
// with SIGTERM (SIGKILL when it does not exit in time), and killed on
// destruction if still running. Not thread-safe.
class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { Stop(); }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // INTERNAL when the binary cannot be started.
  absl::Status Spawn(const std::string& binary, std::vector<std::string> env) {
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string path = binary;
    char* argv[] = {path.data(), nullptr};
    pid_t pid = 0;
    const int error =
        posix_spawn(&pid, path.c_str(), nullptr, nullptr, argv, envp.data());
    if (error != 0) {
      return absl::InternalError(
          absl::StrCat("cannot start ", binary, ": ", std::strerror(error)));
    }
    pid_ = pid;
    return absl::OkStatus();
  }

  // False once the process has exited (its status is then in
  // exit_description()).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    Reap(status);
    return false;
  }

  // SIGTERM, then SIGKILL after kStopLimit. Idempotent.
  void Stop() {
    if (!Running()) return;
    kill(pid_, SIGTERM);
    const absl::Time end = absl::Now() + kStopLimit;
    while (absl::Now() < end) {
      if (!Running()) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    absl::FPrintF(stderr,
                  "import_bench: server did not stop within %s; killing it\n",
                  absl::FormatDuration(kStopLimit));
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    Reap(status);
  }

  // A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); nullopt when
  // the process is gone or the field is missing.
  std::optional<int64_t> MemoryKib(const std::string& field) const {
    if (pid_ <= 0) return std::nullopt;
    std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    const std::string prefix = absl::StrCat(field, ":");
    while (std::getline(in, line)) {
      if (!absl::StartsWith(line, prefix)) continue;
      std::string value(absl::StripAsciiWhitespace(
          absl::string_view(line).substr(prefix.size())));
      if (absl::EndsWith(value, " kB")) value.resize(value.size() - 3);
      int64_t kib = 0;
      if (absl::SimpleAtoi(value, &kib)) return kib;
    }
    return std::nullopt;
  }

  const std::string& exit_description() const { return exit_description_; }

 private:
  void Reap(int status) {
    pid_ = -1;
    if (WIFEXITED(status)) {
      exit_description_ =
          absl::StrCat("exited with status ", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      exit_description_ = absl::StrCat("killed by signal ", WTERMSIG(status));
    }
  }

  pid_t pid_ = -1;
  std::string exit_description_;
};

// The mean number of the sorted `times` per `window` between the first and
// the last; nullopt with fewer than two distinct times. The last one closes
// the span, so N entries make N - 1 intervals.
std::optional<double> MeanPerWindow(const std::vector<absl::Time>& times,
                                    absl::Duration window) {
  if (times.size() < 2 || times.back() == times.front()) return std::nullopt;
  return (times.size() - 1) *
         absl::FDivDuration(window, times.back() - times.front());
}

// The most entries of the sorted `times` inside any window of `window`
// (half open: an entry leaves the window `window` after it entered).
int MaxInWindow(const std::vector<absl::Time>& times, absl::Duration window) {
  int best = 0;
  size_t first = 0;
  for (size_t last = 0; last < times.size(); ++last) {
    while (times[last] - times[first] >= window) ++first;
    best = std::max(best, static_cast<int>(last - first + 1));
  }
  return best;
}

// "/api/v2/persons/17" -> "/api/v2/persons/{id}": numeric ids and lead
// UUIDs become "{id}", so that requests group by endpoint.
std::string EndpointOf(const std::string& method, const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/');
  for (std::string& part : parts) {
    int64_t number = 0;
    const bool uuid = part.size() == 36 && part[8] == '-' && part[13] == '-';
    if (uuid || (!part.empty() && absl::SimpleAtoi(part, &number))) {
      part = "{id}";
    }
  }
  return absl::StrCat(method, " ", absl::StrJoin(parts, "/"));
}

std::string Percent(double part, double whole) {
  return absl::StrFormat("%.1f%%", whole > 0 ? 100.0 * part / whole : 0.0);
}

std::string Mib(std::optional<int64_t> kib) {
  if (!kib.has_value()) return "unknown";
  return absl::StrFormat("%.1f MiB", static_cast<double>(*kib) / 1024.0);
}

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.2f s", absl::ToDoubleSeconds(d));
}

// What one run measured; filled as the run goes, so that a failed run can
// still report what it got.
struct Figures {
  bool stream_done = false;
  int64_t accepted = 0;
  int64_t rejected = 0;
  std::string first_rejection;
  absl::Duration stream_time;
  std::optional<int64_t> rss_after_stream_kib;
  bool import_done = false;
  std::optional<v1::Import> last_import;
  absl::Duration wall_time;
  std::vector<sandbox::RequestRecord> requests;
  int64_t tokens_spent = 0;
  std::optional<int64_t> peak_rss_kib;
};

// One benchmark run: owns the sandbox, the schema and the server process,
// and releases them (server first) when destroyed. Not thread-safe.
class ImportBench {
 public:
  explicit ImportBench(BenchOptions options)
      : options_(std::move(options)), schema_(options_.database_url) {}
  ~ImportBench() { Shutdown(); }

  // Runs every step and prints the report (a partial one when the import
  // started but did not finish). DEADLINE_EXCEEDED on timeout, CANCELLED
  // on SIGINT/SIGTERM, other codes when a part of the set-up fails.
  absl::Status Run() {
    if (absl::Status s = StartSandbox(); !s.ok()) return s;
    if (absl::Status s = schema_.Create(); !s.ok()) return s;
    if (absl::Status s = StartServer(); !s.ok()) return s;
    if (absl::Status s = ConnectAccount(); !s.ok()) return s;
    if (options_.stream_only) HoldDelivery();
    sandbox_->ClearRequests();
    const int64_t tokens_before = sandbox_->TokensSpent(company_);

    const absl::Status result = Import();
    figures_.requests = sandbox_->Requests();
    figures_.tokens_spent = sandbox_->TokensSpent(company_) - tokens_before;
    figures_.peak_rss_kib = server_.MemoryKib("VmHWM");
    PrintReport();
    return result;
  }

  // Stops the server, then the sandbox, then drops the schema. Idempotent.
  void Shutdown() {
    server_.Stop();
    if (sandbox_ != nullptr) sandbox_->Stop();
    schema_.Drop();
  }

 private:
  absl::Status StartSandbox() {
    sandbox::SandboxOptions o;
    o.client_id = kClientId;
    o.client_secret = kClientSecret;
    o.burst_limit = options_.burst_limit;
    o.daily_token_budget = options_.daily_budget;
    // Plenty of connection threads, so that the sandbox never limits how
    // many requests the service has in flight.
    o.worker_threads = 64;
    search_burst_limit_ = o.search_burst_limit;
    sandbox_ = std::make_unique<sandbox::FakePipedrive>(o);
    company_ = sandbox_->AddCompany("Acme Sales", "acme-sales");
    admin_ = sandbox_->AddUser(company_, "Alice Admin", "alice@acme.example");
    sandbox_->AddUser(company_, "Bob Seller", "bob@acme.example");
    sandbox_->AddUser(company_, "Carol Closer", "carol@acme.example");
    sandbox_->AddUser(company_, "Dave Dealer", "dave@acme.example");
    if (options_.latency_ms > 0) {
      sandbox::Fault latency;
      latency.path_prefix = "/api/";
      latency.status = 200;  // Below 400: a delay, not a failure.
      latency.count = -1;
      latency.delay_ms = options_.latency_ms;
      sandbox_->InjectFault(latency);
    }
    return sandbox_->Start();
  }

  std::vector<std::string> ServerEnvironment(const std::string& listen) {
    std::vector<std::string> env = {
        absl::StrCat("LISTEN_ADDRESS=", listen),
        absl::StrCat("DATABASE_URL=", schema_.ServerUrl()),
        absl::StrCat("PIPEDRIVE_CLIENT_ID=", kClientId),
        absl::StrCat("PIPEDRIVE_CLIENT_SECRET=", kClientSecret),
        absl::StrCat("PIPEDRIVE_REDIRECT_URI=", kRedirectUri),
        absl::StrCat("PIPEDRIVE_OAUTH_URL=", sandbox_->base_url()),
        absl::StrCat("TOKEN_ENCRYPTION_KEYS=", key_line_),
        absl::StrCat("STATE_SIGNING_KEY=", kStateKey),
        "WORKER_POLL_MS=100",
        "LOG_LEVEL=warning"};
    for (const char* name : kPassedSettings) {
      const std::string value = Env(name);
      if (value.empty()) continue;
      env.push_back(absl::StrCat(name, "=", value));
      passed_settings_.push_back(absl::StrCat(name, "=", value));
    }
    return env;
  }

  // Starts the server on a free port and waits for its health service to
  // answer SERVING. A process that exits at once (the port was taken in
  // the meantime) is started again, twice at most.
  absl::Status StartServer() {
    std::string last_error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const int port = FreePort();
      if (port == 0) return absl::UnavailableError("no free loopback port");
      const std::string address = absl::StrCat("127.0.0.1:", port);
      passed_settings_.clear();
      if (absl::Status s =
              server_.Spawn(WAVE_SERVER_BINARY, ServerEnvironment(address));
          !s.ok()) {
        return s;
      }
      absl::Status s = WaitServing(address);
      if (s.ok()) {
        stub_ = v1::PipedriveSync::NewStub(channel_);
        return absl::OkStatus();
      }
      if (server_.Running() || interrupted) return s;
      last_error = s.ToString();
    }
    return absl::UnavailableError(
        absl::StrCat("the server did not start: ", last_error));
  }

  absl::Status WaitServing(const std::string& address) {
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    auto health_stub = health::Health::NewStub(channel_);
    const absl::Time end = absl::Now() + kStartLimit;
    std::string last;
    while (absl::Now() < end && !interrupted) {
      if (!server_.Running()) {
        return absl::UnavailableError(absl::StrCat(
            "the server ", server_.exit_description(), " before serving"));
      }
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
      health::HealthCheckRequest request;  // Service "": the whole server.
      health::HealthCheckResponse response;
      const grpc::Status s = health_stub->Check(&context, request, &response);
      if (s.ok() && response.status() == health::HealthCheckResponse::SERVING) {
        return absl::OkStatus();
      }
      last = s.ok() ? "not SERVING" : s.error_message();
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (interrupted) return absl::CancelledError("interrupted");
    return absl::DeadlineExceededError(
        absl::StrCat("the server on ", address, " was not SERVING within ",
                     absl::FormatDuration(kStartLimit), " (", last, ")"));
  }

  // The OAuth flow, as Wave's UI and Pipedrive's consent page drive it.
  absl::Status ConnectAccount() {
    grpc::ClientContext url_context;
    url_context.set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GetAuthorizationUrlRequest url_request;
    url_request.set_account_id(kAccountId);
    v1::GetAuthorizationUrlResponse url;
    grpc::Status s =
        stub_->GetAuthorizationUrl(&url_context, url_request, &url);
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("GetAuthorizationUrl: ", s.error_message()));
    }

    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::ConnectIntegrationRequest request;
    request.set_account_id(kAccountId);
    request.set_code(
        sandbox_->IssueAuthorizationCode(company_, admin_, kRedirectUri));
    request.set_state(url.state());
    request.set_auto_sync(true);
    v1::Integration integration;
    s = stub_->ConnectIntegration(&context, request, &integration);
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("ConnectIntegration: ", s.error_message()));
    }
    return absl::OkStatus();
  }

  // Pipedrive answers 402 to every API request from now on: the account
  // pauses and its import waits in the queue.
  void HoldDelivery() {
    sandbox::Fault lapsed;
    lapsed.path_prefix = "/api/";
    lapsed.status = 402;
    lapsed.count = -1;
    sandbox_->InjectFault(lapsed);
  }

  // Streams the contacts, then polls GetImport until DONE (with
  // --stream_only, stops once the stream is accepted).
  absl::Status Import() {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + options_.timeout;
    std::string import_id;
    absl::Status s = Stream(deadline, &import_id);
    figures_.stream_time = absl::Now() - start;
    figures_.wall_time = figures_.stream_time;
    figures_.rss_after_stream_kib = server_.MemoryKib("VmRSS");
    if (!s.ok()) return s;
    absl::PrintF("stream accepted in %s: %d accepted, %d rejected\n",
                 Seconds(figures_.stream_time), figures_.accepted,
                 figures_.rejected);
    std::fflush(stdout);
    if (options_.stream_only) {
      figures_.import_done = figures_.accepted == options_.contacts;
      return figures_.import_done
                 ? absl::OkStatus()
                 : absl::InternalError("not every contact was accepted");
    }
    return Poll(import_id, start, deadline);
  }

  absl::Status Stream(absl::Time deadline, std::string* import_id) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    v1::ImportAllResponse response;
    auto writer = stub_->ImportAll(&context, &response);
    v1::ImportAllRequest request;
    request.set_account_id(kAccountId);
    request.set_link_existing_persons(options_.link_existing);
    for (int i = 0; i < options_.contacts; ++i) {
      if (interrupted) {
        context.TryCancel();
        break;
      }
      *request.mutable_contact() = MakeContact(i);
      if (!writer->Write(request)) break;  // Finish() tells why.
      request.clear_link_existing_persons();
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    if (interrupted) return absl::CancelledError("interrupted");
    if (!status.ok()) {
      return absl::InternalError(absl::StrCat("ImportAll: code ",
                                              status.error_code(), ": ",
                                              status.error_message()));
    }
    figures_.stream_done = true;
    figures_.accepted = response.accepted();
    figures_.rejected = response.rejected();
    if (response.rejections_size() > 0) {
      const v1::RejectedContact& r = response.rejections(0);
      figures_.first_rejection =
          absl::StrCat(r.contact_id(), " ", r.field(), ": ", r.reason());
    }
    *import_id = response.import_id();
    return absl::OkStatus();
  }

  absl::Status Poll(const std::string& import_id, absl::Time start,
                    absl::Time deadline) {
    absl::Time next_progress = start + kProgressInterval;
    std::string last_error;
    while (true) {
      const absl::Time polled = absl::Now();
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(polled + absl::Seconds(10)));
      v1::GetImportRequest request;
      request.set_account_id(kAccountId);
      request.set_import_id(import_id);
      v1::Import import;
      const grpc::Status s = stub_->GetImport(&context, request, &import);
      figures_.wall_time = absl::Now() - start;
      if (s.ok()) {
        figures_.last_import = import;
        last_error.clear();
        if (import.state() == v1::Import::DONE) {
          // Counted up to the poll that saw DONE: up to kPollInterval late.
          figures_.wall_time = polled - start;
          figures_.import_done = true;
          return absl::OkStatus();
        }
      } else {
        last_error = absl::StrCat("GetImport: code ", s.error_code(), ": ",
                                  s.error_message());
      }

      if (!server_.Running()) {
        return absl::UnavailableError(absl::StrCat(
            "the server ", server_.exit_description(), " during the import"));
      }
      if (interrupted) return absl::CancelledError("interrupted");
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("the import was not DONE within ",
                         absl::FormatDuration(options_.timeout),
                         last_error.empty() ? "" : "; last ", last_error));
      }
      if (absl::Now() >= next_progress) {
        PrintProgress(last_error);
        next_progress += kProgressInterval;
      }
      absl::SleepFor(kPollInterval);
    }
  }

  void PrintProgress(const std::string& error) {
    std::string line = absl::StrFormat(
        "[%7.1f s] ", absl::ToDoubleSeconds(figures_.wall_time));
    if (figures_.last_import.has_value()) {
      const v1::Import& i = *figures_.last_import;
      absl::StrAppendFormat(
          &line, "%s created %d updated %d unchanged %d failed %d pending %d",
          v1::Import::State_Name(i.state()), i.created(), i.updated(),
          i.unchanged(), i.failed(), i.pending());
      if (!i.paused_reason().empty()) {
        absl::StrAppend(&line, " (paused: ", i.paused_reason(), ")");
      }
      if (i.has_estimated_completion_at()) {
        const absl::Time eta =
            absl::FromUnixSeconds(i.estimated_completion_at().seconds());
        absl::StrAppendFormat(&line, "; done in ~%.0f s",
                              absl::ToDoubleSeconds(eta - absl::Now()));
      }
    }
    absl::StrAppend(&line, "; Pipedrive API requests ",
                    sandbox_->CountRequests("", "/api/"));
    if (!error.empty()) absl::StrAppend(&line, "; ", error);
    absl::PrintF("%s\n", line);
    std::fflush(stdout);
  }

  void PrintReport() {
    const Figures& f = figures_;
    const int n = options_.contacts;
    absl::PrintF(
        "\n== import benchmark: %d contacts, burst limit %d per 2 s, "
        "latency %d ms per API request, linking existing persons %s%s\n",
        n, options_.burst_limit, options_.latency_ms,
        options_.link_existing ? "on" : "off",
        options_.stream_only ? "; stream only (delivery held)" : "");
    absl::PrintF("server settings: WORKER_POLL_MS=100%s%s\n",
                 passed_settings_.empty() ? "" : " ",
                 absl::StrJoin(passed_settings_, " "));
    if (!f.import_done) {
      absl::PrintF("** the import did not finish: partial figures **\n");
    }

    absl::PrintF("\nImport\n");
    if (f.stream_done) {
      absl::PrintF(
          "  stream                %d accepted, %d rejected in %s "
          "(%.0f contacts/s)\n",
          f.accepted, f.rejected, Seconds(f.stream_time),
          n / std::max(1e-9, absl::ToDoubleSeconds(f.stream_time)));
      if (!f.first_rejection.empty()) {
        absl::PrintF("  first rejection       %s\n", f.first_rejection);
      }
    } else {
      absl::PrintF("  stream                did not complete (%s)\n",
                   Seconds(f.stream_time));
    }
    if (!options_.stream_only) {
      PrintDelivery();
    }

    absl::PrintF("\nServer\n");
    absl::PrintF("  RSS after the stream  %s\n", Mib(f.rss_after_stream_kib));
    absl::PrintF("  peak RSS (VmHWM)      %s\n", Mib(f.peak_rss_kib));
    std::fflush(stdout);
  }

  // The import's outcome, pace and Pipedrive traffic.
  void PrintDelivery() {
    const Figures& f = figures_;
    int64_t settled = 0;
    if (f.last_import.has_value()) {
      const v1::Import& i = *f.last_import;
      settled = i.created() + i.updated() + i.unchanged() + i.failed();
      absl::PrintF("  state                 %s\n",
                   v1::Import::State_Name(i.state()));
      absl::PrintF(
          "  counters              created %d, updated %d, "
          "unchanged %d, failed %d, pending %d\n",
          i.created(), i.updated(), i.unchanged(), i.failed(), i.pending());
    }
    absl::PrintF("  wall time             %s from stream start%s\n",
                 Seconds(f.wall_time), f.import_done ? " to DONE" : "");
    absl::PrintF("  pace                  %.1f contacts/s%s\n",
                 settled / std::max(1e-9, absl::ToDoubleSeconds(f.wall_time)),
                 f.import_done ? "" : " (settled so far)");

    PrintRequests(settled);
  }

  void PrintRequests(int64_t settled) {
    const Figures& f = figures_;
    // A partial run is judged by the contacts it got through.
    const double n = f.import_done ? options_.contacts : settled;
    const char* const per = f.import_done ? "contact" : "settled contact";
    auto ratio = [&](double count, const char* format) {
      return n > 0 ? absl::StrCat(absl::StrFormat(format, count / n), " per ",
                                  per)
                   : std::string("no contact settled");
    };
    std::map<std::string, int> by_endpoint;
    std::vector<absl::Time> api_all;
    std::vector<absl::Time> api_counted;
    std::vector<absl::Time> search;
    int too_many = 0;
    for (const sandbox::RequestRecord& r : f.requests) {
      ++by_endpoint[EndpointOf(r.method, r.path)];
      if (r.status == 429) ++too_many;
      if (!absl::StartsWith(r.path, "/api/")) continue;
      api_all.push_back(r.at);
      if (r.status != 429) api_counted.push_back(r.at);
      if (r.status != 429 &&
          absl::StartsWith(r.path, "/api/v2/persons/search")) {
        search.push_back(r.at);
      }
    }

    absl::PrintF("\nPipedrive\n");
    absl::PrintF("  requests              %d (%s), %d of them API requests\n",
                 f.requests.size(), ratio(f.requests.size(), "%.2f"),
                 api_all.size());
    for (const auto& [endpoint, count] : by_endpoint) {
      absl::PrintF("    %-34s %7d (%s)\n", endpoint, count,
                   ratio(count, "%.2f"));
    }
    absl::PrintF("  429 answers           %d\n", too_many);
    absl::PrintF("  tokens spent          %d (%s)\n", f.tokens_spent,
                 ratio(f.tokens_spent, "%.1f"));
    if (api_all.empty()) return;

    // Requests answered 429 took no slot of the window; the rest did.
    const double limit = options_.burst_limit;
    const absl::Duration busy = api_all.back() - api_all.front();
    absl::PrintF("  busy period           %s (first to last API request)\n",
                 Seconds(busy));
    const int max_counted = MaxInWindow(api_counted, kRateWindow);
    absl::PrintF(
        "  per 2 s, max          %d (%s of the limit %d; rolling "
        "window, 429s excluded)\n",
        max_counted, Percent(max_counted, limit), options_.burst_limit);
    if (auto mean = MeanPerWindow(api_counted, kRateWindow)) {
      absl::PrintF(
          "  per 2 s, mean         %.1f (%s of the limit, over the "
          "busy period)\n",
          *mean, Percent(*mean, limit));
    }
    if (too_many > 0) {
      const int max_all = MaxInWindow(api_all, kRateWindow);
      absl::PrintF(
          "  per 2 s, max sent     %d (%s of the limit; 429s "
          "included)\n",
          max_all, Percent(max_all, limit));
    }
    if (!search.empty()) {
      const int max_search = MaxInWindow(search, kRateWindow);
      absl::PrintF("  search per 2 s, max   %d (%s of the search limit %d)\n",
                   max_search, Percent(max_search, search_burst_limit_),
                   search_burst_limit_);
      if (auto mean = MeanPerWindow(search, kRateWindow)) {
        absl::PrintF(
            "  search per 2 s, mean  %.1f (%s of the search limit, first to "
            "last search)\n",
            *mean, Percent(*mean, search_burst_limit_));
      }
    }
  }

  const BenchOptions options_;
  const std::string key_line_ = TokenCipher::GenerateKeyLine("bench1");
  TemporarySchema schema_;
  std::unique_ptr<sandbox::FakePipedrive> sandbox_;
  ServerProcess server_;
  int64_t company_ = 0;
  int64_t admin_ = 0;
  int search_burst_limit_ = 0;
  std::vector<std::string> passed_settings_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PipedriveSync::Stub> stub_;
  Figures figures_;
};

int Main() {
  absl::StatusOr<BenchOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    absl::FPrintF(stderr, "import_bench: %s\n", options.status().message());
    return 2;
  }

  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  ImportBench bench(*std::move(options));
  const absl::Status s = bench.Run();
  bench.Shutdown();
  if (!s.ok()) {
    absl::FPrintF(stderr, "import_bench: %s\n", s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace wave::pipedrive::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Imports generated contacts through the real server against the "
      "Pipedrive sandbox and prints the import's pace and rate figures.");
  absl::ParseCommandLine(argc, argv);
  return wave::pipedrive::bench::Main();
}
