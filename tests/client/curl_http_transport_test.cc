#include "client/curl_http_transport.h"

#include "client/http_transport.h"
#include "tests/support/status_matchers.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

#include <arpa/inet.h>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::wave::testing::StatusIs;

// What the server saw of one request.
struct Seen {
  std::string method;
  std::string path;
  std::string authorization;
  std::string custom;
  std::string content_type;
  bool has_content_type = false;
  std::string content_length;
  std::string body;
  int remote_port = 0;
};

// A cpp-httplib server on a free loopback port, run on its own thread.
class TestServer {
 public:
  TestServer() {
    auto echo = [this](const httplib::Request& req, httplib::Response& res) {
      Record(req);
      res.status = req.method == "POST" ? 201 : 200;
      res.set_header("X-Reply-Header", "Mixed-Case");
      res.set_content(absl::StrCat(req.method, " ", req.body), "text/plain");
    };
    server_.Get("/echo", echo);
    server_.Post("/echo", echo);
    server_.Patch("/echo", echo);
    server_.Put("/echo", echo);
    server_.Delete("/echo", echo);
    server_.Get("/status/503",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Record(req);
                  res.status = 503;
                  res.set_content("<html>down</html>", "text/html");
                });
    server_.Get("/redirect",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Record(req);
                  res.set_redirect("/echo");
                });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(4096, 'x'), "text/plain");
    });
    server_.Get("/slow",
                [this](const httplib::Request& req, httplib::Response& res) {
                  Record(req);
                  std::unique_lock<std::mutex> lock(mutex_);
                  released_.wait_for(lock, std::chrono::seconds(10),
                                     [this] { return release_; });
                  res.set_content("late", "text/plain");
                });

    // Without it, Nagle and delayed ACKs stall each keep-alive response.
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  ~TestServer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      release_ = true;
    }
    released_.notify_all();
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  void Record(const httplib::Request& req) {
    Seen seen;
    seen.method = req.method;
    seen.path = req.path;
    seen.authorization = req.get_header_value("Authorization");
    seen.custom = req.get_header_value("X-Custom");
    seen.has_content_type = req.has_header("Content-Type");
    seen.content_type = req.get_header_value("Content-Type");
    seen.content_length = req.get_header_value("Content-Length");
    seen.body = req.body;
    seen.remote_port = req.remote_port;
    std::lock_guard<std::mutex> lock(mutex_);
    seen_.push_back(std::move(seen));
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool release_ = false;
  std::vector<Seen> seen_;
};

// A loopback port with nothing listening on it.
int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool bound =
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  // Port 1 (tcpmux) is as good a closed port, should binding fail.
  return bound ? ntohs(addr.sin_port) : 1;
}

HttpRequest Request(std::string method, std::string url,
                    std::string body = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.headers = {{"Authorization", "Bearer secret-token"},
                     {"X-Custom", "custom value"}};
  if (!body.empty()) {
    request.headers.emplace_back("Content-Type", "application/json");
  }
  request.body = std::move(body);
  return request;
}

TEST(CurlHttpTransport, RoundTripsEveryMethod) {
  TestServer server;
  CurlHttpTransport transport;
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"GET", ""},
      {"POST", R"({"name":"a"})"},
      {"PATCH", R"({"phones":[]})"},
      {"PUT", R"({"x":1})"},
      {"DELETE", ""},
  };

  for (const auto& [method, body] : calls) {
    SCOPED_TRACE(method);
    absl::StatusOr<HttpResponse> response =
        transport.Send(Request(method, server.Url("/echo"), body));

    ASSERT_OK(response);
    EXPECT_EQ(response->status, method == "POST" ? 201 : 200);
    EXPECT_EQ(response->body, absl::StrCat(method, " ", body));
    EXPECT_EQ(response->Header("x-reply-header"),
              std::optional<std::string>("Mixed-Case"));
    EXPECT_EQ(response->Header("content-type"),
              std::optional<std::string>("text/plain"));
  }

  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE(calls[i].first);
    EXPECT_EQ(seen[i].method, calls[i].first);
    EXPECT_EQ(seen[i].path, "/echo");
    EXPECT_EQ(seen[i].authorization, "Bearer secret-token");
    EXPECT_EQ(seen[i].custom, "custom value");
    EXPECT_EQ(seen[i].body, calls[i].second);
    if (!calls[i].second.empty()) {
      EXPECT_EQ(seen[i].content_type, "application/json");
      EXPECT_EQ(seen[i].content_length, std::to_string(calls[i].second.size()));
    }
  }
}

TEST(CurlHttpTransport, ResponseHeaderNamesAreLowerCased) {
  TestServer server;
  CurlHttpTransport transport;

  absl::StatusOr<HttpResponse> response =
      transport.Send(Request("GET", server.Url("/echo")));

  ASSERT_OK(response);
  EXPECT_THAT(response->headers,
              Contains(Pair("x-reply-header", "Mixed-Case")));
  for (const auto& [name, value] : response->headers) {
    EXPECT_EQ(name, absl::AsciiStrToLower(name));
  }
}

