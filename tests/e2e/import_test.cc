// Imports at Pipedrive's pace: linking Persons already in Pipedrive, broken
// streams, fairness between accounts, the burst window, and a stream of
// 100,000 contacts.

#include "tests/e2e/e2e_fixture.h"

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <map>
#include <signal.h>
#include <sys/wait.h>
#include <utility>

namespace wave::pipedrive::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

class ImportTest : public EndToEndTest {
 protected:
  // Streams `contacts` in one ImportAll call; `link` sets the option.
  grpc::Status StreamImport(const std::vector<v1::Contact>& contacts,
                            v1::ImportAllResponse* response,
                            std::optional<bool> link = std::nullopt,
                            const std::string& account = "") {
    grpc::ClientContext context;
    auto stream = stub_->ImportAll(&context, response);
    v1::ImportAllRequest message;
    message.set_account_id(account.empty() ? account_ : account);
    if (link.has_value()) message.set_link_existing_persons(*link);
    for (const v1::Contact& c : contacts) {
      *message.mutable_contact() = c;
      stream->Write(message);
      message.clear_link_existing_persons();
    }
    stream->WritesDone();
    return stream->Finish();
  }

  // StreamImport, expected to succeed.
  v1::ImportAllResponse Import(const std::vector<v1::Contact>& contacts,
                               std::optional<bool> link = std::nullopt,
                               const std::string& account = "") {
    v1::ImportAllResponse response;
    grpc::Status s = StreamImport(contacts, &response, link, account);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  v1::Import Progress(const std::string& import_id,
                      const std::string& account = "") {
    grpc::ClientContext context;
    v1::GetImportRequest request;
    request.set_account_id(account.empty() ? account_ : account);
    request.set_import_id(import_id);
    v1::Import progress;
    grpc::Status s = stub_->GetImport(&context, request, &progress);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return progress;
  }

  bool Done(const std::string& import_id, const std::string& account = "") {
    return Eventually([&] {
      return Progress(import_id, account).state() == v1::Import::DONE;
    });
  }

  void ConnectWithAutoSync() {
    v1::Integration integration;
    grpc::Status s = Connect(account_, company_, admin_, &integration,
                             /*auto_sync=*/true);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Jane as the sales team entered her in Pipedrive before the import.
  int64_t JaneInPipedrive() {
    return sandbox_->AddPersonInUi(
        company_, seller_, "Jane D.",
        {{"JANE@example.com", "work", true},
         {"jane.private@example.org", "home", false}},
        {{"+1 555 0199", "work", true}});
  }

  // Jane Doe as contact "c-<i>", with an email of her own.
  static v1::Contact Numbered(int i) {
    v1::Contact c = JaneDoe(absl::StrCat("c-", i), 1);
    c.mutable_emails(0)->set_value(absl::StrCat("jane", i, "@example.com"));
    return c;
  }
  // `count` of them, from "c-<from>" on.
  static std::vector<v1::Contact> Numbered(int from, int count) {
    std::vector<v1::Contact> contacts;
    for (int i = from; i < from + count; ++i) contacts.push_back(Numbered(i));
    return contacts;
  }

  // Every Pipedrive API request takes `ms` longer.
  void SlowPipedrive(int ms) {
    sandbox::Fault slow;
    slow.path_prefix = "/api/";
    slow.status = 200;  // below 400: a delay, not a failure
    slow.count = -1;
    slow.delay_ms = ms;
    sandbox_->InjectFault(slow);
  }

  static std::vector<std::string> Values(
      const std::vector<sandbox::ContactValue>& points) {
    std::vector<std::string> values;
    for (const auto& p : points) values.push_back(p.value);
    return values;
  }
};

TEST_F(ImportTest, ImportOnConnectLinksThePersonWithTheSamePrimaryEmail) {
  ConnectWithAutoSync();
  const int64_t jane = JaneInPipedrive();

  const v1::ImportAllResponse response = Import({JaneDoe("c-jane", 1)});

  ASSERT_TRUE(Done(response.import_id()));
  const v1::Import done = Progress(response.import_id());
  EXPECT_TRUE(done.link_existing_persons());
  EXPECT_EQ(done.linked(), 1);
  EXPECT_EQ(done.created(), 0);
  const auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  const sandbox::PersonRecord& person = persons[0];
  EXPECT_EQ(person.id, jane);
  EXPECT_EQ(person.name, "Jane Doe");
  // The contact's values first and primary; what the sales team added stays.
  EXPECT_THAT(Values(person.emails),
              ElementsAre("jane@example.com", "jane.doe@home.example",
                          "jane.private@example.org"));
  EXPECT_TRUE(person.emails[0].primary);
  EXPECT_THAT(Values(person.phones),
              ElementsAre("+1 415 555 0100", "+1 555 0199"));
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].person_id, jane);

