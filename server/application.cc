#include "server/application.h"

#include "client/curl_http_transport.h"
#include "client/curl_pipedrive_client.h"
#include "client/rate_limited_transport.h"
#include "server/caller_auth.h"
#include "server/delivery_worker.h"
#include "server/integration_manager.h"
#include "server/oauth_state.h"
#include "server/pipedrive_sync_service.h"
#include "server/token_manager.h"
#include "storage/contact_store.h"
#include "storage/integration_store.h"
#include "storage/lease_store.h"
#include "storage/migrator.h"
#include "storage/pg_pool.h"
#include "storage/token_cipher.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "spdlog/spdlog.h"

#include <fstream>
#include <sstream>
#include <unistd.h>
#include <utility>

namespace wave::pipedrive {
namespace {

constexpr char kServiceName[] = "wave.integrations.pipedrive.v1.PipedriveSync";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile(config.tls_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(config.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.tls_client_ca_file.empty()) {
    auto ca = ReadFile(config.tls_client_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// Names this process in the leases table: host, pid and a random part, so
// that a restarted process never mistakes an old lease for its own.
std::string ProcessIdentity() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  absl::BitGen gen;
  return absl::StrCat(host, ":", getpid(), ":",
                      absl::Hex(absl::Uniform<uint32_t>(gen)));
}

}  // namespace

// Declared in dependency order: destroyed in reverse.
struct Application::Parts {
  std::unique_ptr<PgPool> pool;
  std::unique_ptr<PgPool> side_pool;
  std::unique_ptr<PgPool> delivery_pool;
  std::unique_ptr<TokenCipher> cipher;
  std::unique_ptr<OAuthStateSigner> signer;
  std::unique_ptr<CallerAuthenticator> auth;
  std::shared_ptr<HttpTransport> transport;
  std::unique_ptr<PipedriveClient> pipedrive;
  std::unique_ptr<IntegrationStore> integrations;
  std::unique_ptr<IntegrationStore> token_integrations;
  std::unique_ptr<ContactStore> contacts;
  std::unique_ptr<LeaseStore> leases;
  std::unique_ptr<TokenManager> tokens;
  std::unique_ptr<SyncEngine> engine;
  std::unique_ptr<IntegrationManager> manager;
  std::unique_ptr<PipedriveSyncService> service;
  std::unique_ptr<DeliveryWorker> worker;
  std::unique_ptr<grpc::Server> server;
};

Application::Application(std::unique_ptr<Parts> parts)
    : parts_(std::move(parts)) {}

Application::~Application() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<Application>> Application::Start(
    const ServerConfig& config, Overrides overrides) {
  auto p = std::make_unique<Parts>();
  p->pool = std::make_unique<PgPool>(config.database_url, config.db_pool_size);
  // Token refreshes and create intents get connections of their own, so
  // that a delivery holding a connection never waits for a second one.
  p->side_pool = std::make_unique<PgPool>(config.database_url, 4);
  // Each contact in delivery holds a connection while Pipedrive answers;
  // a pool of their own keeps API calls from waiting behind an import.
  p->delivery_pool = std::make_unique<PgPool>(
      config.database_url,
      config.delivery_accounts * config.delivery_concurrency);
  if (absl::Status s = ApplyMigrations(*p->pool, BuiltInMigrations());
      !s.ok()) {
    return s;
  }

  auto cipher = TokenCipher::FromKeyFile(config.token_encryption_keys);
  if (!cipher.ok()) return cipher.status();
  p->cipher = std::make_unique<TokenCipher>(*std::move(cipher));
  auto signer = OAuthStateSigner::FromBase64Key(config.state_signing_key);
  if (!signer.ok()) return signer.status();
  p->signer = std::make_unique<OAuthStateSigner>(*std::move(signer));
  auto auth = CallerAuthenticator::FromTokenFile(config.caller_tokens);
  if (!auth.ok()) return auth.status();
  p->auth = std::make_unique<CallerAuthenticator>(*std::move(auth));
  if (!p->auth->enabled()) {
    spdlog::warn("no caller tokens configured: every caller is accepted");
  }

  // Every call is paced per access token within Pipedrive's burst window;
  // account leases make this process the only one using the token.
  p->transport = std::make_shared<RateLimitedTransport>(
      overrides.transport != nullptr ? overrides.transport
                                     : std::make_shared<CurlHttpTransport>());
  PipedriveClientOptions client_options;
  client_options.oauth_base_url = config.pipedrive_oauth_url;
  client_options.client_id = config.pipedrive_client_id;
  client_options.client_secret = config.pipedrive_client_secret;
  p->pipedrive =
      std::make_unique<CurlPipedriveClient>(p->transport, client_options);

  p->integrations =
      std::make_unique<IntegrationStore>(p->pool.get(), p->cipher.get());
  p->token_integrations =
      std::make_unique<IntegrationStore>(p->side_pool.get(), p->cipher.get());
  p->contacts = std::make_unique<ContactStore>(
      p->pool.get(), p->side_pool.get(), p->delivery_pool.get());
  p->tokens = std::make_unique<TokenManager>(p->token_integrations.get(),
                                             p->pipedrive.get());
  p->leases = std::make_unique<LeaseStore>(p->pool.get());
  SyncEngine::Options engine_options =
      overrides.engine.value_or(SyncEngine::Options{});
  engine_options.sync_wait = absl::Milliseconds(config.sync_wait_ms);
  if (!overrides.engine.has_value()) {
    engine_options.retry_base = absl::Milliseconds(config.retry_base_ms);
    engine_options.retry_cap = absl::Milliseconds(config.retry_cap_ms);
  }
  p->engine = std::make_unique<SyncEngine>(
      p->integrations.get(), p->token_integrations.get(), p->contacts.get(),
      p->tokens.get(), p->pipedrive.get(), engine_options);
  IntegrationManager::Options manager_options;
  manager_options.oauth_base_url = config.pipedrive_oauth_url;
  manager_options.client_id = config.pipedrive_client_id;
  manager_options.redirect_uri = config.pipedrive_redirect_uri;
  p->manager = std::make_unique<IntegrationManager>(
      p->integrations.get(), p->pipedrive.get(), p->signer.get(),
      manager_options);
  p->service = std::make_unique<PipedriveSyncService>(
      p->auth.get(), p->manager.get(), p->engine.get(),
      PipedriveSyncService::Options{});

  auto credentials = ServerCredentialsFor(config);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(config.listen_address, *credentials, &port);
  builder.RegisterService(p->service.get());
  p->server = builder.BuildAndStart();
  if (p->server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address));
  }
  p->server->GetHealthCheckService()->SetServingStatus(kServiceName, true);

  DeliveryWorker::Options worker_options;
  worker_options.owner = ProcessIdentity();
  worker_options.poll_interval = absl::Milliseconds(config.worker_poll_ms);
  worker_options.lease_ttl = absl::Milliseconds(config.lease_ttl_ms);
  worker_options.parallel_accounts = config.delivery_accounts;
  worker_options.account_concurrency = config.delivery_concurrency;
  p->worker = std::make_unique<DeliveryWorker>(
      p->engine.get(), p->contacts.get(), p->leases.get(), worker_options);
  DeliveryWorker* worker = p->worker.get();
  p->engine->SetWakeCallback(
      [worker](const std::string& account) { worker->Wake(account); });
  p->worker->Start();

  auto app = std::unique_ptr<Application>(new Application(std::move(p)));
  app->port_ = port;
  return app;
}

void Application::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  parts_->server->GetHealthCheckService()->Shutdown();
  parts_->server->Shutdown(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(absl::ToInt64Milliseconds(grace)));
  parts_->worker->Stop();
}

void Application::Wait() { parts_->server->Wait(); }

}  // namespace wave::pipedrive
