#include "storage/pg_pool.h"

#include "storage/pg_status.h"

#include "absl/status/status.h"
#include "pqxx/except"

#include <poll.h>
#include <utility>

namespace wave::pipedrive {
namespace {

// An idle connection has nothing to read. If its socket is readable or
// closed, the server ended the session (restart, failover, idle timeout),
// even though libpq has not noticed yet.
bool LooksAlive(pqxx::connection& conn) {
  if (!conn.is_open()) return false;
  pollfd fd{};
  fd.fd = conn.sock();
  fd.events = POLLIN;
  if (fd.fd < 0) return false;
  const int ready = poll(&fd, 1, 0);
  return ready == 0;
}

}  // namespace

PgPool::Lease::Lease(PgPool* pool, std::unique_ptr<pqxx::connection> conn)
    : pool_(pool), conn_(std::move(conn)) {}

PgPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)) {
  other.pool_ = nullptr;
}

PgPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(std::move(conn_));
}

PgPool::PgPool(std::string conninfo, int size)
    : conninfo_(std::move(conninfo)), available_(size) {}

absl::StatusOr<PgPool::Lease> PgPool::Acquire(absl::Duration wait) {
  std::unique_ptr<pqxx::connection> conn;
  {
    absl::MutexLock lock(&mu_);
    auto free = [this]()
                    ABSL_SHARED_LOCKS_REQUIRED(mu_) { return available_ > 0; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&free), wait)) {
      return absl::UnavailableError("database: no free connection in the pool");
    }
    --available_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  // A connection that broke while idle is replaced rather than handed out.
  if (conn != nullptr && LooksAlive(*conn)) return Lease(this, std::move(conn));
  try {
    conn = std::make_unique<pqxx::connection>(conninfo_);
    return Lease(this, std::move(conn));
  } catch (const std::exception& e) {
    Release(nullptr);
    return StatusFromPqxx(e, "connect");
  }
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  absl::MutexLock lock(&mu_);
  if (conn != nullptr && conn->is_open()) idle_.push_back(std::move(conn));
  ++available_;
}

}  // namespace wave::pipedrive
