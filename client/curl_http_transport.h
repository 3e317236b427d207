#ifndef WAVE_CLIENT_CURL_HTTP_TRANSPORT_H_
#define WAVE_CLIENT_CURL_HTTP_TRANSPORT_H_

#include "client/http_transport.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <array>
#include <cstddef>
#include <mutex>
#include <vector>

namespace wave::pipedrive {

// Tuning for CurlHttpTransport; the defaults suit Pipedrive.
struct CurlHttpTransportOptions {
  // Time to establish the TCP (and TLS) connection.
  absl::Duration connect_timeout = absl::Seconds(5);
  // Time for the whole exchange, connection included.
  absl::Duration total_timeout = absl::Seconds(30);
  // Idle easy handles kept for reuse; each keeps its own keep-alive
  // connections. Beyond this many, returned handles are closed.
  std::size_t max_idle_handles = 16;
  // A response body larger than this fails with INTERNAL rather than
  // growing memory without bound.
  std::size_t max_response_bytes = std::size_t{8} << 20;  // 8 MiB.
};

// Provides HttpTransport over libcurl, for http and https URLs only.
//
// Redirects are not followed (a 3xx is returned as a response), curl never
// prints anything, and request headers never appear in error messages.
//
// Connections are reused through a pool of curl easy handles: a call takes
// the most recently returned handle, whose connection cache still holds the
// keep-alive connection of the previous call, and gives it back afterwards.
// Sequential calls therefore ride one connection per host; concurrent calls
// each get their own handle. The DNS and TLS session caches are shared among
// all handles. (curl's shared connection cache is deliberately not used: it
// is documented as unsafe across threads.)
//
// Thread-safe; must not be destroyed while a Send() is in flight. The first
// construction in the process runs curl_global_init, which is never undone.
class CurlHttpTransport : public HttpTransport {
 public:
  explicit CurlHttpTransport(CurlHttpTransportOptions options = {});
  ~CurlHttpTransport() override;

  CurlHttpTransport(const CurlHttpTransport&) = delete;
  CurlHttpTransport& operator=(const CurlHttpTransport&) = delete;

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  // libcurl's CURL* and CURLSH*, kept opaque so that curl.h stays out of
  // this header.
  using EasyHandle = void*;
  using ShareHandle = void*;

  EasyHandle AcquireHandle();
  void ReleaseHandle(EasyHandle handle);

  const CurlHttpTransportOptions options_;
  // One mutex per curl_lock_data value that curl may ask to lock.
  std::array<std::mutex, 8> share_mutexes_;
  ShareHandle share_ = nullptr;

  std::mutex pool_mutex_;
  std::vector<EasyHandle> idle_handles_;  // Guarded by pool_mutex_.
};

}  // namespace wave::pipedrive

#endif  // WAVE_CLIENT_CURL_HTTP_TRANSPORT_H_
