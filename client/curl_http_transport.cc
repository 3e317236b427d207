#include "client/curl_http_transport.h"

#include "client/http_transport.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

// The header keeps handles as void*, which is what curl.h makes them unless
// CURL_STRICTER is defined.
static_assert(std::is_same<CURL, void>::value, "CURL is expected to be void");
static_assert(std::is_same<CURLSH, void>::value,
              "CURLSH is expected to be void");
static_assert(CURL_LOCK_DATA_LAST <= 8,
              "share_mutexes_ needs one mutex per curl_lock_data");

constexpr char kUserAgent[] = "wave-pipedrive-sync/1";

using ShareMutexes = std::array<std::mutex, 8>;

void LockShare(CURL* /*handle*/, curl_lock_data data,
               curl_lock_access /*access*/, void* user) {
  auto& mutexes = *static_cast<ShareMutexes*>(user);
  if (data >= 0 && static_cast<std::size_t>(data) < mutexes.size()) {
    mutexes[data].lock();
  }
}

void UnlockShare(CURL* /*handle*/, curl_lock_data data, void* user) {
  auto& mutexes = *static_cast<ShareMutexes*>(user);
  if (data >= 0 && static_cast<std::size_t>(data) < mutexes.size()) {
    mutexes[data].unlock();
  }
}

// curl treats 0 as "no timeout"; a zero or negative option must not mean
// that.
long TimeoutMillis(absl::Duration timeout) {  // NOLINT(google-runtime-int)
  return static_cast<long>(  // NOLINT(google-runtime-int): curl's type.
      std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
}

CURLcode GlobalInitOnce() {
  static const CURLcode kInitResult = curl_global_init(CURL_GLOBAL_DEFAULT);
  return kInitResult;
}

// What curl's callbacks fill in during one exchange.
struct Exchange {
  HttpResponse response;
  std::size_t max_body_bytes = 0;
  bool body_too_large = false;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t count,
                      void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  if (exchange->response.body.size() + bytes > exchange->max_body_bytes) {
    exchange->body_too_large = true;
    return 0;  // Makes curl abort with CURLE_WRITE_ERROR.
  }
  try {
    exchange->response.body.append(data, bytes);
  } catch (const std::exception&) {
    return 0;  // Exceptions must not unwind through C.
  }
  return bytes;
}

std::size_t ReadHeader(char* data, std::size_t size, std::size_t count,
                       void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  try {
    absl::string_view line(data, bytes);
    auto& headers = exchange->response.headers;
    // An interim response (100 Continue) or a proxy's CONNECT answer comes
    // first; only the last response's headers are wanted.
    if (absl::StartsWith(line, "HTTP/")) {
      headers.clear();
      return bytes;
    }
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      // Obsolete line folding continues the previous header's value.
      if (!headers.empty()) {
        absl::StrAppend(&headers.back().second, " ",
                        absl::StripAsciiWhitespace(line));
      }
      return bytes;
    }
    const std::size_t colon = line.find(':');
    if (colon == absl::string_view::npos) return bytes;  // The blank line.
    std::string name(absl::StripAsciiWhitespace(line.substr(0, colon)));
    absl::AsciiStrToLower(&name);
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    headers.emplace_back(std::move(name), std::move(value));
  } catch (const std::exception&) {
    return 0;
  }
  return bytes;
}

bool ValidHeaderName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f && c != ':';
  });
}

bool ValidHeaderValue(const std::string& value) {
  return value.find_first_of(std::string("\r\n\0", 3)) == std::string::npos;
}

bool HasHeader(const HttpRequest& request, const char* name) {
  return std::any_of(request.headers.begin(), request.headers.end(),
                     [name](const auto& header) {
                       return absl::EqualsIgnoreCase(header.first, name);
                     });
}

// Owns a curl_slist.
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list_); }

  bool Append(const std::string& line) {
    curl_slist* next = curl_slist_append(list_, line.c_str());
    if (next == nullptr) return false;
    list_ = next;
    return true;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

absl::Status BuildHeaders(const HttpRequest& request, HeaderList& list) {
  for (const auto& [name, value] : request.headers) {
    if (!ValidHeaderName(name)) {
      return absl::InvalidArgumentError("http: invalid request header name");
    }
    if (!ValidHeaderValue(value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "http: value of request header ", name, " contains CR, LF or NUL"));
    }
    // curl drops "Name:" with nothing after it; "Name;" sends it empty.
    const std::string line = value.empty() ? absl::StrCat(name, ";")
                                           : absl::StrCat(name, ": ", value);
    if (!list.Append(line)) return absl::ResourceExhaustedError("http: OOM");
  }

  // curl would otherwise wait for "100 Continue" on larger bodies and label
  // any body as a form; the caller says what the body is.
  if (!HasHeader(request, "Expect") && !list.Append("Expect:")) {
    return absl::ResourceExhaustedError("http: OOM");
  }
  if (!HasHeader(request, "Content-Type") && !list.Append("Content-Type:")) {
    return absl::ResourceExhaustedError("http: OOM");
  }
  return absl::OkStatus();
}