  v1::ContactSync sync;
  ASSERT_TRUE(GetContact("c-jane", &sync).ok());
  EXPECT_EQ(sync.person_id(), jane);
}

TEST_F(ImportTest, LinkingIsOffByDefaultWithoutAutoSyncAndCanBeAskedFor) {
  ConnectAccount();
  JaneInPipedrive();

  const v1::ImportAllResponse plain = Import({JaneDoe("c-1", 1)});
  ASSERT_TRUE(Done(plain.import_id()));
  EXPECT_FALSE(Progress(plain.import_id()).link_existing_persons());
  EXPECT_EQ(Progress(plain.import_id()).created(), 1);
  EXPECT_EQ(Progress(plain.import_id()).linked(), 0);
  EXPECT_THAT(LivePersons(company_), SizeIs(2));

  // Another Person with Jane's email, then an import that asks to link.
  v1::Contact other = JaneDoe("c-2", 1);
  other.mutable_emails(0)->set_value("jd@example.net");
  sandbox_->AddPersonInUi(company_, admin_, "J. Doe",
                          {{"jd@example.net", "work", true}}, {});
  const v1::ImportAllResponse linking = Import({other}, /*link=*/true);
  ASSERT_TRUE(Done(linking.import_id()));
  EXPECT_TRUE(Progress(linking.import_id()).link_existing_persons());
  EXPECT_EQ(Progress(linking.import_id()).linked(), 1);
  EXPECT_THAT(LivePersons(company_), SizeIs(3));
}

TEST_F(ImportTest, AutoSyncImportCanTurnLinkingOff) {
  ConnectWithAutoSync();
  JaneInPipedrive();

  const v1::ImportAllResponse response =
      Import({JaneDoe("c-jane", 1)}, /*link=*/false);

  ASSERT_TRUE(Done(response.import_id()));
  EXPECT_EQ(Progress(response.import_id()).created(), 1);
  EXPECT_THAT(LivePersons(company_), SizeIs(2));
}

TEST_F(ImportTest, APersonIsLinkedToOneContactOnly) {
  ConnectWithAutoSync();
  const int64_t jane = JaneInPipedrive();
  // The same person twice in Wave.
  v1::Contact twin = JaneDoe("c-twin", 1);
  twin.set_first_name("Janet");

  const v1::ImportAllResponse response = Import({JaneDoe("c-jane", 1), twin});

  ASSERT_TRUE(Done(response.import_id()));
  const v1::Import done = Progress(response.import_id());
  EXPECT_EQ(done.linked(), 1);
  EXPECT_EQ(done.created(), 1);
  const auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(2));
  v1::ContactSync a;
  v1::ContactSync b;
  ASSERT_TRUE(GetContact("c-jane", &a).ok());
  ASSERT_TRUE(GetContact("c-twin", &b).ok());
  EXPECT_NE(a.person_id(), b.person_id());
  EXPECT_TRUE(a.person_id() == jane || b.person_id() == jane);
  EXPECT_THAT(LiveLeads(company_), SizeIs(2));
}

