// The vertical slice end to end: a real gRPC channel, a real PostgreSQL,
// and the Pipedrive sandbox over loopback HTTP.

#include "tests/e2e/e2e_fixture.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <thread>
#include <vector>

namespace wave::pipedrive::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class SyncFlowTest : public EndToEndTest {};

TEST_F(SyncFlowTest, ConnectStoresCompanyAndActiveUsers) {
  v1::Integration integration;
  grpc::Status s = Connect(account_, company_, admin_, &integration);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(integration.state(), v1::Integration::CONNECTED);
  EXPECT_EQ(integration.pipedrive_company_id(), company_);
  EXPECT_EQ(integration.pipedrive_company_name(), "Acme Sales");
  EXPECT_EQ(integration.pipedrive_company_domain(), "acme-sales");
  EXPECT_EQ(integration.pipedrive_user_id(), admin_);
  EXPECT_EQ(integration.pipedrive_user_count(), 2);  // the inactive one left
  EXPECT_TRUE(integration.has_connected_at());
}

TEST_F(SyncFlowTest, AuthorizationUrlPointsAtPipedriveConsentPage) {
  grpc::ClientContext context;
  v1::GetAuthorizationUrlRequest request;
  request.set_account_id(account_);
  v1::GetAuthorizationUrlResponse response;

  ASSERT_TRUE(stub_->GetAuthorizationUrl(&context, request, &response).ok());

  EXPECT_TRUE(absl::StartsWith(
      response.authorization_url(),
      absl::StrCat(sandbox_->base_url(), "/oauth/authorize?client_id=",
                   kClientId, "&redirect_uri=https%3A%2F%2Fapp.wave.example")))
      << response.authorization_url();
  EXPECT_THAT(response.authorization_url(),
              HasSubstr(absl::StrCat("&state=", response.state())));
  EXPECT_GT(response.expires_at().seconds(), absl::ToUnixSeconds(absl::Now()));
}

TEST_F(SyncFlowTest, ConnectRejectsStateOfAnotherAccount) {
  grpc::ClientContext url_context;
  v1::GetAuthorizationUrlRequest url_request;
  url_request.set_account_id("someone-else");
  v1::GetAuthorizationUrlResponse url;
  ASSERT_TRUE(stub_->GetAuthorizationUrl(&url_context, url_request, &url).ok());
  grpc::ClientContext context;
  v1::ConnectIntegrationRequest request;
  request.set_account_id(account_);
  request.set_code(
      sandbox_->IssueAuthorizationCode(company_, admin_, kRedirectUri));
  request.set_state(url.state());
  v1::Integration integration;

  grpc::Status s = stub_->ConnectIntegration(&context, request, &integration);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("state: issued for another"));
}

TEST_F(SyncFlowTest, ConnectRejectsCodePipedriveRefuses) {
  grpc::ClientContext url_context;
  v1::GetAuthorizationUrlRequest url_request;
  url_request.set_account_id(account_);
  v1::GetAuthorizationUrlResponse url;
  ASSERT_TRUE(stub_->GetAuthorizationUrl(&url_context, url_request, &url).ok());
  grpc::ClientContext context;
  v1::ConnectIntegrationRequest request;
  request.set_account_id(account_);
  request.set_code("not-a-code-pipedrive-issued");
  request.set_state(url.state());
  v1::Integration integration;

  grpc::Status s = stub_->ConnectIntegration(&context, request, &integration);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("code: Pipedrive refused"));
}

TEST_F(SyncFlowTest, NewContactCreatesOnePersonAndOneLinkedLead) {
  ConnectAccount();
  v1::SyncContactResponse response;

  grpc::Status s = Sync(JaneDoe("c-1", 1), &response);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(response.sync().state(), v1::ContactSync::SYNCED);
  EXPECT_TRUE(response.sync().owner_matched());
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  const sandbox::PersonRecord& person = persons[0];
  EXPECT_EQ(person.id, response.sync().person_id());
  EXPECT_EQ(person.name, "Jane Doe");
  EXPECT_EQ(person.owner_id, seller_);
  ASSERT_THAT(person.emails, SizeIs(2));
  EXPECT_EQ(person.emails[0].value, "jane@example.com");
  EXPECT_EQ(person.emails[0].label, "work");
  EXPECT_TRUE(person.emails[0].primary);
  EXPECT_EQ(person.emails[1].value, "jane.doe@home.example");
  EXPECT_EQ(person.emails[1].label, "home");
  EXPECT_FALSE(person.emails[1].primary);
  ASSERT_THAT(person.phones, SizeIs(1));
  EXPECT_EQ(person.phones[0].label, "mobile");
  EXPECT_TRUE(person.phones[0].primary);
  auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  const sandbox::LeadRecord& lead = leads[0];
  EXPECT_EQ(lead.id, response.sync().lead_id());
  EXPECT_EQ(lead.title,
            "Jane Doe \xE2\x80\x93 VP Sales \xE2\x80\x93 Example Inc");
  EXPECT_EQ(lead.person_id, person.id);
  EXPECT_EQ(lead.owner_id, seller_);
  EXPECT_EQ(lead.channel_id, "Wave Connect");
  EXPECT_EQ(lead.origin_id, "wave-connect:c-1");
}

