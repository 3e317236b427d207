#include "storage/migrator.h"

#include "storage/pg_status.h"

#include "absl/strings/str_cat.h"
#include "pqxx/transaction"
#include "spdlog/spdlog.h"

#include <cstdint>

namespace wave::pipedrive {
namespace {

// Arbitrary, fixed: every replica must use the same key.
constexpr int64_t kMigrationLockKey = 0x57a5e0001;

}  // namespace

absl::Status ApplyMigrations(PgPool& pool,
                             const std::vector<Migration>& migrations) {
  auto lease = pool.Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::work tx(lease->conn());
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    const int current =
        tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]
            .as<int>();
    const int known = migrations.empty() ? 0 : migrations.back().version;
    if (current > known) {
      return absl::FailedPreconditionError(
          absl::StrCat("database schema is at version ", current,
                       " but this binary knows only up to ", known,
                       "; deploy a newer binary"));
    }
    std::vector<const Migration*> applied;
    for (const Migration& m : migrations) {
      if (m.version <= current) continue;
      tx.exec0(m.sql);
      tx.exec_params(
          "INSERT INTO schema_migrations (version, name) "
          "VALUES ($1, $2)",
          m.version, m.name);
      applied.push_back(&m);
    }
    tx.commit();
    for (const Migration* m : applied) {
      spdlog::info("applied schema migration {} ({})", m->version, m->name);
    }
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return StatusFromPqxx(e, "schema migration");
  }
}

}  // namespace wave::pipedrive
