#ifndef WAVE_TESTS_E2E_E2E_FIXTURE_H_
#define WAVE_TESTS_E2E_E2E_FIXTURE_H_

#include "client/sandbox/fake_pipedrive.h"
#include "server/application.h"
#include "storage/token_cipher.h"
#include "wave/integrations/pipedrive/v1/pipedrive_sync.grpc.pb.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

#include <arpa/inet.h>
#include <cstdlib>
#include <memory>
#include <netinet/in.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace wave::pipedrive::testing {

namespace v1 = ::wave::integrations::pipedrive::v1;

inline constexpr char kClientId[] = "wave-test-app";
inline constexpr char kClientSecret[] = "test-secret-0123456789";
inline constexpr char kStateKey[] =
    "c3RhdGUtc2lnbmluZy1rZXktZm9yLXRlc3RzLTAxMjM0NTY3";
inline constexpr char kRedirectUri[] =
    "https://app.wave.example/integrations/pipedrive/callback";

// Polls `done` until it holds or `limit` passes; background delivery takes
// a few worker polls.
template <typename F>
bool Eventually(F done, absl::Duration limit = absl::Seconds(20)) {
  const absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return done();
}

// A loopback port nobody listens on right now.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The database the test runner (tests/with_postgres.sh) created.
inline std::string SharedDatabaseUrl() {
  const char* url = std::getenv("WAVE_TEST_DATABASE_URL");
  return url == nullptr ? "" : url;
}