TEST_F(SyncFlowTest, SameContactAgainMakesNoPipedriveCall) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  sandbox_->ClearRequests();

  v1::SyncContactResponse same_version;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &same_version).ok());
  v1::SyncContactResponse new_version_same_data;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 2), &new_version_same_data).ok());

  EXPECT_EQ(same_version.outcome(), v1::SyncContactResponse::UNCHANGED);
  EXPECT_EQ(new_version_same_data.outcome(),
            v1::SyncContactResponse::UNCHANGED);
  EXPECT_EQ(new_version_same_data.sync().synced_version(), 2);
  EXPECT_EQ(ApiCalls(), 0);
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
}

TEST_F(SyncFlowTest, PhoneChangePatchesPersonOnly) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  sandbox_->ClearRequests();
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.mutable_phones(0)->set_value("+1 415 555 0199");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(changed, &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(sandbox_->CountRequests("PATCH", "/api/v2/persons/"), 1);
  EXPECT_EQ(sandbox_->CountRequests("PATCH", "/api/v1/leads/"), 0);
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/"), 0);
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(persons[0].phones[0].value, "+1 415 555 0199");
  EXPECT_THAT(persons[0].emails, SizeIs(2));  // untouched
}

TEST_F(SyncFlowTest, JobTitleChangePatchesLeadTitleOnly) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  sandbox_->ClearRequests();
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.set_job_title("Chief Revenue Officer");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(changed, &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(sandbox_->CountRequests("PATCH", "/api/v1/leads/"), 1);
  EXPECT_EQ(sandbox_->CountRequests("PATCH", "/api/v2/persons/"), 0);
  auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].title,
            "Jane Doe \xE2\x80\x93 Chief Revenue Officer \xE2\x80\x93 "
            "Example Inc");
}

TEST_F(SyncFlowTest, OlderVersionAfterNewerChangesNothing) {
  ConnectAccount();
  v1::Contact newer = JaneDoe("c-1", 5);
  newer.set_last_name("Newer");
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(newer, &first).ok());
  sandbox_->ClearRequests();
  v1::Contact older = JaneDoe("c-1", 4);
  older.set_last_name("Older");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(older, &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::STALE);
  EXPECT_EQ(response.sync().synced_version(), 5);
  EXPECT_EQ(ApiCalls(), 0);
  EXPECT_EQ(LivePersons(company_)[0].name, "Jane Newer");
}

TEST_F(SyncFlowTest, DeleteRemovesLeadAndPersonAndKeepsThemDeleted) {
  ConnectAccount();
  v1::SyncContactResponse synced;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &synced).ok());

  v1::DeleteContactResponse deleted;
  ASSERT_TRUE(Delete("c-1", 2, &deleted).ok());

  EXPECT_EQ(deleted.outcome(), v1::DeleteContactResponse::DELETED);
  EXPECT_EQ(deleted.sync().state(), v1::ContactSync::DELETED);
  EXPECT_EQ(deleted.sync().person_id(), 0);
  EXPECT_EQ(deleted.sync().lead_id(), "");
  EXPECT_THAT(LivePersons(company_), SizeIs(0));
  EXPECT_THAT(LiveLeads(company_), SizeIs(0));
  EXPECT_EQ(sandbox_->CountRequests("DELETE", "/api/v1/leads/"), 1);
  EXPECT_EQ(sandbox_->CountRequests("DELETE", "/api/v2/persons/"), 1);

  // A late update older than the deletion does not bring the contact back.
  sandbox_->ClearRequests();
  v1::SyncContactResponse late;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &late).ok());
  EXPECT_EQ(late.outcome(), v1::SyncContactResponse::STALE);
  EXPECT_EQ(ApiCalls(), 0);
  EXPECT_THAT(LivePersons(company_), SizeIs(0));
  v1::DeleteContactResponse again;
  ASSERT_TRUE(Delete("c-1", 2, &again).ok());
  EXPECT_EQ(again.outcome(), v1::DeleteContactResponse::ALREADY_DELETED);
}

