#include "server/delivery_worker.h"

#include "server/logging.h"

#include "spdlog/spdlog.h"

namespace wave::pipedrive {

void DeliveryWorker::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void DeliveryWorker::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

int DeliveryWorker::RunOnce() {
  auto due = contacts_->DueChanges(options_.batch_size);
  if (!due.ok()) {
    spdlog::warn("delivery worker: cannot read the queue: {}",
                 std::string(due.status().message()));
    return 0;
  }
  int attempted = 0;
  for (const auto& [account_id, contact_id] : *due) {
    if (stop_.HasBeenNotified()) break;
    auto report = engine_->Deliver(account_id, contact_id,
                                   /*skip_locked=*/true);
    if (!report.ok()) {
      static LogLimiter* const kLimiter = new LogLimiter(30);
      if (int64_t held_back = 0; kLimiter->Allow(&held_back)) {
        spdlog::warn(
            "account {} contact {}: delivery failed: {} ({} similar "
            "messages held back)",
            account_id, contact_id, std::string(report.status().message()),
            held_back);
      }
      continue;
    }
    if (report->attempted) ++attempted;
  }
  return attempted;
}

void DeliveryWorker::Loop() {
  while (!stop_.HasBeenNotified()) {
    const int attempted = RunOnce();
    // A full batch means more may be due: go on without waiting.
    if (attempted < options_.batch_size) {
      stop_.WaitForNotificationWithTimeout(options_.poll_interval);
    }
  }
}

}  // namespace wave::pipedrive