TEST_F(ImportTest, APersonWithTheEmailAsASecondaryOneIsNotLinked) {
  ConnectWithAutoSync();
  sandbox_->AddPersonInUi(company_, admin_, "Someone Else",
                          {{"someone@example.org", "work", true},
                           {"jane@example.com", "other", false}},
                          {});

  const v1::ImportAllResponse response = Import({JaneDoe("c-jane", 1)});

  ASSERT_TRUE(Done(response.import_id()));
  EXPECT_EQ(Progress(response.import_id()).linked(), 0);
  EXPECT_EQ(Progress(response.import_id()).created(), 1);
  EXPECT_THAT(LivePersons(company_), SizeIs(2));
}

TEST_F(ImportTest, ADeletedPersonIsNotLinked) {
  ConnectWithAutoSync();
  sandbox_->DeletePersonInUi(JaneInPipedrive());

  const v1::ImportAllResponse response = Import({JaneDoe("c-jane", 1)});

  ASSERT_TRUE(Done(response.import_id()));
  EXPECT_EQ(Progress(response.import_id()).linked(), 0);
  EXPECT_EQ(Progress(response.import_id()).created(), 1);
}

TEST_F(ImportTest, ABrokenStreamKeepsWhatArrivedAndSaysItWasInterrupted) {
  ConnectAccount();
  std::string import_id;
  {
    grpc::ClientContext context;
    v1::ImportAllResponse response;
    auto stream = stub_->ImportAll(&context, &response);
    v1::ImportAllRequest message;
    message.set_account_id(account_);
    // One full batch (500) is stored as soon as it is read; the last 150
    // contacts are read but wait for a batch to fill when the stream is
    // cut.
    for (int i = 0; i < 650; ++i) {
      *message.mutable_contact() = Numbered(i);
      ASSERT_TRUE(stream->Write(message));
    }
    // The server has stored the first batch once the import shows it.
    ASSERT_TRUE(Eventually([&] {
      grpc::ClientContext list_context;
      pqxx::connection conn(TestDatabaseUrl());
      pqxx::work tx(conn);
      auto rows = tx.exec_params(
          "SELECT import_id FROM imports WHERE account_id = $1 AND "
          "accepted > 0",
          account_);
      if (rows.empty()) return false;
      import_id = rows[0][0].as<std::string>();
      return true;
    }));
    // Time for the server to read the rest.
    absl::SleepFor(absl::Milliseconds(500));
    context.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }

  ASSERT_TRUE(Eventually([&] { return Progress(import_id).interrupted(); }));
  const v1::Import progress = Progress(import_id);
  EXPECT_NE(progress.state(), v1::Import::RECEIVING);
  EXPECT_EQ(progress.accepted(), 650);
  // What arrived is delivered all the same.
  EXPECT_EQ(progress.pending() + progress.created(), 650);
  EXPECT_TRUE(Eventually([&] { return Progress(import_id).created() >= 10; }));
}

TEST_F(ImportTest, ServerKilledMidImportResumesAfterRestart) {
  ConnectAccount();
  app_.reset();  // the in-process server steps aside for a real process
  // Every call takes a while, so the kill lands mid-import.
  SlowPipedrive(20);
  const std::string listen = absl::StrCat("127.0.0.1:", FreePort());
  const pid_t pid = SpawnServer(listen);
  ASSERT_GT(pid, 0);
  auto channel =
      grpc::CreateChannel(listen, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::seconds(20)));
  stub_ = v1::PipedriveSync::NewStub(channel);
  constexpr int kContacts = 150;
  const std::vector<v1::Contact> contacts = Numbered(0, kContacts);
  const v1::ImportAllResponse import = Import(contacts);
  ASSERT_EQ(import.accepted(), kContacts);
  ASSERT_TRUE(
      Eventually([&] { return Progress(import.import_id()).created() >= 10; }));

  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  StartServer();

  ASSERT_TRUE(Eventually(
      [&] { return Progress(import.import_id()).state() == v1::Import::DONE; },
      absl::Seconds(60)));
  const v1::Import done = Progress(import.import_id());
  EXPECT_EQ(done.created(), kContacts);
  EXPECT_EQ(done.failed(), 0);
  // Nothing twice, whatever the kill interrupted.
  EXPECT_THAT(LivePersons(company_), SizeIs(kContacts));
  EXPECT_THAT(LiveLeads(company_), SizeIs(kContacts));
}

