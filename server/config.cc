#include "server/config.h"

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

ABSL_FLAG(std::string, listen_address, "",
          "host:port to serve gRPC on (LISTEN_ADDRESS; default "
          "0.0.0.0:50051)");
ABSL_FLAG(std::string, database_url, "",
          "libpq connection string or URI (DATABASE_URL)");
ABSL_FLAG(std::string, database_url_file, "",
          "file holding the database URL (DATABASE_URL_FILE)");
ABSL_FLAG(std::string, db_pool_size, "",
          "PostgreSQL connections per process (DB_POOL_SIZE; default 8)");
ABSL_FLAG(std::string, pipedrive_client_id, "",
          "Pipedrive app client id (PIPEDRIVE_CLIENT_ID)");
ABSL_FLAG(std::string, pipedrive_client_secret_file, "",
          "file holding the Pipedrive app client secret "
          "(PIPEDRIVE_CLIENT_SECRET_FILE, or PIPEDRIVE_CLIENT_SECRET)");
ABSL_FLAG(std::string, pipedrive_redirect_uri, "",
          "OAuth callback URL registered for the Pipedrive app "
          "(PIPEDRIVE_REDIRECT_URI)");
ABSL_FLAG(std::string, pipedrive_oauth_url, "",
          "Pipedrive OAuth server (PIPEDRIVE_OAUTH_URL; default "
          "https://oauth.pipedrive.com)");
ABSL_FLAG(std::string, token_encryption_keys_file, "",
          "file of 'key-id:base64key' lines; the first encrypts "
          "(TOKEN_ENCRYPTION_KEYS_FILE, or TOKEN_ENCRYPTION_KEYS)");
ABSL_FLAG(std::string, state_signing_key_file, "",
          "file holding the base64 key that signs OAuth state "
          "(STATE_SIGNING_KEY_FILE, or STATE_SIGNING_KEY)");
ABSL_FLAG(std::string, caller_tokens_file, "",
          "file of 'service-name:token' lines accepted as bearer tokens "
          "(CALLER_TOKENS_FILE); none: callers are not checked");
ABSL_FLAG(std::string, tls_cert_file, "", "server certificate (TLS_CERT_FILE)");
ABSL_FLAG(std::string, tls_key_file, "", "server private key (TLS_KEY_FILE)");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "CA for client certificates; set: clients must present one "
          "(TLS_CLIENT_CA_FILE)");
ABSL_FLAG(std::string, log_level, "",
          "debug, info, warning or error (LOG_LEVEL; default info)");
ABSL_FLAG(bool, migrate_only, false, "apply the database migrations and exit");
ABSL_FLAG(std::string, lease_ttl_ms, "",
          "how long an account stays with a process that stopped renewing "
          "its lease (LEASE_TTL_MS; default 30000)");
ABSL_FLAG(std::string, sync_wait_ms, "",
          "how long SyncContact and DeleteContact wait for delivery before "
          "answering QUEUED (SYNC_WAIT_MS; default 2000)");
ABSL_FLAG(std::string, retry_base_ms, "",
          "first retry backoff ceiling after a failed delivery "
          "(RETRY_BASE_MS; default 5000)");
ABSL_FLAG(std::string, retry_cap_ms, "",
          "largest retry backoff (RETRY_CAP_MS; default 1800000)");
ABSL_FLAG(std::string, delivery_accounts, "",
          "accounts a process delivers at once (DELIVERY_ACCOUNTS; default "
          "4)");
ABSL_FLAG(std::string, delivery_concurrency, "",
          "contacts of one account delivered at once "
          "(DELIVERY_CONCURRENCY; default 4)");
ABSL_FLAG(std::string, worker_poll_ms, "",
          "how often background delivery looks for due changes "
          "(WORKER_POLL_MS; default 1000)");

namespace wave::pipedrive {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// The flag if set, else the environment variable, else `fallback`.
std::string Setting(const absl::Flag<std::string>& flag, const char* env,
                    const std::string& fallback = "") {
  std::string value = absl::GetFlag(flag);
  if (value.empty()) value = Env(env);
  return value.empty() ? fallback : value;
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path,
                                           const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the ", what, " file ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(buffer.str()));
}

// A secret from the file named by the flag or `file_env`, else from the
// environment variable `value_env`.
absl::StatusOr<std::string> Secret(const absl::Flag<std::string>& file_flag,
                                   const char* file_env, const char* value_env,
                                   const char* what) {
  const std::string path = Setting(file_flag, file_env);
  if (!path.empty()) return ReadSecretFile(path, what);
  return Env(value_env);
}

absl::StatusOr<int> PositiveInt(const std::string& text, const char* name,
                                int fallback) {
  if (text.empty()) return fallback;
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": expected a positive integer"));
  }
  return value;
}

}  // namespace

