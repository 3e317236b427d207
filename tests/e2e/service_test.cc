// The service's surface beyond single contacts: ImportAll streaming, the
// health service, reflection, caller authentication, and a clean stop on
// SIGTERM.

#include "tests/e2e/e2e_fixture.h"

#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace wave::pipedrive::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class ServiceTest : public EndToEndTest {};

TEST_F(ServiceTest, ImportAllRecordsValidContactsAndListsRejected) {
  ConnectAccount();
  grpc::ClientContext context;
  v1::ImportAllResponse response;
  auto stream = stub_->ImportAll(&context, &response);
  v1::ImportAllRequest message;
  message.set_account_id(account_);
  *message.mutable_contact() = JaneDoe("i-1", 1);
  ASSERT_TRUE(stream->Write(message));
  v1::Contact bad = JaneDoe("i-2", 1);
  bad.mutable_emails(1)->set_primary(true);
  *message.mutable_contact() = bad;
  ASSERT_TRUE(stream->Write(message));
  v1::Contact other = JaneDoe("i-3", 1);
  other.set_first_name("John");
  *message.mutable_contact() = other;
  ASSERT_TRUE(stream->Write(message));
  ASSERT_TRUE(stream->WritesDone());

  grpc::Status s = stream->Finish();

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(response.import_id().empty());
  EXPECT_EQ(response.accepted(), 2);
  EXPECT_EQ(response.rejected(), 1);
  ASSERT_THAT(response.rejections(), SizeIs(1));
  EXPECT_EQ(response.rejections(0).contact_id(), "i-2");
  EXPECT_EQ(response.rejections(0).field(), "contact.emails");
  EXPECT_THAT(response.rejections(0).reason(), HasSubstr("primary"));
  ASSERT_TRUE(Eventually([&] { return LiveLeads(company_).size() == 2; }));
  EXPECT_THAT(LivePersons(company_), SizeIs(2));
}

TEST_F(ServiceTest, ImportAllRejectsMixedAccounts) {
  ConnectAccount();
  grpc::ClientContext context;
  v1::ImportAllResponse response;
  auto stream = stub_->ImportAll(&context, &response);
  v1::ImportAllRequest message;
  message.set_account_id(account_);
  *message.mutable_contact() = JaneDoe("i-1", 1);
  stream->Write(message);
  message.set_account_id("another-account");
  stream->Write(message);
  stream->WritesDone();

  grpc::Status s = stream->Finish();

  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("account_id: message 1"));
  EXPECT_THAT(s.error_message(), HasSubstr("accepted so far: 1"));
  // The contact before the wrong one is kept and synced; the import says
  // it stopped early.
  ASSERT_TRUE(Eventually([&] { return LivePersons(company_).size() == 1; }));
  pqxx::connection conn(TestDatabaseUrl());
  pqxx::work tx(conn);
  const pqxx::row import = tx.exec_params1(
      "SELECT accepted, interrupted, finished_at IS NOT NULL FROM imports"
      " WHERE account_id = $1",
      account_);
  EXPECT_EQ(import[0].as<int64_t>(), 1);
  EXPECT_TRUE(import[1].as<bool>());
  EXPECT_TRUE(import[2].as<bool>());
}

TEST_F(ServiceTest, HealthServiceAnswersServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("wave.integrations.pipedrive.v1.PipedriveSync");
  grpc::health::v1::HealthCheckResponse response;

  grpc::Status s = health->Check(&context, request, &response);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

class AuthenticatedServiceTest : public EndToEndTest {
 protected:
  void SetUp() override {
    caller_tokens_ = "contacts-service:0123456789abcdef0123";
    EndToEndTest::SetUp();
  }
};

TEST_F(AuthenticatedServiceTest, CallWithoutTokenIsUnauthenticated) {
  v1::Integration integration;

  grpc::Status s = GetIntegration(&integration);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("authorization"));
}