// Runs the whole service against the real PostgreSQL and the Pipedrive
// sandbox over loopback HTTP, and talks to it through a real gRPC channel.
// Each test gets fresh account ids, so tests share one database safely.
class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(SharedDatabaseUrl().empty())
        << "WAVE_TEST_DATABASE_URL is not set: run the tests with "
           "'make test' (tests/with_postgres.sh)";
    // A schema of its own: tests run in parallel, and a process of one test
    // must not pick up another test's accounts (their keys differ).
    schema_ =
        absl::StrCat("t_", absl::Hex(absl::Uniform<uint64_t>(absl::BitGen())));
    {
      pqxx::connection conn(SharedDatabaseUrl());
      pqxx::work tx(conn);
      tx.exec0(absl::StrCat("CREATE SCHEMA ", schema_));
      tx.commit();
    }
    sandbox::SandboxOptions sandbox_options;
    sandbox_options.client_id = kClientId;
    sandbox_options.client_secret = kClientSecret;
    sandbox_options.daily_token_budget = daily_token_budget_;
    sandbox_options.burst_limit = burst_limit_;
    sandbox_ = std::make_unique<sandbox::FakePipedrive>(sandbox_options);
    company_ = sandbox_->AddCompany("Acme Sales", "acme-sales");
    admin_ = sandbox_->AddUser(company_, "Alice Admin", "alice@acme.example");
    seller_ = sandbox_->AddUser(company_, "Bob Seller", "Bob@Acme.example");
    sandbox_->AddUser(company_, "Former Employee", "gone@acme.example",
                      /*active=*/false);
    ASSERT_TRUE(sandbox_->Start().ok());
    account_ = UniqueId("acct");
    StartServer();
  }

  void TearDown() override {
    app_.reset();
    if (sandbox_ != nullptr) sandbox_->Stop();
    if (!schema_.empty()) {
      pqxx::connection conn(SharedDatabaseUrl());
      pqxx::work tx(conn);
      tx.exec0(absl::StrCat("DROP SCHEMA ", schema_, " CASCADE"));
      tx.commit();
    }
  }

  // This test's database: the shared one, with its own schema first on the
  // search path.
  std::string TestDatabaseUrl() const {
    return absl::StrCat(SharedDatabaseUrl(),
                        " options='-csearch_path=", schema_, "'");
  }

  ServerConfig Config() {
    ServerConfig config;
    config.listen_address = "127.0.0.1:0";
    config.database_url = TestDatabaseUrl();
    config.db_pool_size = 8;
    config.pipedrive_client_id = kClientId;
    config.pipedrive_client_secret = kClientSecret;
    config.pipedrive_redirect_uri = kRedirectUri;
    config.pipedrive_oauth_url = sandbox_->base_url();
    config.token_encryption_keys = key_line_;
    config.state_signing_key = kStateKey;
    config.caller_tokens = caller_tokens_;
    config.worker_poll_ms = 50;
    config.lease_ttl_ms = 2000;
    config.delivery_accounts = delivery_accounts_;
    config.sync_wait_ms = sync_wait_ms_;
    return config;
  }

  void StartServer() {
    Application::Overrides overrides;
    SyncEngine::Options engine;
    engine.retry_base = absl::Milliseconds(50);
    engine.retry_cap = absl::Milliseconds(200);
    engine.access_pause = absl::Milliseconds(500);
    engine.budget_pause = absl::Milliseconds(500);
    engine.users_reload_interval = absl::ZeroDuration();
    overrides.engine = engine;
    auto app = Application::Start(Config(), overrides);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::PipedriveSync::NewStub(channel_);
  }

  // Starts the real server binary on `listen`, configured by environment
  // variables as a deployment does; returns its pid, or -1.
  pid_t SpawnServer(const std::string& listen) {
    std::vector<std::string> env = {
        absl::StrCat("LISTEN_ADDRESS=", listen),
        absl::StrCat("DATABASE_URL=", TestDatabaseUrl()),
        absl::StrCat("PIPEDRIVE_CLIENT_ID=", kClientId),
        absl::StrCat("PIPEDRIVE_CLIENT_SECRET=", kClientSecret),
        absl::StrCat("PIPEDRIVE_REDIRECT_URI=", kRedirectUri),
        absl::StrCat("PIPEDRIVE_OAUTH_URL=", sandbox_->base_url()),
        absl::StrCat("TOKEN_ENCRYPTION_KEYS=", key_line_),
        absl::StrCat("STATE_SIGNING_KEY=", kStateKey),
        "WORKER_POLL_MS=50",
        "LEASE_TTL_MS=2000",
        "RETRY_BASE_MS=100",
        "RETRY_CAP_MS=1000",
        "LOG_LEVEL=warning"};
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string binary = WAVE_SERVER_BINARY;
    char* argv[] = {binary.data(), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv,
                    envp.data()) != 0) {
      return -1;
    }
    return pid;
  }

  static std::string UniqueId(const std::string& prefix) {
    static absl::BitGen gen;
    return absl::StrCat(prefix, "-", absl::Uniform<uint64_t>(gen));
  }

  // Runs the OAuth flow for `account` as `user` of `company`.
  grpc::Status Connect(const std::string& account, int64_t company,
                       int64_t user, v1::Integration* out,
                       bool auto_sync = false) {
    grpc::ClientContext url_context;
    v1::GetAuthorizationUrlRequest url_request;
    url_request.set_account_id(account);
    v1::GetAuthorizationUrlResponse url;
    grpc::Status s =
        stub_->GetAuthorizationUrl(&url_context, url_request, &url);
    if (!s.ok()) return s;
    grpc::ClientContext context;
    v1::ConnectIntegrationRequest request;
    request.set_account_id(account);
    request.set_code(
        sandbox_->IssueAuthorizationCode(company, user, kRedirectUri));
    request.set_state(url.state());
    request.set_auto_sync(auto_sync);
    return stub_->ConnectIntegration(&context, request, out);
  }

  void ConnectAccount() {
    v1::Integration integration;
    grpc::Status s = Connect(account_, company_, admin_, &integration);
    ASSERT_TRUE(s.ok()) << s.error_message();
    sandbox_->ClearRequests();
  }

  static v1::Contact JaneDoe(const std::string& id, int64_t version) {
    v1::Contact c;
    c.set_contact_id(id);
    c.set_version(version);
    c.set_first_name("Jane");
    c.set_last_name("Doe");
    auto* work = c.add_emails();
    work->set_value("jane@example.com");
    work->set_label("work");
    work->set_primary(true);
    auto* home = c.add_emails();
    home->set_value("jane.doe@home.example");
    home->set_label("personal");
    auto* mobile = c.add_phones();
    mobile->set_value("+1 415 555 0100");
    mobile->set_label("cell");
    c.set_job_title("VP Sales");
    c.set_company("Example Inc");
    c.set_owner_email("bob@acme.example");
    return c;
  }

  grpc::Status Sync(const v1::Contact& contact, v1::SyncContactResponse* out,
                    const std::string& account = "") {
    grpc::ClientContext context;
    v1::SyncContactRequest request;
    request.set_account_id(account.empty() ? account_ : account);
    *request.mutable_contact() = contact;
    return stub_->SyncContact(&context, request, out);
  }

  grpc::Status Delete(const std::string& contact_id, int64_t version,
                      v1::DeleteContactResponse* out) {
    grpc::ClientContext context;
    v1::DeleteContactRequest request;
    request.set_account_id(account_);
    request.set_contact_id(contact_id);
    request.set_version(version);
    return stub_->DeleteContact(&context, request, out);
  }

  grpc::Status GetContact(const std::string& contact_id, v1::ContactSync* out) {
    grpc::ClientContext context;
    v1::GetContactSyncRequest request;
    request.set_account_id(account_);
    request.set_contact_id(contact_id);
    return stub_->GetContactSync(&context, request, out);
  }

  grpc::Status GetIntegration(v1::Integration* out) {
    grpc::ClientContext context;
    v1::GetIntegrationRequest request;
    request.set_account_id(account_);
    return stub_->GetIntegration(&context, request, out);
  }

  grpc::Status Disconnect(v1::Integration* out) {
    grpc::ClientContext context;
    v1::DisconnectIntegrationRequest request;
    request.set_account_id(account_);
    return stub_->DisconnectIntegration(&context, request, out);
  }

  // Live (not deleted) records in the sandbox company.
  std::vector<sandbox::PersonRecord> LivePersons(int64_t company) const {
    std::vector<sandbox::PersonRecord> live;
    for (auto& p : sandbox_->Persons(company)) {
      if (!p.is_deleted) live.push_back(p);
    }
    return live;
  }
  std::vector<sandbox::LeadRecord> LiveLeads(int64_t company) const {
    std::vector<sandbox::LeadRecord> live;
    for (auto& l : sandbox_->Leads(company)) {
      if (!l.is_deleted) live.push_back(l);
    }
    return live;
  }

  // API calls (not OAuth, not control) the sandbox received.
  int ApiCalls() const {
    int n = 0;
    for (const auto& r : sandbox_->Requests()) {
      if (r.path.rfind("/api/", 0) == 0) ++n;
    }
    return n;
  }

  // The integration's stored refresh token, decrypted with the test key.
  std::string StoredRefreshToken() {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    pqxx::result rows = tx.exec_params(
        "SELECT refresh_token_enc FROM integrations WHERE account_id = $1",
        account_);
    if (rows.empty() || rows[0][0].is_null()) return "";
    auto cipher = TokenCipher::FromKeyFile(key_line_);
    auto token = cipher->Decrypt(
        rows[0][0].as<std::string>(),
        absl::StrCat("integration:", account_, ":refresh_token"));
    return token.ok() ? *token : "";
  }

  std::string schema_;
  std::string key_line_ = TokenCipher::GenerateKeyLine("test1");
  std::string caller_tokens_;
  int64_t daily_token_budget_ = 300000;
  int burst_limit_ = 80;
  int delivery_accounts_ = 4;
  int sync_wait_ms_ = 2000;
  std::unique_ptr<sandbox::FakePipedrive> sandbox_;
  int64_t company_ = 0;
  int64_t admin_ = 0;
  int64_t seller_ = 0;
  std::string account_;
  std::unique_ptr<Application> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PipedriveSync::Stub> stub_;
};

}  // namespace wave::pipedrive::testing

#endif  // WAVE_TESTS_E2E_E2E_FIXTURE_H_
