#include "server/delivery_worker.h"

#include "server/logging.h"

#include "spdlog/spdlog.h"

#include <utility>

namespace wave::pipedrive {
namespace {

// Logs storage trouble without flooding.
void WarnLimited(const std::string& what, const absl::Status& status) {
  static LogLimiter* const kLimiter = new LogLimiter(30);
  if (int64_t held_back = 0; kLimiter->Allow(&held_back)) {
    spdlog::warn("delivery: {}: {} ({} similar messages held back)", what,
                 std::string(status.message()), held_back);
  }
}

}  // namespace

DeliveryWorker::DeliveryWorker(SyncEngine* engine, ContactStore* contacts,
                               LeaseStore* leases, Options options)
    : engine_(engine),
      contacts_(contacts),
      leases_(leases),
      options_(std::move(options)) {}

void DeliveryWorker::Start() {
  threads_.emplace_back([this] { Dispatch(); });
  for (int i = 0; i < options_.parallel_accounts; ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

void DeliveryWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void DeliveryWorker::Wake(const std::string& account_id) {
  absl::MutexLock lock(&mu_);
  if (active_.count(account_id) > 0) {
    rerun_.insert(account_id);
    return;
  }
  woken_.push_back(account_id);
}

bool DeliveryWorker::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void DeliveryWorker::Dispatch() {
  absl::Time next_poll = absl::InfinitePast();
  while (true) {
    std::deque<std::string> woken;
    int free_slots = 0;
    {
      absl::MutexLock lock(&mu_);
      auto has_news = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !woken_.empty();
      };
      mu_.AwaitWithDeadline(absl::Condition(&has_news), next_poll);
      if (stopping_) return;
      woken.swap(woken_);
      free_slots =
          options_.parallel_accounts - static_cast<int>(active_.size());
    }
    std::vector<std::string> claimed;
    for (const std::string& account : woken) {
      auto got = leases_->Claim(account, options_.owner, options_.lease_ttl);
      if (!got.ok()) {
        WarnLimited("cannot claim an account", got.status());
      } else if (*got) {
        claimed.push_back(account);
      }
    }
    if (absl::Now() >= next_poll) {
      next_poll = absl::Now() + options_.poll_interval;
      if (free_slots > 0) {
        auto due = leases_->ClaimDueAccounts(options_.owner, free_slots,
                                             options_.lease_ttl);
        if (!due.ok()) {
          WarnLimited("cannot claim accounts", due.status());
        } else {
          claimed.insert(claimed.end(), due->begin(), due->end());
        }
      }
    }
    absl::MutexLock lock(&mu_);
    for (const std::string& account : claimed) {
      if (active_.insert(account).second) ready_.push_back(account);
    }
  }
}

void DeliveryWorker::Work() {
  while (true) {
    std::string account;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !ready_.empty();
      };
      mu_.Await(absl::Condition(&has_work));
      if (stopping_) return;
      account = ready_.front();
      ready_.pop_front();
    }
    RunAccount(account);
    absl::MutexLock lock(&mu_);
    active_.erase(account);
    rerun_.erase(account);
  }
}

void DeliveryWorker::RunAccount(const std::string& account_id) {
  while (!Stopping()) {
    auto due = contacts_->DueContactsOf(account_id, options_.batch_size);
    if (!due.ok()) {
      WarnLimited("cannot read the queue", due.status());
      break;
    }
    if (due->empty()) {
      // A change accepted while this round ran gets another round.
      absl::MutexLock lock(&mu_);
      if (rerun_.erase(account_id) > 0) continue;
      break;
    }
    bool paused = false;
    bool progress = false;
    for (const std::string& contact_id : *due) {
      if (Stopping()) break;
      auto report = engine_->Deliver(account_id, contact_id,
                                     /*skip_locked=*/true);
      if (!report.ok()) {
        WarnLimited("delivery failed", report.status());
        continue;
      }
      progress |= report->attempted;
      if (report->paused) {
        paused = true;
        break;
      }
    }
    auto renewed =
        leases_->Renew(account_id, options_.owner, options_.lease_ttl);
    // Nothing could be tried (the account is not deliverable now, or
    // another process holds its contacts): leave it for a later claim.
    if (!renewed.ok() || !*renewed || paused || !progress) break;
  }
  if (absl::Status s = leases_->Release(account_id, options_.owner); !s.ok()) {
    WarnLimited("cannot release a lease", s);
  }
}

}  // namespace wave::pipedrive
