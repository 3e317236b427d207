// pipedrive-sandbox: a local Pipedrive for trying the service without a
// Pipedrive account. Seeds one company with three users and serves until
// SIGINT or SIGTERM.

#include "client/sandbox/fake_pipedrive.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"

#include <csignal>
#include <cstdio>
#include <string>

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 8081, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(std::string, client_id, "wave-sandbox-client",
          "The OAuth client id the sandbox accepts.");
ABSL_FLAG(std::string, client_secret, "wave-sandbox-secret",
          "The OAuth client secret the sandbox accepts.");
ABSL_FLAG(int, burst_limit, 80, "Requests per rolling 2 s per access token.");
ABSL_FLAG(bool, deal_scope, true,
          "Whether the app holds deals:read; without it GET "
          "/api/v2/dealFields/channel answers 403.");

namespace {

using wave::pipedrive::sandbox::FakePipedrive;

void Seed(FakePipedrive& sandbox) {
  const int64_t company = sandbox.AddCompany("Acme Sales", "acme-sales");
  sandbox.AddUser(company, "Alice Admin", "alice@acme.example");
  sandbox.AddUser(company, "Bob Seller", "bob@acme.example");
  sandbox.AddUser(company, "Carol Closer", "carol@acme.example");
  // Pipedrive's default "Source channel" options, plus one an admin added.
  const char* const kChannels[] = {
      "Prospector",      "Lead Suggestions", "Web forms", "Chatbot",
      "Live chat",       "Web visitors",     "Campaigns", "Marketplace",
      "Messaging Inbox", "Wave Connect"};
  int64_t id = 64;
  for (const char* label : kChannels) {
    sandbox.AddChannelOption(company, id++, label);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals before any thread starts, so that every server
  // thread inherits the mask and only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  wave::pipedrive::sandbox::SandboxOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.client_id = absl::GetFlag(FLAGS_client_id);
  options.client_secret = absl::GetFlag(FLAGS_client_secret);
  options.burst_limit = absl::GetFlag(FLAGS_burst_limit);
  options.deal_scope = absl::GetFlag(FLAGS_deal_scope);
  FakePipedrive sandbox(options);
  Seed(sandbox);
  const absl::Status started = sandbox.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "pipedrive sandbox: %s\n", started.ToString().c_str());
    return 1;
  }

  // Scripts wait for this exact line on stdout.
  std::printf("pipedrive sandbox listening on %s\n",
              sandbox.base_url().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  sandbox.Stop();
  return 0;
}