TEST_F(SyncFlowTest, DisconnectRevokesTokensAndLeavesRecords) {
  ConnectAccount();
  v1::SyncContactResponse synced;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &synced).ok());
  const std::string refresh_token = StoredRefreshToken();
  ASSERT_FALSE(refresh_token.empty());

  v1::Integration integration;
  grpc::Status s = Disconnect(&integration);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(integration.state(), v1::Integration::DISCONNECTED);
  EXPECT_TRUE(sandbox_->IsRefreshTokenRevoked(refresh_token));
  EXPECT_EQ(StoredRefreshToken(), "");
  {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    pqxx::row row = tx.exec_params1(
        "SELECT access_token_enc IS NULL AND refresh_token_enc IS NULL"
        " FROM integrations WHERE account_id = $1",
        account_);
    EXPECT_TRUE(row[0].as<bool>());
  }
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));

  v1::SyncContactResponse after;
  s = Sync(JaneDoe("c-1", 2), &after);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("disconnected"));
}

TEST_F(SyncFlowTest, ExpiredAccessTokenIsRefreshedOnceAndCallSucceeds) {
  ConnectAccount();
  sandbox_->ExpireAccessTokens();
  sandbox_->ClearRequests();

  v1::SyncContactResponse response;
  grpc::Status s = Sync(JaneDoe("c-1", 1), &response);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(sandbox_->CountRequests("POST", "/oauth/token"), 1);
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
}

TEST_F(SyncFlowTest, CallsFollowApiDomainOfLatestTokenResponse) {
  ConnectAccount();
  const std::string moved = absl::StrCat("http://localhost:", sandbox_->port());
  sandbox_->SetApiDomain(company_, moved);
  sandbox_->ExpireAccessTokens();
  sandbox_->ClearRequests();

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  int api_calls = 0;
  for (const auto& r : sandbox_->Requests()) {
    if (r.path.rfind("/api/", 0) != 0 || r.status == 401) continue;
    ++api_calls;
    EXPECT_EQ(r.host, absl::StrCat("localhost:", sandbox_->port()))
        << r.method << " " << r.path;
  }
  EXPECT_GE(api_calls, 2);
}

TEST_F(SyncFlowTest, UnmatchedOwnerLeavesOwnerUnsetAndSaysWhy) {
  ConnectAccount();
  v1::Contact contact = JaneDoe("c-1", 1);
  contact.set_owner_email("nobody@elsewhere.example");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(contact, &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_FALSE(response.sync().owner_matched());
  EXPECT_THAT(response.sync().owner_note(), HasSubstr("no matching"));
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  // Pipedrive defaults the owner to the user who authorised the app.
  EXPECT_EQ(persons[0].owner_id, admin_);
  for (const auto& r : sandbox_->Requests()) {
    if (r.method != "POST" || r.path.rfind("/api/", 0) != 0) continue;
    EXPECT_EQ(r.body.find("owner_id"), std::string::npos) << r.path;
  }
}

TEST_F(SyncFlowTest, ConcurrentSyncsOfNewContactYieldOnePersonAndLead) {
  ConnectAccount();
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i) {
    callers.emplace_back([&] {
      v1::SyncContactResponse response;
      if (Sync(JaneDoe("c-1", 1), &response).ok()) ++ok;
    });
  }
  for (auto& t : callers) t.join();

  EXPECT_EQ(ok.load(), 50);
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
}

TEST_F(SyncFlowTest, PipedriveOutageQueuesChangeAndWorkerDeliversIt) {
  ConnectAccount();
  sandbox::Fault outage;
  outage.path_prefix = "/api/";
  outage.status = 503;
  outage.count = -1;
  sandbox_->InjectFault(outage);

  v1::SyncContactResponse response;
  grpc::Status s = Sync(JaneDoe("c-1", 1), &response);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::QUEUED);
  EXPECT_THAT(response.reason(), HasSubstr("503"));
  EXPECT_EQ(response.sync().state(), v1::ContactSync::PENDING);
  sandbox_->ClearFaults();
  // Background delivery retries once the first backoff has passed.
  ASSERT_TRUE(Eventually([&] {
    v1::ContactSync sync;
    return GetContact("c-1", &sync).ok() &&
           sync.state() == v1::ContactSync::SYNCED;
  }));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
}

TEST_F(SyncFlowTest, IntegrationCountsSyncedQueuedAndFailed) {
  ConnectAccount();
  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());
  ASSERT_TRUE(Sync(JaneDoe("c-2", 1), &response).ok());

  v1::Integration integration;
  ASSERT_TRUE(GetIntegration(&integration).ok());

  EXPECT_EQ(integration.synced_contacts(), 2);
  EXPECT_EQ(integration.queued_contacts(), 0);
  EXPECT_EQ(integration.failed_contacts(), 0);
  EXPECT_TRUE(integration.has_last_success_at());
}

}  // namespace
}  // namespace wave::pipedrive::testing
