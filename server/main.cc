// pipedrive-sync-server: syncs Wave Connect contacts into Pipedrive.

#include "server/application.h"
#include "server/config.h"
#include "server/logging.h"
#include "storage/migrator.h"
#include "storage/pg_pool.h"

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "spdlog/spdlog.h"

#include <csignal>
#include <thread>

namespace {

// Blocks SIGINT and SIGTERM in every thread, so that one thread can wait
// for them with sigwait.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves the Wave to Pipedrive sync API over gRPC. Every flag can also "
      "be set as an environment variable named like it in capitals.");
  absl::ParseCommandLine(argc, argv);
  const sigset_t stop_signals = BlockStopSignals();

  auto config = wave::pipedrive::LoadConfig();
  if (!config.ok()) {
    fprintf(stderr, "configuration error: %s\n",
            std::string(config.status().message()).c_str());
    return 2;
  }
  if (auto s = wave::pipedrive::InitLogging(config->log_level); !s.ok()) {
    fprintf(stderr, "configuration error: %s\n",
            std::string(s.message()).c_str());
    return 2;
  }

  if (config->migrate_only) {
    wave::pipedrive::PgPool pool(config->database_url, 1);
    absl::Status s = wave::pipedrive::ApplyMigrations(
        pool, wave::pipedrive::BuiltInMigrations());
    if (!s.ok()) {
      spdlog::error("migration failed: {}", std::string(s.message()));
      return 1;
    }
    spdlog::info("database schema is up to date");
    return 0;
  }

  auto app = wave::pipedrive::Application::Start(*config);
  if (!app.ok()) {
    spdlog::error("cannot start: {}", std::string(app.status().message()));
    return 1;
  }
  spdlog::info("listening on {} (port {}); Pipedrive OAuth at {}",
               config->listen_address, (*app)->port(),
               config->pipedrive_oauth_url);

  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("signal {} received: draining in-flight calls", signal);
    (*app)->Shutdown(absl::Seconds(20));
  });
  (*app)->Wait();
  stopper.join();
  spdlog::info("stopped");
  return 0;
}
