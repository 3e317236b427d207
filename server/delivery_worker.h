#ifndef WAVE_SERVER_DELIVERY_WORKER_H_
#define WAVE_SERVER_DELIVERY_WORKER_H_

#include "server/sync_engine.h"
#include "storage/contact_store.h"
#include "storage/lease_store.h"

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include <deque>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace wave::pipedrive {

// Delivers queued changes: every change of the accounts this process holds
// a lease on, in order, real-time changes ahead of imports.
//
// One process at a time works one account, which keeps per-token pacing
// exact and per-contact order simple; accounts spread over the processes
// that share the database. A dispatcher thread claims accounts with due
// work (and accounts woken by a fresh change), and a fixed set of threads
// works them, renewing each lease while working and releasing it when
// nothing is due. A process that dies stops renewing; its accounts are
// taken over when their leases expire. Start() once; Stop() (or
// destruction) finishes the current deliveries and releases the leases.
class DeliveryWorker {
 public:
  struct Options {
    // Identifies this process in the leases table; must be unique.
    std::string owner;
    absl::Duration poll_interval = absl::Seconds(1);
    absl::Duration lease_ttl = absl::Seconds(30);
    // Accounts worked at once by this process.
    int parallel_accounts = 4;
    // Changes read per round of one account.
    int batch_size = 50;
  };

  DeliveryWorker(SyncEngine* engine, ContactStore* contacts, LeaseStore* leases,
                 Options options);
  ~DeliveryWorker() { Stop(); }

  void Start();
  void Stop();

  // A change of `account_id` was just accepted: deliver it soon.
  void Wake(const std::string& account_id);

 private:
  void Dispatch();
  void Work();
  // Delivers the account's due changes while the lease holds.
  void RunAccount(const std::string& account_id);
  bool Stopping();

  SyncEngine* engine_;
  ContactStore* contacts_;
  LeaseStore* leases_;
  const Options options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Woken accounts the dispatcher has not looked at yet.
  std::deque<std::string> woken_ ABSL_GUARDED_BY(mu_);
  // Leased accounts waiting for a worker thread.
  std::deque<std::string> ready_ ABSL_GUARDED_BY(mu_);
  // Accounts queued or being worked here.
  std::set<std::string> active_ ABSL_GUARDED_BY(mu_);
  // Active accounts woken again while being worked.
  std::set<std::string> rerun_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_DELIVERY_WORKER_H_