TEST_F(ImportTest, ProgressShowsAnEstimateAndAppearsInTheIntegration) {
  ConnectAccount();
  SlowPipedrive(40);
  const v1::ImportAllResponse import = Import(Numbered(0, 150));
  ASSERT_TRUE(
      Eventually([&] { return Progress(import.import_id()).created() >= 10; }));

  const v1::Import running = Progress(import.import_id());
  const absl::Time now = absl::Now();
  v1::Integration integration;
  ASSERT_TRUE(GetIntegration(&integration).ok());

  EXPECT_EQ(running.state(), v1::Import::RUNNING);
  ASSERT_TRUE(running.has_estimated_completion_at());
  const absl::Time eta =
      absl::FromUnixSeconds(running.estimated_completion_at().seconds());
  // At the pace so far, later than now and not hours away.
  EXPECT_GT(eta, now);
  EXPECT_LT(eta, now + absl::Minutes(10));
  EXPECT_EQ(integration.latest_import().import_id(), import.import_id());
  EXPECT_EQ(integration.latest_import().accepted(), 150);
  EXPECT_GT(integration.latest_import().pending(), 0);

  ASSERT_TRUE(Eventually(
      [&] { return Progress(import.import_id()).state() == v1::Import::DONE; },
      absl::Seconds(60)));
  EXPECT_FALSE(Progress(import.import_id()).has_estimated_completion_at());
  ASSERT_TRUE(GetIntegration(&integration).ok());
  EXPECT_EQ(integration.latest_import().state(), v1::Import::DONE);
  EXPECT_EQ(integration.latest_import().created(), 150);
}

TEST_F(ImportTest, EstimateFollowsTheCurrentPaceNotTheAverage) {
  ConnectAccount();
  // A slow start: every Pipedrive call takes 3 s.
  SlowPipedrive(3000);
  constexpr int kContacts = 240;
  const v1::ImportAllResponse import = Import(Numbered(0, kContacts));
  ASSERT_TRUE(
      Eventually([&] { return Progress(import.import_id()).created() >= 4; }));
  // Then Pipedrive answers at once.
  sandbox_->ClearFaults();
  ASSERT_TRUE(Eventually(
      [&] { return Progress(import.import_id()).created() >= 120; }));

  const v1::Import progress = Progress(import.import_id());
  const absl::Time now = absl::Now();
  ASSERT_TRUE(progress.has_estimated_completion_at());
  const absl::Duration estimated =
      absl::FromUnixMicros(progress.estimated_completion_at().seconds() *
                               1000000 +
                           progress.estimated_completion_at().nanos() / 1000) -
      now;
  ASSERT_TRUE(Eventually(
      [&] { return Progress(import.import_id()).state() == v1::Import::DONE; },
      absl::Seconds(60)));
  const absl::Duration actual = absl::Now() - now;

  // The average since the start, slow part included, says far longer than
  // it took: the case is one where the two differ.
  const absl::Duration average =
      (now - absl::FromUnixSeconds(progress.started_at().seconds())) /
      progress.created() * progress.pending();
  ASSERT_GT(average, actual * 1.6)
      << "average " << average << ", took " << actual;
  EXPECT_LT(estimated, actual * 1.6)
      << "estimated " << estimated << ", took " << actual;
  EXPECT_GT(estimated, actual * 0.4)
      << "estimated " << estimated << ", took " << actual;
}

