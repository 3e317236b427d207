#ifndef WAVE_SERVER_DELIVERY_WORKER_H_
#define WAVE_SERVER_DELIVERY_WORKER_H_

#include "server/sync_engine.h"
#include "storage/contact_store.h"
#include "storage/lease_store.h"

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include <deque>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace wave::pipedrive {

// Delivers queued changes: every change of the accounts this process holds
// a lease on, in order, real-time changes ahead of imports.
//
// One process at a time works one account, which keeps per-token pacing
// exact; accounts spread over the processes that share the database. A
// dispatcher thread claims accounts with due work (and accounts woken by a
// fresh change), and a fixed set of threads works them, renewing each lease
// while working and releasing it when nothing is due. A process that dies
// stops renewing; its accounts are taken over when their leases expire.
//
// An account is worked in rounds of at most `batch_size` contacts, up to
// `account_concurrency` contacts at once, so that Pipedrive's latency does
// not leave the burst window idle (the pacing transport keeps it from
// overflowing). A contact is delivered by one thread at a time, under its
// row lock, so its changes still apply in order. A real-time change woken
// during a round ends the round early, so that it goes before the rest of
// an import. An account that has had its thread for `turn` yields it when
// another account waits for one: a long import never holds up other
// accounts.
//
// Start() once; Stop() (or destruction) finishes the current deliveries and
// releases the leases.
class DeliveryWorker {
 public:
  struct Options {
    // Identifies this process in the leases table; must be unique.
    std::string owner;
    absl::Duration poll_interval = absl::Seconds(1);
    absl::Duration lease_ttl = absl::Seconds(30);
    // Accounts worked at once by this process.
    int parallel_accounts = 4;
    // Contacts of one account delivered at once. Each holds a database
    // connection while it talks to Pipedrive.
    int account_concurrency = 4;
    // Changes read per round of one account.
    int batch_size = 50;
    // How long an account keeps a thread while another account waits for
    // one: the most a real-time change of an idle account waits behind a
    // busy account's import, apart from deliveries already under way.
    absl::Duration turn = absl::Milliseconds(500);
  };

  DeliveryWorker(SyncEngine* engine, ContactStore* contacts, LeaseStore* leases,
                 Options options);
  ~DeliveryWorker() { Stop(); }

  void Start();
  void Stop();

  // A change of `account_id` was just accepted: deliver it soon.
  void Wake(const std::string& account_id);

 private:
  // What became of an account's turn on a thread.
  enum class Turn { kDone, kYielded };

  void Dispatch();
  void Work();
  // Runs delivery tasks for the account runners.
  void Lane();
  // Delivers the account's due changes while the lease holds, until none is
  // due or another account waits for the thread.
  Turn RunAccount(const std::string& account_id);
  // What one round of an account did.
  struct Round {
    bool paused = false;     // a delivery paused the account
    bool progress = false;   // some change was tried
    bool preempted = false;  // a fresh change of the account ended it early
    bool yielded = false;    // ended early for an account waiting its turn
  };
  // Delivers `due` with up to account_concurrency at once, yielding once
  // the account's turn ends and another account waits.
  Round DeliverRound(const std::string& account_id,
                     const std::vector<std::string>& due,
                     absl::Time turn_ends_at);
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
  // Deliveries waiting for a lane.
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_DELIVERY_WORKER_H_
