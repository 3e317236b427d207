#include "tests/sandbox/sandbox_test_env.h"

#include "client/sandbox/sandbox_http.h"
#include "tests/support/status_matchers.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace wave::pipedrive::sandbox::testenv {

absl::Time FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration step) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += step;
}

std::string HttpAnswer::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpAnswer::Error() const {
  if (!body.is_object() || !body.contains("error") ||
      !body["error"].is_string()) {
    return "";
  }
  return body["error"].get<std::string>();
}

std::string BasicAuth(const std::string& id, const std::string& secret) {
  return absl::StrCat("Basic ",
                      absl::Base64Escape(absl::StrCat(id, ":", secret)));
}

TestEnv::TestEnv(SandboxOptions options)
    : clock_(std::make_shared<FakeClock>()) {
  if (options.client_id.empty()) {
    options.client_id = kClientId;
    options.client_secret = kClientSecret;
  }
  if (!options.clock) {
    options.clock = [clock = clock_] { return clock->Now(); };
  }
  options.worker_threads = 4;
  fake_ = std::make_unique<FakePipedrive>(std::move(options));

  acme = fake_->AddCompany("Acme Sales", "acme-sales");
  alice = fake_->AddUser(acme, "Alice Admin", "alice@acme.example");
  bob = fake_->AddUser(acme, "Bob Seller", "bob@acme.example");
  ivan = fake_->AddUser(acme, "Ivan Inactive", "ivan@acme.example",
                        /*active=*/false);
  fake_->AddChannelOption(acme, 71, "Marketplace");
  fake_->AddChannelOption(acme, 73, "Wave Connect");
  globex = fake_->AddCompany("Globex", "globex");
  gina = fake_->AddUser(globex, "Gina Globex", "gina@globex.example");
  EXPECT_OK(fake_->Start());
}

TokenPair TestEnv::Connect(int64_t company_id, int64_t user_id) {
  const std::string code =
      fake_->IssueAuthorizationCode(company_id, user_id, kRedirectUri);
  EXPECT_FALSE(code.empty());
  const HttpAnswer answer = TokenRequest(
      absl::StrCat("grant_type=authorization_code&code=", code,
                   "&redirect_uri=", internal::UrlEncode(kRedirectUri)));
  EXPECT_EQ(answer.status, 200) << answer.raw_body;
  TokenPair tokens;
  if (answer.status == 200) {
    tokens.access_token = answer.body.value("access_token", "");
    tokens.refresh_token = answer.body.value("refresh_token", "");
  }
  return tokens;
}

HttpAnswer TestEnv::Api(const std::string& method, const std::string& path,
                        const std::string& access_token,
                        const nlohmann::json& body) {
  httplib::Headers headers = {
      {"Authorization", absl::StrCat("Bearer ", access_token)}};
  if (body.is_null()) return Raw(method, path, headers);
  return Raw(method, path, headers, body.dump(), "application/json");
}

HttpAnswer TestEnv::Raw(const std::string& method, const std::string& path,
                        const httplib::Headers& headers,
                        const std::string& body,
                        const std::string& content_type) {
  httplib::Client client(fake_->base_url());
  const auto send = [&]() -> httplib::Result {
    if (method == "POST") return client.Post(path, headers, body, content_type);
    if (method == "PATCH") {
      return client.Patch(path, headers, body, content_type);
    }
    if (method == "DELETE") {
      return client.Delete(path, headers, body, content_type);
    }
    if (method == "PUT") return client.Put(path, headers, body, content_type);
    return client.Get(path, headers);
  };
  const httplib::Result result = send();
  HttpAnswer answer;
  if (!result) return answer;
  answer.status = result->status;
  answer.raw_body = result->body;
  answer.headers = result->headers;
  answer.body = nlohmann::json::parse(result->body, nullptr,
                                      /*allow_exceptions=*/false);
  return answer;
}

std::string TestEnv::RawGet(const std::string& target) {
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  if (sock < 0) return "";
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(fake_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request =
        absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                     "Connection: close\r\n\r\n");
    if (send(sock, request.data(), request.size(), 0) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t got = 0;
      while ((got = recv(sock, buffer, sizeof(buffer), 0)) > 0) {
        response.append(buffer, static_cast<size_t>(got));
      }
    }
  }
  close(sock);
  return response;
}

HttpAnswer TestEnv::TokenRequest(const std::string& form_body,
                                 const std::string& path) {
  return Raw("POST", path,
             {{"Authorization", BasicAuth(kClientId, kClientSecret)}},
             form_body, "application/x-www-form-urlencoded");
}

}  // namespace wave::pipedrive::sandbox::testenv