absl::Status SetMethodAndBody(CURL* curl, const HttpRequest& request) {
  const std::string& method = request.method;
  if (method == "GET" || method == "HEAD") {
    if (!request.body.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("http: a ", method, " request cannot carry a body"));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    return absl::OkStatus();
  }
  if (method != "POST" && method != "PUT" && method != "PATCH" &&
      method != "DELETE") {
    return absl::InvalidArgumentError("http: unsupported HTTP method");
  }

  if (method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  // A body-less DELETE sends no body at all; the other methods always send
  // one (possibly empty, with Content-Length: 0).
  if (method != "DELETE" || !request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  }
  return absl::OkStatus();
}

absl::Status StatusFromCurl(CURLcode code, const char* error_buffer,
                            const std::string& method) {
  const std::string text =
      error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  const std::string message = absl::StrCat("http ", method, ": ", text);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return absl::InvalidArgumentError(message);
    case CURLE_OUT_OF_MEMORY:
      return absl::ResourceExhaustedError(message);
    case CURLE_FAILED_INIT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return absl::InternalError(message);
    default:
      // Resolve, connect, send, receive, reset, TLS and HTTP framing
      // failures: the peer or the network, worth retrying.
      return absl::UnavailableError(message);
  }
}

// Returns the handle to the pool however Send() exits.
class HandleLease {
 public:
  HandleLease(CURL* handle, std::function<void(CURL*)> release)
      : handle_(handle), release_(std::move(release)) {}
  HandleLease(const HandleLease&) = delete;
  HandleLease& operator=(const HandleLease&) = delete;
  ~HandleLease() {
    if (handle_ != nullptr) release_(handle_);
  }
  CURL* get() const { return handle_; }

 private:
  CURL* handle_;
  std::function<void(CURL*)> release_;
};

}  // namespace

CurlHttpTransport::CurlHttpTransport(CurlHttpTransportOptions options)
    : options_(options) {
  if (GlobalInitOnce() != CURLE_OK) return;

  share_ = curl_share_init();
  if (share_ == nullptr) return;
  curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &LockShare);
  curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &UnlockShare);
  curl_share_setopt(share_, CURLSHOPT_USERDATA, &share_mutexes_);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

CurlHttpTransport::~CurlHttpTransport() {
  for (CURL* handle : idle_handles_) curl_easy_cleanup(handle);
  idle_handles_.clear();
  if (share_ != nullptr) curl_share_cleanup(share_);
}

CurlHttpTransport::EasyHandle CurlHttpTransport::AcquireHandle() {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_handles_.empty()) {
      // The most recently used handle is the likeliest to hold a live
      // keep-alive connection.
      CURL* handle = idle_handles_.back();
      idle_handles_.pop_back();
      return handle;
    }
  }
  CURL* handle = curl_easy_init();
  if (handle != nullptr && share_ != nullptr) {
    curl_easy_setopt(handle, CURLOPT_SHARE, share_);
  }
  return handle;
}

void CurlHttpTransport::ReleaseHandle(EasyHandle handle) {
  // Drops every option of the finished call, which point into its stack
  // frame, but keeps the live connections and the share.
  curl_easy_reset(handle);
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (idle_handles_.size() < options_.max_idle_handles) {
      idle_handles_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

absl::StatusOr<HttpResponse> CurlHttpTransport::Send(
    const HttpRequest& request) {
  if (GlobalInitOnce() != CURLE_OK || share_ == nullptr) {
    return absl::InternalError("http: libcurl failed to initialise");
  }
  HeaderList headers;
  if (absl::Status status = BuildHeaders(request, headers); !status.ok()) {
    return status;
  }

  HandleLease lease(AcquireHandle(),
                    [this](CURL* handle) { ReleaseHandle(handle); });
  CURL* curl = lease.get();
  if (curl == nullptr) {
    return absl::ResourceExhaustedError("http: cannot create a curl handle");
  }

  char error_buffer[CURL_ERROR_SIZE];
  error_buffer[0] = '\0';
  Exchange exchange;
  exchange.max_body_bytes = options_.max_response_bytes;

  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_VERBOSE, 0L);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 1L);
  // Signals are process-wide: unusable with many threads.
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   TimeoutMillis(options_.connect_timeout));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   TimeoutMillis(options_.total_timeout));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &ReadHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
  if (absl::Status status = SetMethodAndBody(curl, request); !status.ok()) {
    return status;
  }

  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_WRITE_ERROR && exchange.body_too_large) {
    return absl::InternalError(
        absl::StrCat("http ", request.method, ": response body exceeds ",
                     options_.max_response_bytes, " bytes"));
  }
  if (code != CURLE_OK) {
    return StatusFromCurl(code, error_buffer, request.method);
  }

  long status = 0;  // NOLINT(google-runtime-int): curl's type.
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  exchange.response.status = static_cast<int>(status);
  return std::move(exchange.response);
}

}  // namespace wave::pipedrive
