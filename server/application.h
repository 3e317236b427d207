#ifndef WAVE_SERVER_APPLICATION_H_
#define WAVE_SERVER_APPLICATION_H_

#include "client/http_transport.h"
#include "server/config.h"
#include "server/sync_engine.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include <memory>

namespace wave::pipedrive {

// The whole service wired together: storage, the Pipedrive adapter, the
// sync engine, background delivery, and a gRPC server with the API, the
// health service and reflection.
//
// Start() applies migrations and listens; Shutdown() stops accepting calls,
// lets in-flight calls finish within the grace period, then stops delivery.
class Application {
 public:
  struct Overrides {
    // Replaces the libcurl transport (tests may inject faults).
    std::shared_ptr<HttpTransport> transport;
    std::optional<SyncEngine::Options> engine;
  };

  static absl::StatusOr<std::unique_ptr<Application>> Start(
      const ServerConfig& config, Overrides overrides = {});
  ~Application();

  // The port the server listens on (useful with port 0).
  int port() const { return port_; }

  void Shutdown(absl::Duration grace);
  void Wait();

 private:
  struct Parts;
  explicit Application(std::unique_ptr<Parts> parts);

  std::unique_ptr<Parts> parts_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_APPLICATION_H_
