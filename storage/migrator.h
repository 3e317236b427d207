#ifndef WAVE_STORAGE_MIGRATOR_H_
#define WAVE_STORAGE_MIGRATOR_H_

#include "storage/pg_pool.h"

#include "absl/status/status.h"

#include <string>
#include <vector>

namespace wave::pipedrive {

// One versioned schema change, compiled into the binary from
// storage/migrations/NNNN_name.sql.
struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// The migrations built into this binary, in version order.
const std::vector<Migration>& BuiltInMigrations();

// Applies every migration not yet recorded in `schema_migrations`, each in
// the same transaction as its record. A transaction-scoped advisory lock
// serialises replicas that start at the same moment: the second one waits,
// then finds nothing left to do. Fails with FAILED_PRECONDITION when the
// database holds a newer schema than this binary knows.
absl::Status ApplyMigrations(PgPool& pool,
                             const std::vector<Migration>& migrations);

}  // namespace wave::pipedrive

#endif  // WAVE_STORAGE_MIGRATOR_H_