TEST_F(ImportTest, ASecondImportTakesOverAndEachContactIsCountedOnce) {
  ConnectAccount();
  SlowPipedrive(40);
  constexpr int kContacts = 100;
  const v1::ImportAllResponse first = Import(Numbered(0, kContacts));
  ASSERT_TRUE(
      Eventually([&] { return Progress(first.import_id()).created() >= 5; }));
  // The same contacts again while most of the first import waits.
  const v1::ImportAllResponse second = Import(Numbered(0, kContacts));

  ASSERT_TRUE(Eventually(
      [&] {
        return Progress(first.import_id()).state() == v1::Import::DONE &&
               Progress(second.import_id()).state() == v1::Import::DONE;
      },
      absl::Seconds(60)));
  const v1::Import a = Progress(first.import_id());
  const v1::Import b = Progress(second.import_id());
  EXPECT_GT(a.superseded(), 0);
  EXPECT_EQ(a.created() + a.superseded(), kContacts);
  EXPECT_EQ(b.created(), a.superseded());
  EXPECT_EQ(b.created() + b.unchanged(), kContacts);
  EXPECT_THAT(LivePersons(company_), SizeIs(kContacts));
  EXPECT_THAT(LiveLeads(company_), SizeIs(kContacts));
}

TEST_F(ImportTest, RealtimeChangeOfTheSameAccountGoesAheadOfItsImport) {
  ConnectAccount();
  SlowPipedrive(40);
  const v1::ImportAllResponse import = Import(Numbered(0, 400));
  ASSERT_TRUE(
      Eventually([&] { return Progress(import.import_id()).created() >= 5; }));

  v1::SyncContactResponse synced;
  ASSERT_TRUE(Sync(JaneDoe("rt-1", 1), &synced).ok());

  // Delivered within the call's wait, while most of the import waits.
  EXPECT_EQ(synced.outcome(), v1::SyncContactResponse::APPLIED)
      << synced.reason();
  EXPECT_GT(Progress(import.import_id()).pending(), 100);
}

TEST_F(ImportTest, DisconnectMidImportCancelsItAndCountsWhatWasDropped) {
  ConnectAccount();
  SlowPipedrive(40);
  constexpr int kContacts = 200;
  const v1::ImportAllResponse import = Import(Numbered(0, kContacts));
  ASSERT_TRUE(
      Eventually([&] { return Progress(import.import_id()).created() >= 5; }));

  v1::Integration disconnected;
  ASSERT_TRUE(Disconnect(&disconnected).ok());

  EXPECT_EQ(disconnected.latest_import().state(), v1::Import::CANCELLED);
  // Deliveries under way finish; then nothing more goes out.
  int calls = ApiCalls();
  ASSERT_TRUE(Eventually([&] {
    absl::SleepFor(absl::Milliseconds(500));
    const int now = ApiCalls();
    return std::exchange(calls, now) == now;
  }));
  const v1::Import cancelled = Progress(import.import_id());
  EXPECT_EQ(cancelled.state(), v1::Import::CANCELLED);
  EXPECT_TRUE(cancelled.has_cancelled_at());
  EXPECT_EQ(cancelled.pending(), 0);
  EXPECT_GT(cancelled.dropped(), 0);
  // Every accepted contact is either in Pipedrive or counted as dropped.
  // (A delivery under way at the disconnect may have made its Person and
  // then lost access before its Lead: counted as dropped.)
  EXPECT_EQ(cancelled.created() + cancelled.dropped(), kContacts);
  EXPECT_THAT(LiveLeads(company_), SizeIs(cancelled.created()));
  EXPECT_GE(LivePersons(company_).size(), cancelled.created());

  // Connecting again and importing the same contacts brings in the rest,
  // each once.
  sandbox_->ClearFaults();
  ConnectAccount();
  const v1::ImportAllResponse again = Import(Numbered(0, kContacts));
  ASSERT_TRUE(Eventually(
      [&] { return Progress(again.import_id()).state() == v1::Import::DONE; },
      absl::Seconds(60)));
  const v1::Import done = Progress(again.import_id());
  EXPECT_EQ(done.unchanged(), cancelled.created());
  EXPECT_EQ(done.created() + done.updated() + done.linked(),
            kContacts - cancelled.created());
  EXPECT_EQ(done.failed(), 0);
  EXPECT_THAT(LivePersons(company_), SizeIs(kContacts));
  EXPECT_THAT(LiveLeads(company_), SizeIs(kContacts));
}