TEST_F(AuthenticatedServiceTest, CallWithWrongTokenIsUnauthenticated) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer not-the-right-token-000");
  v1::GetIntegrationRequest request;
  request.set_account_id(account_);
  v1::Integration integration;

  grpc::Status s = stub_->GetIntegration(&context, request, &integration);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AuthenticatedServiceTest, CallWithTokenReachesTheService) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer 0123456789abcdef0123");
  v1::GetIntegrationRequest request;
  request.set_account_id(account_);
  v1::Integration integration;

  grpc::Status s = stub_->GetIntegration(&context, request, &integration);

  // Past authentication: the account is simply unknown.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AuthenticatedServiceTest, HealthStaysOpen) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;

  EXPECT_TRUE(health->Check(&context, request, &response).ok());
}

// The real binary, as Kubernetes runs it: configured by environment
// variables, stopped with SIGTERM.
TEST_F(ServiceTest, ServerProcessStopsCleanlyOnSigterm) {
  const std::string listen = absl::StrCat("127.0.0.1:", FreePort());
  const pid_t pid = SpawnServer(listen);
  ASSERT_GT(pid, 0);
  auto channel =
      grpc::CreateChannel(listen, grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  const bool serving = Eventually([&] {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(200));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    return health->Check(&context, request, &response).ok() &&
           response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  });

  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);

  EXPECT_TRUE(serving);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace wave::pipedrive::testing

namespace wave::pipedrive::testing {
namespace {

class ImportProgressTest : public EndToEndTest {
 protected:
  // Streams `contacts` in one ImportAll call.
  v1::ImportAllResponse Import(const std::vector<v1::Contact>& contacts) {
    grpc::ClientContext context;
    v1::ImportAllResponse response;
    auto stream = stub_->ImportAll(&context, &response);
    v1::ImportAllRequest message;
    message.set_account_id(account_);
    for (const v1::Contact& c : contacts) {
      *message.mutable_contact() = c;
      stream->Write(message);
    }
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    return response;
  }

  v1::Import Progress(const std::string& import_id) {
    grpc::ClientContext context;
    v1::GetImportRequest request;
    request.set_account_id(account_);
    request.set_import_id(import_id);
    v1::Import progress;
    EXPECT_TRUE(stub_->GetImport(&context, request, &progress).ok());
    return progress;
  }
};

TEST_F(ImportProgressTest, ProgressCountsAndSecondImportCostsNothing) {
  ConnectAccount();
  std::vector<v1::Contact> contacts;
  for (int i = 0; i < 5; ++i) {
    v1::Contact c = JaneDoe(absl::StrCat("imp-", i), 1);
    c.set_first_name(absl::StrCat("Jane", i));
    contacts.push_back(c);
  }
  v1::Contact bad = JaneDoe("imp-bad", 1);
  bad.clear_first_name();
  bad.clear_last_name();
  bad.clear_emails();
  bad.clear_phones();
  contacts.push_back(bad);

  const v1::ImportAllResponse first = Import(contacts);

  ASSERT_TRUE(Eventually(
      [&] { return Progress(first.import_id()).state() == v1::Import::DONE; }));
  v1::Import done = Progress(first.import_id());
  EXPECT_EQ(done.accepted(), 5);
  EXPECT_EQ(done.rejected(), 1);
  EXPECT_EQ(done.created(), 5);
  EXPECT_EQ(done.pending(), 0);
  EXPECT_TRUE(done.has_received_at());
  EXPECT_THAT(LiveLeads(company_), SizeIs(5));

  sandbox_->ClearRequests();
  contacts.pop_back();
  const v1::ImportAllResponse second = Import(contacts);
  v1::Import again = Progress(second.import_id());

  EXPECT_EQ(again.state(), v1::Import::DONE);
  EXPECT_EQ(again.accepted(), 5);
  EXPECT_EQ(again.unchanged(), 5);
  EXPECT_EQ(again.created(), 0);
  EXPECT_EQ(ApiCalls(), 0);
  EXPECT_THAT(LivePersons(company_), SizeIs(5));
}

TEST_F(ImportProgressTest, UnknownImportIsNotFound) {
  ConnectAccount();
  grpc::ClientContext context;
  v1::GetImportRequest request;
  request.set_account_id(account_);
  request.set_import_id("imp_nope");
  v1::Import progress;

  grpc::Status s = stub_->GetImport(&context, request, &progress);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("imp_nope"));
}

}  // namespace
}  // namespace wave::pipedrive::testing