absl::StatusOr<ServerConfig> LoadConfig() {
  ServerConfig c;
  c.listen_address =
      Setting(FLAGS_listen_address, "LISTEN_ADDRESS", c.listen_address);
  c.database_url = Setting(FLAGS_database_url, "DATABASE_URL");
  if (c.database_url.empty()) {
    auto url = Secret(FLAGS_database_url_file, "DATABASE_URL_FILE", "",
                      "database URL");
    if (!url.ok()) return url.status();
    c.database_url = *url;
  }
  auto pool = PositiveInt(Setting(FLAGS_db_pool_size, "DB_POOL_SIZE"),
                          "db_pool_size", c.db_pool_size);
  if (!pool.ok()) return pool.status();
  c.db_pool_size = *pool;
  c.pipedrive_client_id =
      Setting(FLAGS_pipedrive_client_id, "PIPEDRIVE_CLIENT_ID");
  auto secret =
      Secret(FLAGS_pipedrive_client_secret_file, "PIPEDRIVE_CLIENT_SECRET_FILE",
             "PIPEDRIVE_CLIENT_SECRET", "Pipedrive client secret");
  if (!secret.ok()) return secret.status();
  c.pipedrive_client_secret = *secret;
  c.pipedrive_redirect_uri =
      Setting(FLAGS_pipedrive_redirect_uri, "PIPEDRIVE_REDIRECT_URI");
  c.pipedrive_oauth_url = Setting(FLAGS_pipedrive_oauth_url,
                                  "PIPEDRIVE_OAUTH_URL", c.pipedrive_oauth_url);
  auto keys =
      Secret(FLAGS_token_encryption_keys_file, "TOKEN_ENCRYPTION_KEYS_FILE",
             "TOKEN_ENCRYPTION_KEYS", "token encryption keys");
  if (!keys.ok()) return keys.status();
  c.token_encryption_keys = *keys;
  auto state_key =
      Secret(FLAGS_state_signing_key_file, "STATE_SIGNING_KEY_FILE",
             "STATE_SIGNING_KEY", "state signing key");
  if (!state_key.ok()) return state_key.status();
  c.state_signing_key = *state_key;
  const std::string callers =
      Setting(FLAGS_caller_tokens_file, "CALLER_TOKENS_FILE");
  if (!callers.empty()) {
    auto tokens = ReadSecretFile(callers, "caller tokens");
    if (!tokens.ok()) return tokens.status();
    c.caller_tokens = *tokens;
  }
  c.tls_cert_file = Setting(FLAGS_tls_cert_file, "TLS_CERT_FILE");
  c.tls_key_file = Setting(FLAGS_tls_key_file, "TLS_KEY_FILE");
  c.tls_client_ca_file =
      Setting(FLAGS_tls_client_ca_file, "TLS_CLIENT_CA_FILE");
  c.log_level = Setting(FLAGS_log_level, "LOG_LEVEL", c.log_level);
  c.migrate_only = absl::GetFlag(FLAGS_migrate_only);
  const struct {
    const absl::Flag<std::string>& flag;
    const char* env;
    const char* name;
    int& value;
  } numbers[] = {
      {FLAGS_worker_poll_ms, "WORKER_POLL_MS", "worker_poll_ms",
       c.worker_poll_ms},
      {FLAGS_lease_ttl_ms, "LEASE_TTL_MS", "lease_ttl_ms", c.lease_ttl_ms},
      {FLAGS_sync_wait_ms, "SYNC_WAIT_MS", "sync_wait_ms", c.sync_wait_ms},
      {FLAGS_retry_base_ms, "RETRY_BASE_MS", "retry_base_ms", c.retry_base_ms},
      {FLAGS_retry_cap_ms, "RETRY_CAP_MS", "retry_cap_ms", c.retry_cap_ms},
      {FLAGS_delivery_accounts, "DELIVERY_ACCOUNTS", "delivery_accounts",
       c.delivery_accounts},
      {FLAGS_delivery_concurrency, "DELIVERY_CONCURRENCY",
       "delivery_concurrency", c.delivery_concurrency},
  };
  for (const auto& m : numbers) {
    auto value = PositiveInt(Setting(m.flag, m.env), m.name, m.value);
    if (!value.ok()) return value.status();
    m.value = *value;
  }

  if (c.database_url.empty()) {
    return absl::InvalidArgumentError(
        "database_url: set --database_url, DATABASE_URL or DATABASE_URL_FILE");
  }
  if (c.migrate_only) return c;
  const struct {
    const std::string& value;
    const char* name;
  } required[] = {
      {c.pipedrive_client_id, "pipedrive_client_id (PIPEDRIVE_CLIENT_ID)"},
      {c.pipedrive_client_secret,
       "pipedrive_client_secret (PIPEDRIVE_CLIENT_SECRET_FILE)"},
      {c.pipedrive_redirect_uri,
       "pipedrive_redirect_uri (PIPEDRIVE_REDIRECT_URI)"},
      {c.token_encryption_keys,
       "token_encryption_keys (TOKEN_ENCRYPTION_KEYS_FILE)"},
      {c.state_signing_key, "state_signing_key (STATE_SIGNING_KEY_FILE)"},
  };
  for (const auto& r : required) {
    if (r.value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(r.name, ": required"));
    }
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert_file and tls_key_file: set both or neither");
  }
  return c;
}

}  // namespace wave::pipedrive