TEST_F(ImportTest, ContactCutOffByADisconnectIsCompletedByTheNextImport) {
  ConnectAccount();
  // Its Lead is still being made when the account disconnects.
  sandbox::Fault hold;
  hold.method = "POST";
  hold.path_prefix = "/api/v1/leads";
  hold.status = 503;
  hold.delay_ms = 2000;
  sandbox_->InjectFault(hold);
  const v1::ImportAllResponse import = Import(Numbered(0, 1));
  ASSERT_TRUE(Eventually([&] { return LivePersons(company_).size() == 1; }));

  v1::Integration disconnected;
  ASSERT_TRUE(Disconnect(&disconnected).ok());
  ASSERT_TRUE(Eventually([&] {
    return !sandbox_->Requests().empty() &&
           sandbox_->Requests().back().path == "/api/v1/leads";
  }));
  const v1::Import cancelled = Progress(import.import_id());
  EXPECT_EQ(cancelled.state(), v1::Import::CANCELLED);
  EXPECT_EQ(cancelled.dropped(), 1);
  EXPECT_EQ(cancelled.created(), 0);
  EXPECT_THAT(LiveLeads(company_), SizeIs(0));

  ConnectAccount();
  const v1::ImportAllResponse again = Import(Numbered(0, 1));
  ASSERT_TRUE(Eventually(
      [&] { return Progress(again.import_id()).state() == v1::Import::DONE; }));
  EXPECT_EQ(Progress(again.import_id()).unchanged(), 0);
  const auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].person_id, persons[0].id);
}

TEST_F(ImportTest, ImportIntoADisconnectedIntegrationIsRefused) {
  ConnectAccount();
  v1::Integration disconnected;
  ASSERT_TRUE(Disconnect(&disconnected).ok());

  v1::ImportAllResponse response;
  const grpc::Status s = StreamImport({Numbered(1)}, &response);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("disconnected"));
}

class ImportBudgetTest : public ImportTest {
 protected:
  void SetUp() override {
    // Enough for connecting and three contacts (person 5 + lead 10 tokens
    // each).
    daily_token_budget_ = 65;
    ImportTest::SetUp();
  }
};

TEST_F(ImportBudgetTest, SpentBudgetPausesTheImportVisiblyUntilTheReset) {
  ConnectAccount();
  const std::vector<v1::Contact> contacts = Numbered(0, 6);

  const v1::ImportAllResponse import = Import(contacts);

  ASSERT_TRUE(Eventually([&] {
    const v1::Import progress = Progress(import.import_id());
    return progress.state() == v1::Import::PAUSED &&
           absl::StrContains(progress.paused_reason(), "daily");
  }));
  const v1::Import paused = Progress(import.import_id());
  EXPECT_GE(paused.pending(), 1);
  EXPECT_EQ(paused.created() + paused.pending(), 6);
  // Contacts were settled at a pace, but none is while paused; it says
  // when delivery tries again.
  EXPECT_GE(paused.created(), 2);
  EXPECT_FALSE(paused.has_estimated_completion_at());
  EXPECT_TRUE(paused.has_paused_until());
  // Pipedrive's midnight, as often as needed (the budget is three contacts a
  // day): the import goes on.
  ASSERT_TRUE(Eventually([&] {
    sandbox_->ResetTokenBudgets();
    return Progress(import.import_id()).state() == v1::Import::DONE;
  }));
  EXPECT_EQ(Progress(import.import_id()).created(), 6);
}

// With one delivery thread, a second account's real-time change must not
// wait for the first account's whole import.
class FairnessTest : public ImportTest {
 protected:
  void SetUp() override {
    delivery_accounts_ = 1;
    burst_limit_ = 10000;
    sync_wait_ms_ = 5000;
    ImportTest::SetUp();
  }
};

