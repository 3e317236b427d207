// The integration's life beyond the happy path: Pipedrive refusing data,
// reconnecting to the same or another company, a refresh token that
// Pipedrive no longer accepts, and the lead channel found (or not) at
// connect time.

#include "client/curl_http_transport.h"
#include "client/curl_pipedrive_client.h"
#include "tests/e2e/e2e_fixture.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <cstdint>
#include <optional>
#include <string>

namespace wave::pipedrive::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class LifecycleTest : public EndToEndTest {};

TEST_F(LifecycleTest, DataPipedriveRefusesFailsThatVersionWithAdvice) {
  ConnectAccount();
  sandbox::Fault refuse;
  refuse.method = "POST";
  refuse.path_prefix = "/api/v2/persons";
  refuse.status = 400;
  sandbox_->InjectFault(refuse);

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::FAILED);
  EXPECT_EQ(response.sync().state(), v1::ContactSync::FAILED);
  EXPECT_THAT(response.sync().last_error(), HasSubstr("HTTP 400"));
  EXPECT_THAT(response.sync().last_error_action(),
              HasSubstr("Correct the contact in Wave"));
  v1::Integration integration;
  ASSERT_TRUE(GetIntegration(&integration).ok());
  EXPECT_EQ(integration.failed_contacts(), 1);
  EXPECT_EQ(integration.queued_contacts(), 0);

  // The next version is tried again and goes through.
  v1::SyncContactResponse next;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 2), &next).ok());
  EXPECT_EQ(next.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
}

TEST_F(LifecycleTest, ReconnectToSameCompanyKeepsMappings) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());

  v1::Integration again;
  ASSERT_TRUE(Connect(account_, company_, seller_, &again).ok());
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.set_job_title("Head of Sales");
  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(changed, &second).ok());

  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(second.sync().person_id(), first.sync().person_id());
  EXPECT_EQ(second.sync().lead_id(), first.sync().lead_id());
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
}

TEST_F(LifecycleTest, ConnectingAnotherCompanyStartsFresh) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  const int64_t other = sandbox_->AddCompany("Other Co", "other-co");
  const int64_t other_admin =
      sandbox_->AddUser(other, "Olga Owner", "olga@other.example");

  v1::Integration integration;
  ASSERT_TRUE(Connect(account_, other, other_admin, &integration).ok());
  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 2), &second).ok());

  EXPECT_EQ(integration.pipedrive_company_id(), other);
  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_NE(second.sync().person_id(), first.sync().person_id());
  EXPECT_THAT(LivePersons(other), SizeIs(1));
  EXPECT_THAT(LiveLeads(other), SizeIs(1));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));  // left as it was
}

TEST_F(LifecycleTest, RejectedRefreshTokenKeepsWorkUntilReconnect) {
  ConnectAccount();
  // Pipedrive forgets the app's grant (as when the refresh token expires
  // unused), and the access token runs out.
  PipedriveClientOptions options;
  options.oauth_base_url = sandbox_->base_url();
  options.client_id = kClientId;
  options.client_secret = kClientSecret;
  CurlPipedriveClient pipedrive(std::make_shared<CurlHttpTransport>(), options);
  ASSERT_TRUE(pipedrive.RevokeRefreshToken(StoredRefreshToken()).ok());
  sandbox_->ExpireAccessTokens();

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::QUEUED);
  EXPECT_THAT(response.reason(), HasSubstr("reconnect"));
  v1::Integration integration;
  ASSERT_TRUE(GetIntegration(&integration).ok());
  EXPECT_EQ(integration.state(), v1::Integration::NEEDS_RECONNECT);
  EXPECT_EQ(integration.queued_contacts(), 1);
  v1::SyncContactResponse while_waiting;
  ASSERT_TRUE(Sync(JaneDoe("c-2", 1), &while_waiting).ok());
  EXPECT_EQ(while_waiting.outcome(), v1::SyncContactResponse::QUEUED);
  EXPECT_THAT(LivePersons(company_), SizeIs(0));

  v1::Integration reconnected;
  ASSERT_TRUE(Connect(account_, company_, admin_, &reconnected).ok());
  EXPECT_EQ(reconnected.state(), v1::Integration::CONNECTED);
  ASSERT_TRUE(Eventually([&] { return LiveLeads(company_).size() == 2; }));
  EXPECT_THAT(LivePersons(company_), SizeIs(2));
}

TEST_F(LifecycleTest, ConnectFindsTheWaveConnectChannelForLeads) {
  sandbox_->AddChannelOption(company_, 71, "Marketplace");
  sandbox_->AddChannelOption(company_, 73, "Wave Connect");
  ConnectAccount();

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].channel, std::optional<int64_t>(73));
  EXPECT_EQ(leads[0].channel_id, std::optional<std::string>("Wave Connect"));
}

TEST_F(LifecycleTest, ConnectWithoutDealScopeLeavesLeadsWithoutChannel) {
  sandbox_->AddChannelOption(company_, 73, "Wave Connect");
  sandbox_->SetDealScope(false);

  v1::Integration integration;
  grpc::Status s = Connect(account_, company_, admin_, &integration);

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(integration.state(), v1::Integration::CONNECTED);
  int refused = 0;
  for (const auto& r : sandbox_->Requests()) {
    if (r.path == "/api/v2/dealFields/channel" && r.status == 403) ++refused;
  }
  EXPECT_EQ(refused, 1);
  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());
  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].channel, std::nullopt);
  EXPECT_EQ(leads[0].channel_id, std::optional<std::string>("Wave Connect"));
}

TEST_F(LifecycleTest, ConnectTakesNoOtherChannelThanWaveConnect) {
  sandbox_->AddChannelOption(company_, 71, "Marketplace");
  ConnectAccount();

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].channel, std::nullopt);
}

}  // namespace
}  // namespace wave::pipedrive::testing

namespace wave::pipedrive::testing {
namespace {

class OwnerReloadTest : public EndToEndTest {};

TEST_F(OwnerReloadTest, TeamMemberWhoJoinedAfterConnectBecomesOwner) {
  ConnectAccount();
  const int64_t dave =
      sandbox_->AddUser(company_, "Dave New", "dave@acme.example");
  v1::Contact contact = JaneDoe("c-1", 1);
  contact.set_owner_email("Dave@Acme.example");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(contact, &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_TRUE(response.sync().owner_matched());
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(persons[0].owner_id, dave);
  EXPECT_EQ(sandbox_->CountRequests("GET", "/api/v1/users"), 1);
}

TEST_F(OwnerReloadTest, KnownOwnerCostsNoUsersCall) {
  ConnectAccount();

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_TRUE(response.sync().owner_matched());
  EXPECT_EQ(sandbox_->CountRequests("GET", "/api/v1/users"), 0);
}

}  // namespace
}  // namespace wave::pipedrive::testing
