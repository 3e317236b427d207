#ifndef WAVE_SERVER_CONFIG_H_
#define WAVE_SERVER_CONFIG_H_

#include "absl/status/statusor.h"

#include <string>

namespace wave::pipedrive {

// The server's configuration, from flags, else environment variables (the
// flag name in capitals), else defaults. Secrets can come from files.
struct ServerConfig {
  std::string listen_address = "0.0.0.0:50051";
  std::string database_url;
  int db_pool_size = 8;
  std::string pipedrive_client_id;
  std::string pipedrive_client_secret;
  std::string pipedrive_redirect_uri;
  std::string pipedrive_oauth_url = "https://oauth.pipedrive.com";
  // "key-id:base64" lines; the first encrypts.
  std::string token_encryption_keys;
  // Base64 of at least 32 bytes.
  std::string state_signing_key;
  // "service-name:token" lines; empty disables caller tokens.
  std::string caller_tokens;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  std::string log_level = "info";
  bool migrate_only = false;
  int worker_poll_ms = 1000;
  // How long a process keeps an account after it stops renewing (a crash).
  int lease_ttl_ms = 30000;
  // How long SyncContact and DeleteContact wait for delivery.
  int sync_wait_ms = 2000;
  // Retry backoff after a failed delivery: full jitter under a ceiling
  // that starts at the base and doubles up to the cap.
  int retry_base_ms = 5000;
  int retry_cap_ms = 30 * 60 * 1000;
  // Accounts delivered at once by a process, and contacts of one account
  // delivered at once. Each contact in flight holds a database connection
  // of a pool of its own (accounts x concurrency connections).
  int delivery_accounts = 4;
  int delivery_concurrency = 4;
};

// Reads the parsed flags and the environment. Errors name the setting that
// is missing or wrong, never a secret's value.
absl::StatusOr<ServerConfig> LoadConfig();

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_CONFIG_H_
