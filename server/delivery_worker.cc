#include "server/delivery_worker.h"

#include "server/logging.h"

#include "spdlog/spdlog.h"

#include <algorithm>
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
  const int lanes =
      options_.parallel_accounts * std::max(1, options_.account_concurrency);
  for (int i = 0; i < lanes; ++i) {
    threads_.emplace_back([this] { Lane(); });
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
  // Accounts that yielded their thread still hold a lease.
  std::deque<std::string> waiting;
  {
    absl::MutexLock lock(&mu_);
    waiting.swap(ready_);
  }
  for (const std::string& account : waiting) {
    if (absl::Status s = leases_->Release(account, options_.owner); !s.ok()) {
      WarnLimited("cannot release a lease", s);
    }
  }
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
    const Turn turn = RunAccount(account);
    absl::MutexLock lock(&mu_);
    if (turn == Turn::kYielded) {
      // Behind the accounts that waited; it keeps its lease meanwhile.
      ready_.push_back(account);
      continue;
    }
    active_.erase(account);
    rerun_.erase(account);
  }
}

void DeliveryWorker::Lane() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      auto has_task = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !tasks_.empty();
      };
      mu_.Await(absl::Condition(&has_task));
      // Tasks already handed out are run even when stopping: their round
      // waits for them.
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

DeliveryWorker::Turn DeliveryWorker::RunAccount(const std::string& account_id) {
  // A yielded account may have waited past its lease; another process may
  // have taken it meanwhile.
  auto held = leases_->Renew(account_id, options_.owner, options_.lease_ttl);
  if (!held.ok() || !*held) return Turn::kDone;
  const absl::Time turn_ends_at = absl::Now() + options_.turn;
  Turn turn = Turn::kDone;
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
    const Round round = DeliverRound(account_id, *due, turn_ends_at);
    auto renewed =
        leases_->Renew(account_id, options_.owner, options_.lease_ttl);
    // Nothing could be tried (the account is not deliverable now, or
    // another process holds its contacts): leave it for a later claim.
    if (!renewed.ok() || !*renewed || round.paused) break;
    if (round.yielded) {
      turn = Turn::kYielded;
      break;
    }
    if (!round.progress && !round.preempted) break;
  }
  if (turn == Turn::kDone) {
    if (absl::Status s = leases_->Release(account_id, options_.owner);
        !s.ok()) {
      WarnLimited("cannot release a lease", s);
    }
  }
  return turn;
}

DeliveryWorker::Round DeliveryWorker::DeliverRound(
    const std::string& account_id, const std::vector<std::string>& due,
    absl::Time turn_ends_at) {
  const int concurrency = std::max(1, options_.account_concurrency);
  absl::Mutex round_mu;
  int in_flight = 0;
  bool round_paused = false;
  bool round_progress = false;
  auto lane_free = [&]() ABSL_SHARED_LOCKS_REQUIRED(round_mu) {
    return in_flight < concurrency;
  };
  Round round;
  for (const std::string& contact_id : due) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      // A fresh change of this account: read the queue again, so that a
      // real-time change goes before the rest of an import.
      if (rerun_.erase(account_id) > 0) {
        round.preempted = true;
        break;
      }
      if (!ready_.empty() && absl::Now() >= turn_ends_at) {
        round.yielded = true;
        break;
      }
    }
    {
      absl::MutexLock lock(&round_mu);
      round_mu.Await(absl::Condition(&lane_free));
      if (round_paused) break;
      ++in_flight;
    }
    auto deliver = [this, &round_mu, &in_flight, &round_paused, &round_progress,
                    account_id, contact_id] {
      auto report = engine_->Deliver(account_id, contact_id,
                                     /*skip_locked=*/true);
      if (!report.ok()) WarnLimited("delivery failed", report.status());
      absl::MutexLock lock(&round_mu);
      --in_flight;
      if (report.ok()) {
        round_progress |= report->attempted;
        round_paused |= report->paused;
      }
    };
    bool handed_out = false;
    {
      absl::MutexLock lock(&mu_);
      // Lanes end once stopping and out of tasks: hand out no more then.
      if (!stopping_) {
        tasks_.push_back(std::move(deliver));
        handed_out = true;
      }
    }
    if (!handed_out) {
      absl::MutexLock lock(&round_mu);
      --in_flight;
      break;
    }
  }
  absl::MutexLock lock(&round_mu);
  auto idle = [&]() ABSL_SHARED_LOCKS_REQUIRED(round_mu) {
    return in_flight == 0;
  };
  round_mu.Await(absl::Condition(&idle));
  round.paused = round_paused;
  round.progress = round_progress;
  return round;
}

}  // namespace wave::pipedrive
