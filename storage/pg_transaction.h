#ifndef WAVE_STORAGE_PG_TRANSACTION_H_
#define WAVE_STORAGE_PG_TRANSACTION_H_

#include "storage/pg_pool.h"
#include "storage/pg_status.h"

#include "absl/status/status.h"
#include "pqxx/pqxx"

#include <exception>
#include <utility>

namespace wave::pipedrive {

// Runs `fn` in a transaction of type `Tx` (pqxx::work by default, which
// `fn` commits itself; pqxx::read_transaction for reads) on a pooled
// connection. `fn` returns absl::Status or absl::StatusOr<T>; a libpqxx
// exception becomes a status naming `operation`, and an uncommitted
// transaction rolls back.
template <typename Tx = pqxx::work, typename Fn>
auto InTransaction(PgPool& pool, const char* operation, Fn&& fn)
    -> decltype(fn(std::declval<Tx&>())) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    Tx tx(lease->conn());
    return std::forward<Fn>(fn)(tx);
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, operation);
  }
}

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_PG_TRANSACTION_H_
