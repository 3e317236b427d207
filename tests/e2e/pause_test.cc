// Pipedrive refusing the company as a whole pauses its delivery, visibly,
// and delivery resumes by itself; records the sales team deleted are
// recreated once.

#include "tests/e2e/e2e_fixture.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wave::pipedrive::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class PauseTest : public EndToEndTest {
 protected:
  bool Synced(const std::string& contact_id) {
    v1::ContactSync sync;
    return GetContact(contact_id, &sync).ok() &&
           sync.state() == v1::ContactSync::SYNCED;
  }

  v1::Integration::State IntegrationState(std::string* reason = nullptr) {
    v1::Integration integration;
    if (!GetIntegration(&integration).ok()) {
      return v1::Integration::STATE_UNSPECIFIED;
    }
    if (reason != nullptr) *reason = integration.paused_reason();
    return integration.state();
  }

  void ExpectPauseThenRecovery(int http_status, const std::string& reason) {
    ConnectAccount();
    sandbox::Fault refused;
    refused.method = "POST";
    refused.path_prefix = "/api/v2/persons";
    refused.status = http_status;
    sandbox_->InjectFault(refused);

    v1::SyncContactResponse response;
    ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

    EXPECT_EQ(response.outcome(), v1::SyncContactResponse::QUEUED);
    std::string paused_reason;
    EXPECT_EQ(IntegrationState(&paused_reason), v1::Integration::PAUSED);
    EXPECT_THAT(paused_reason, HasSubstr(reason));
    // Resumes by itself once the pause runs out and Pipedrive accepts.
    ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
    EXPECT_EQ(IntegrationState(), v1::Integration::CONNECTED);
    EXPECT_THAT(LivePersons(company_), SizeIs(1));
    EXPECT_THAT(LiveLeads(company_), SizeIs(1));
  }
};

TEST_F(PauseTest, PaymentRequiredPausesAndResumes) {
  ExpectPauseThenRecovery(402, "402 Payment Required");
}

TEST_F(PauseTest, ForbiddenPausesAndResumes) {
  ExpectPauseThenRecovery(403, "403 Forbidden");
}

class BudgetTest : public PauseTest {
 protected:
  void SetUp() override {
    // Enough for connecting and one contact (person 5 + lead 10 tokens).
    daily_token_budget_ = 35;
    PauseTest::SetUp();
  }
};

TEST_F(BudgetTest, SpentDailyBudgetPausesUntilReset) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  ASSERT_EQ(first.outcome(), v1::SyncContactResponse::APPLIED);

  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(JaneDoe("c-2", 1), &second).ok());

  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::QUEUED);
  std::string reason;
  EXPECT_EQ(IntegrationState(&reason), v1::Integration::PAUSED);
  EXPECT_THAT(reason, HasSubstr("daily Pipedrive API budget"));
  v1::Integration paused;
  ASSERT_TRUE(GetIntegration(&paused).ok());
  ASSERT_TRUE(paused.has_paused_until());
  EXPECT_GT(absl::FromUnixSeconds(paused.paused_until().seconds()),
            absl::Now() - absl::Seconds(1));
  // Pipedrive's midnight: the budget is back and delivery resumes.
  sandbox_->ResetTokenBudgets();
  ASSERT_TRUE(Eventually([&] { return Synced("c-2"); }));
  v1::Integration resumed;
  ASSERT_TRUE(GetIntegration(&resumed).ok());
  EXPECT_EQ(resumed.state(), v1::Integration::CONNECTED);
  EXPECT_FALSE(resumed.has_paused_until());
  EXPECT_THAT(LiveLeads(company_), SizeIs(2));
}

TEST_F(PauseTest, PersonDeletedInPipedriveIsCreatedOnceAndLeadFollows) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  sandbox_->DeletePersonInUi(first.sync().person_id());
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.mutable_phones(0)->set_value("+1 415 555 0199");

  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(changed, &second).ok());

  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_NE(second.sync().person_id(), first.sync().person_id());
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(persons[0].id, second.sync().person_id());
  auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].person_id, persons[0].id);
}

TEST_F(PauseTest, PersonMergedInPipedriveIsFollowed) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  // The sales team merges Jane into a Person of the same name and email
  // (made here through another contact), which deletes the merged one.
  v1::SyncContactResponse twin;
  ASSERT_TRUE(Sync(JaneDoe("c-2", 1), &twin).ok());
  sandbox_->DeletePersonInUi(first.sync().person_id());
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.mutable_phones(0)->set_value("+1 415 555 0177");

  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(changed, &second).ok());

  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(second.sync().person_id(), twin.sync().person_id());

  EXPECT_THAT(LivePersons(company_), SizeIs(1));
}

}  // namespace
}  // namespace wave::pipedrive::testing

namespace wave::pipedrive::testing {
namespace {

class SalesTeamTest : public EndToEndTest {};

TEST_F(SalesTeamTest, ArchivedLeadIsNeverEditedOrRecreatedButPersonIs) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  sandbox_->ArchiveLead(first.sync().lead_id());
  sandbox_->ClearRequests();
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.set_job_title("CEO");
  changed.mutable_phones(0)->set_value("+1 415 555 0111");

  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(changed, &second).ok());
  v1::Contact again = changed;
  again.set_version(3);
  again.set_job_title("Chair");
  again.mutable_phones(0)->set_value("+1 415 555 0122");
  v1::SyncContactResponse third;
  ASSERT_TRUE(Sync(again, &third).ok());

  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(third.sync().state(), v1::ContactSync::SYNCED);
  // One refused edit taught the service; no lead was made or sent again.
  EXPECT_EQ(sandbox_->CountRequests("PATCH", "/api/v1/leads/"), 1);
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/v1/leads"), 0);
  auto leads = sandbox_->Leads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_TRUE(leads[0].is_archived);
  EXPECT_THAT(leads[0].title, HasSubstr("VP Sales"));
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(persons[0].phones[0].value, "+1 415 555 0122");
  EXPECT_EQ(sandbox_->CountRequests("PATCH", "/api/v2/persons/"), 2);
}

TEST_F(SalesTeamTest, ConvertedLeadIsLeftAlone) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  sandbox_->ConvertLead(first.sync().lead_id());
  sandbox_->ClearRequests();
  v1::Contact changed = JaneDoe("c-1", 2);
  changed.set_company("Other Inc");

  v1::SyncContactResponse second;
  ASSERT_TRUE(Sync(changed, &second).ok());

  EXPECT_EQ(second.outcome(), v1::SyncContactResponse::APPLIED);
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/v1/leads"), 0);
  EXPECT_THAT(LiveLeads(company_), SizeIs(0));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
}

}  // namespace
}  // namespace wave::pipedrive::testing
