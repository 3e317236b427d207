#include "storage/pg_status.h"

#include "absl/strings/str_cat.h"
#include "pqxx/except"

namespace wave::pipedrive {

absl::Status StatusFromPqxx(const std::exception& e,
                            const std::string& operation) {
  const std::string prefix = absl::StrCat("database: ", operation, " failed");
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(
        absl::StrCat(prefix, ": connection to PostgreSQL lost"));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(
        absl::StrCat(prefix, ": commit outcome unknown"));
  }
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  if (sql == nullptr) return absl::InternalError(prefix);
  const std::string& state = sql->sqlstate();
  const std::string detail = absl::StrCat(prefix, " (SQLSTATE ", state, ")");
  if (state.rfind("40", 0) == 0) return absl::AbortedError(detail);
  if (state == "57014") return absl::DeadlineExceededError(detail);
  if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
    return absl::UnavailableError(detail);
  }
  if (state.rfind("53", 0) == 0) return absl::ResourceExhaustedError(detail);
  return absl::InternalError(detail);
}

}  // namespace wave::pipedrive