TEST(CurlHttpTransport, AddsNoContentTypeOfItsOwn) {
  TestServer server;
  CurlHttpTransport transport;
  HttpRequest request;
  request.method = "POST";
  request.url = server.Url("/echo");
  request.body = "raw";

  ASSERT_OK(transport.Send(request));

  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_FALSE(seen[0].has_content_type) << seen[0].content_type;
  EXPECT_EQ(seen[0].body, "raw");
}

TEST(CurlHttpTransport, EmptyPatchSendsZeroContentLength) {
  TestServer server;
  CurlHttpTransport transport;

  ASSERT_OK(transport.Send(Request("PATCH", server.Url("/echo"))));

  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method, "PATCH");
  EXPECT_EQ(seen[0].content_length, "0");
}

TEST(CurlHttpTransport, ErrorStatusesAreResponses) {
  TestServer server;
  CurlHttpTransport transport;

  absl::StatusOr<HttpResponse> unavailable =
      transport.Send(Request("GET", server.Url("/status/503")));
  absl::StatusOr<HttpResponse> missing =
      transport.Send(Request("GET", server.Url("/nowhere")));

  ASSERT_OK(unavailable);
  EXPECT_EQ(unavailable->status, 503);
  EXPECT_EQ(unavailable->body, "<html>down</html>");
  ASSERT_OK(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(CurlHttpTransport, DoesNotFollowRedirects) {
  TestServer server;
  CurlHttpTransport transport;

  absl::StatusOr<HttpResponse> response =
      transport.Send(Request("GET", server.Url("/redirect")));

  ASSERT_OK(response);
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(response->Header("location"), std::optional<std::string>("/echo"));
  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].path, "/redirect");
}

TEST(CurlHttpTransport, ConnectionRefusedIsUnavailable) {
  CurlHttpTransport transport;

  absl::StatusOr<HttpResponse> response = transport.Send(
      Request("GET", absl::StrCat("http://127.0.0.1:", ClosedPort(), "/echo")));

  EXPECT_THAT(response, StatusIs(absl::StatusCode::kUnavailable,
                                 AllOf(HasSubstr("http GET: "),
                                       Not(HasSubstr("secret-token")),
                                       Not(HasSubstr("custom value")))));
}

TEST(CurlHttpTransport, SlowHandlerHitsTheTotalTimeout) {
  TestServer server;
  CurlHttpTransportOptions options;
  options.total_timeout = absl::Milliseconds(200);
  CurlHttpTransport transport(options);

  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response =
      transport.Send(Request("GET", server.Url("/slow")));

  EXPECT_THAT(response, StatusIs(absl::StatusCode::kDeadlineExceeded,
                                 AllOf(HasSubstr("timed out"),
                                       Not(HasSubstr("secret-token")))));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(CurlHttpTransport, SequentialCallsReuseOneConnection) {
  TestServer server;
  CurlHttpTransport transport;

  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(transport.Send(Request("GET", server.Url("/echo"))));
  }
  ASSERT_OK(transport.Send(Request("POST", server.Url("/echo"), "{}")));

  std::set<int> ports;
  for (const Seen& seen : server.seen()) ports.insert(seen.remote_port);
  EXPECT_EQ(server.seen().size(), 5U);
  EXPECT_EQ(ports.size(), 1U);
}

TEST(CurlHttpTransport, ConcurrentCallsAllSucceed) {
  TestServer server;
  CurlHttpTransport transport;
  std::mutex mutex;
  std::vector<absl::Status> failures;

  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<HttpResponse> response =
            transport.Send(Request("POST", server.Url("/echo"), "{}"));
        if (!response.ok() || response->status != 201) {
          std::lock_guard<std::mutex> lock(mutex);
          failures.push_back(response.status());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(server.seen().size(), 40U);
}

TEST(CurlHttpTransport, OversizedBodyIsInternal) {
  TestServer server;
  CurlHttpTransportOptions options;
  options.max_response_bytes = 1024;
  CurlHttpTransport transport(options);

  EXPECT_THAT(transport.Send(Request("GET", server.Url("/big"))),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("response body exceeds 1024 bytes")));
}

TEST(CurlHttpTransport, OnlyHttpAndHttpsAreAllowed) {
  CurlHttpTransport transport;

  for (const std::string url :
       {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"}) {
    SCOPED_TRACE(url);
    EXPECT_THAT(
        transport.Send(Request("GET", url)),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("http GET: ")));
  }
}

TEST(CurlHttpTransport, RejectsHeaderInjectionWithoutEchoingTheValue) {
  TestServer server;
  CurlHttpTransport transport;
  HttpRequest request = Request("GET", server.Url("/echo"));
  request.headers.emplace_back("X-Evil", "token123\r\nX-Injected: 1");

  EXPECT_THAT(transport.Send(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("X-Evil"), Not(HasSubstr("token123")))));
  EXPECT_TRUE(server.seen().empty());
}

TEST(CurlHttpTransport, RejectsUnsupportedMethodAndGetWithBody) {
  TestServer server;
  CurlHttpTransport transport;

  EXPECT_THAT(transport.Send(Request("TRACE", server.Url("/echo"))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unsupported HTTP method")));
  EXPECT_THAT(transport.Send(Request("GET", server.Url("/echo"), "{}")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot carry a body")));
  EXPECT_TRUE(server.seen().empty());
}

}  // namespace
}  // namespace wave::pipedrive