TEST_F(FairnessTest, AnotherAccountsRealtimeSyncIsNotHeldByAnImport) {
  ConnectAccount();
  const int64_t other_company = sandbox_->AddCompany("Other Co", "other-co");
  const int64_t other_admin =
      sandbox_->AddUser(other_company, "Olga Owner", "olga@other.example");
  const std::string other_account = UniqueId("acct");
  v1::Integration integration;
  ASSERT_TRUE(
      Connect(other_account, other_company, other_admin, &integration).ok());
  // Every Pipedrive call takes a while, so the import lasts well beyond
  // the wait of a SyncContact.
  SlowPipedrive(40);
  const std::vector<v1::Contact> contacts = Numbered(0, 1200);
  const v1::ImportAllResponse import = Import(contacts);
  ASSERT_TRUE(
      Eventually([&] { return Progress(import.import_id()).created() >= 20; }));

  v1::SyncContactResponse synced;
  ASSERT_TRUE(Sync(JaneDoe("rt-1", 1), &synced, other_account).ok());

  EXPECT_EQ(synced.outcome(), v1::SyncContactResponse::APPLIED)
      << synced.reason();
  EXPECT_GT(Progress(import.import_id()).pending(), 0);
}

// The import fills the burst window without going over it, several
// contacts at a time.
class PaceTest : public ImportTest {
 protected:
  void SetUp() override {
    burst_limit_ = 30;
    ImportTest::SetUp();
  }
};

TEST_F(PaceTest, ImportStaysInsideTheBurstWindowWithSeveralContactsAtOnce) {
  ConnectAccount();
  SlowPipedrive(30);
  const std::vector<v1::Contact> contacts = Numbered(0, 40);

  const v1::ImportAllResponse import = Import(contacts);

  ASSERT_TRUE(Done(import.import_id()));
  EXPECT_EQ(Progress(import.import_id()).created(), 40);
  const std::vector<sandbox::RequestRecord> requests = sandbox_->Requests();
  int most_in_a_window = 0;
  int over_limit = 0;
  for (size_t i = 0, first = 0; i < requests.size(); ++i) {
    if (requests[i].status == 429) ++over_limit;
    while (requests[i].at - requests[first].at >= absl::Seconds(2)) ++first;
    most_in_a_window =
        std::max(most_in_a_window, static_cast<int>(i - first + 1));
  }
  EXPECT_EQ(over_limit, 0);
  EXPECT_LE(most_in_a_window, 30);
  EXPECT_GT(sandbox_->PeakConcurrentRequests(), 1);
}

// The stream takes any number of contacts: they are written in batches,
// never held (bench/import_bench --stream_only measures the memory).
class LargeImportTest : public ImportTest {};

TEST_F(LargeImportTest, HundredThousandContactsAreAllAcceptedAndQueued) {
  ConnectAccount();
  // Delivery waits (the account is paused), so the test measures the stream.
  sandbox::Fault closed;
  closed.path_prefix = "/api/";
  closed.status = 402;
  closed.count = -1;
  sandbox_->InjectFault(closed);

  constexpr int kContacts = 100000;
  grpc::ClientContext context;
  v1::ImportAllResponse response;
  auto stream = stub_->ImportAll(&context, &response);
  v1::ImportAllRequest message;
  message.set_account_id(account_);
  for (int i = 0; i < kContacts; ++i) {
    v1::Contact* c = message.mutable_contact();
    *c = Numbered(i);
    c->set_company(absl::StrCat("Example ", i % 1000));
    ASSERT_TRUE(stream->Write(message));
  }
  stream->WritesDone();
  grpc::Status s = stream->Finish();

  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.accepted(), kContacts);
  EXPECT_EQ(response.rejected(), 0);
  const v1::Import progress = Progress(response.import_id());
  EXPECT_EQ(progress.accepted(), kContacts);
  EXPECT_EQ(progress.pending(), kContacts);
  // The last one is recorded like the first, waiting for delivery.
  for (const char* id : {"c-0", "c-99999"}) {
    v1::ContactSync sync;
    ASSERT_TRUE(GetContact(id, &sync).ok()) << id;
    EXPECT_EQ(sync.state(), v1::ContactSync::PENDING) << id;
  }
}

}  // namespace
}  // namespace wave::pipedrive::testing
