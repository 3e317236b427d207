#ifndef WAVE_SERVER_DELIVERY_WORKER_H_
#define WAVE_SERVER_DELIVERY_WORKER_H_

#include "server/sync_engine.h"
#include "storage/contact_store.h"

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#include <thread>

namespace wave::pipedrive {

// Delivers queued changes in the background: those whose real-time call did
// not finish, retries after Pipedrive failures, and imported contacts.
//
// Polls the queue for due changes and delivers each with the contact's row
// lock taken without waiting, so several processes share the queue without
// delivering one contact twice. Start() once; Stop() (or destruction) waits
// for the current batch to finish.
class DeliveryWorker {
 public:
  struct Options {
    absl::Duration poll_interval = absl::Seconds(1);
    int batch_size = 50;
  };

  DeliveryWorker(SyncEngine* engine, ContactStore* contacts, Options options)
      : engine_(engine), contacts_(contacts), options_(options) {}
  ~DeliveryWorker() { Stop(); }

  void Start();
  void Stop();

  // Delivers what is due now; returns how many changes were attempted.
  int RunOnce();

 private:
  void Loop();

  SyncEngine* engine_;
  ContactStore* contacts_;
  Options options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_DELIVERY_WORKER_H_
