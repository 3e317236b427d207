#include "client/http_transport.h"

#include <optional>
#include <string>

namespace wave::pipedrive {

std::optional<std::string> HttpResponse::Header(
    const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

}  // namespace wave::pipedrive
