#ifndef WAVE_STORAGE_PG_POOL_H_
#define WAVE_STORAGE_PG_POOL_H_

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "pqxx/connection"

#include <memory>
#include <string>
#include <vector>

namespace wave::pipedrive {

// Provides a fixed number of PostgreSQL connections shared by threads.
//
// Connections open lazily and are reopened after they break. Acquire()
// waits for a free connection up to a deadline and fails with UNAVAILABLE
// when the database cannot be reached. Thread-safe; the pool must outlive
// every lease.
class PgPool {
 public:
  // A borrowed connection, returned to the pool on destruction.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    pqxx::connection& conn() { return *conn_; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<pqxx::connection> conn);

    PgPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  PgPool(std::string conninfo, int size);

  absl::StatusOr<Lease> Acquire(absl::Duration wait = absl::Seconds(15));

  const std::string& conninfo() const { return conninfo_; }

 private:
  void Release(std::unique_ptr<pqxx::connection> conn);

  const std::string conninfo_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int available_ ABSL_GUARDED_BY(mu_);
};

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_PG_POOL_H_
