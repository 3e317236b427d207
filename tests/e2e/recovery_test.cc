// A create that Pipedrive carried out but whose answer never arrived (a
// lost response, or the server killed before it stored the new id) must
// not make a second Person or Lead.

#include "tests/e2e/e2e_fixture.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <functional>
#include <signal.h>
#include <sys/wait.h>
#include <thread>

namespace wave::pipedrive::testing {
namespace {

using ::testing::SizeIs;

class RecoveryTest : public EndToEndTest {
 protected:
  void AnswerFailsAfterCreate(const std::string& path) {
    sandbox::Fault fault;
    fault.method = "POST";
    fault.path_prefix = path;
    fault.status = 502;
    fault.apply_then_fail = true;
    sandbox_->InjectFault(fault);
  }

  bool Synced(const std::string& contact_id) {
    v1::ContactSync sync;
    return GetContact(contact_id, &sync).ok() &&
           sync.state() == v1::ContactSync::SYNCED;
  }

  // Until cleared, the sandbox holds matching requests for 3 s, then
  // carries them out (`apply`) or answers 503 without doing anything.
  void HoldRequests(const std::string& method, const std::string& path,
                    bool apply) {
    sandbox::Fault hold;
    hold.method = method;
    hold.path_prefix = path;
    hold.status = apply ? 200 : 503;
    hold.delay_ms = 3000;
    hold.apply_then_fail = apply;
    hold.count = -1;
    sandbox_->InjectFault(hold);
  }

  // Runs the server binary and points stub_ at it; returns its pid.
  pid_t SpawnAndConnect() {
    const std::string listen = absl::StrCat("127.0.0.1:", FreePort());
    const pid_t pid = SpawnServer(listen);
    if (pid <= 0) return pid;
    auto channel =
        grpc::CreateChannel(listen, grpc::InsecureChannelCredentials());
    if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::seconds(20))) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return -1;
    }
    stub_ = v1::PipedriveSync::NewStub(channel);
    return pid;
  }

  // Runs `call` against a new server process and kills that process with
  // SIGKILL 300 ms after `under_way` holds (the call's Pipedrive request is
  // then held by the sandbox). Returns whether `under_way` held.
  bool KillWhile(const std::function<void()>& call,
                 const std::function<bool()>& under_way) {
    const pid_t pid = SpawnAndConnect();
    if (pid <= 0) return false;
    std::thread caller(call);
    const bool reached = Eventually(under_way);
    absl::SleepFor(absl::Milliseconds(300));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    caller.join();
    return reached;
  }

  // Whether a create or deletion of `kind` is in doubt for the account.
  bool IntentRecorded(const std::string& kind) {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    return !tx.exec_params(
                  "SELECT 1 FROM create_intents"
                  " WHERE account_id = $1 AND kind = $2",
                  account_, kind)
                .empty();
  }

  // Makes every queued change of the account due at `when` (SQL).
  void QueueDue(const std::string& when) {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    tx.exec_params(absl::StrCat("UPDATE sync_queue SET next_attempt_at = ",
                                when, " WHERE account_id = $1"),
                   account_);
    tx.commit();
  }
};

TEST_F(RecoveryTest, PersonCreatedButAnswerLostIsFoundNotDuplicated) {
  ConnectAccount();
  AnswerFailsAfterCreate("/api/v2/persons");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::QUEUED);
  ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
  auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/v2/persons"), 1);
  EXPECT_EQ(sandbox_->CountRequests("GET", "/api/v2/persons/search"), 1);
  auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].person_id, persons[0].id);
}

TEST_F(RecoveryTest, LeadCreatedButAnswerLostIsFoundNotDuplicated) {
  ConnectAccount();
  AnswerFailsAfterCreate("/api/v1/leads");

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  EXPECT_EQ(response.outcome(), v1::SyncContactResponse::QUEUED);
  ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/v1/leads"), 1);
  v1::ContactSync sync;
  ASSERT_TRUE(GetContact("c-1", &sync).ok());
  EXPECT_EQ(sync.lead_id(), leads[0].id);
}

TEST_F(RecoveryTest, FailedCreateThatMadeNothingIsSimplyRetried) {
  ConnectAccount();
  sandbox::Fault outage;
  outage.method = "POST";
  outage.path_prefix = "/api/v2/persons";
  outage.status = 503;
  sandbox_->InjectFault(outage);

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/v2/persons"), 2);
}

TEST_F(RecoveryTest, CreateRefusedOutrightIsRetriedWithoutASearch) {
  ConnectAccount();
  for (const char* path : {"/api/v2/persons", "/api/v1/leads"}) {
    sandbox::Fault over_limit;
    over_limit.method = "POST";
    over_limit.path_prefix = path;
    over_limit.status = 429;
    sandbox_->InjectFault(over_limit);
  }

  v1::SyncContactResponse response;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &response).ok());

  ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
  // A 429 means nothing was made: no search (20 tokens) before retrying.
  EXPECT_EQ(sandbox_->CountRequests("GET", "/api/v2/persons/search"), 0);
  EXPECT_EQ(sandbox_->CountRequests("GET", "/api/v1/leads"), 0);
}

TEST_F(RecoveryTest, RecoveryDoesNotTakeAnotherContactsPersonOfTheSameName) {
  ConnectAccount();
  sandbox::Fault outage;
  outage.method = "POST";
  outage.path_prefix = "/api/v2/persons";
  outage.status = 503;
  sandbox_->InjectFault(outage);
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  auto set_due = [&](const std::string& when) {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE sync_queue SET next_attempt_at = now() + $2::interval"
        " WHERE account_id = $1 AND contact_id = 'c-1'",
        account_, when);
    tx.commit();
  };
  // c-1's create is in doubt (a 503), and it waits while another contact
  // with the same name and email gets its own Person.
  set_due("1 hour");
  v1::SyncContactResponse twin;
  ASSERT_TRUE(Sync(JaneDoe("c-2", 1), &twin).ok());
  ASSERT_EQ(twin.outcome(), v1::SyncContactResponse::APPLIED);

  set_due("0 seconds");

  ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
  v1::ContactSync one;
  v1::ContactSync two;
  ASSERT_TRUE(GetContact("c-1", &one).ok());
  ASSERT_TRUE(GetContact("c-2", &two).ok());
  EXPECT_NE(one.person_id(), two.person_id());
  EXPECT_THAT(LivePersons(company_), SizeIs(2));
}

// The server process is killed with SIGKILL while Pipedrive is creating the
// Person; after a restart the Person is found, not created again.
TEST_F(RecoveryTest, ServerKilledDuringCreateDoesNotDuplicateAfterRestart) {
  ConnectAccount();
  app_.reset();  // the in-process server steps aside for a real process
  sandbox::Fault slow;
  slow.method = "POST";
  slow.path_prefix = "/api/v2/persons";
  slow.status = 200;
  slow.delay_ms = 1500;
  slow.apply_then_fail = true;
  sandbox_->InjectFault(slow);

  // The intent is committed just before the request goes out; the sandbox
  // then holds the request for 1.5 s before creating the Person.
  ASSERT_TRUE(KillWhile(
      [&] {
        v1::SyncContactResponse ignored;
        (void)Sync(JaneDoe("c-1", 1), &ignored);  // dies with the server
      },
      [&] {
        return IntentRecorded("person") && LivePersons(company_).empty();
      }));
  // Pipedrive finishes the create the dead process asked for.
  ASSERT_TRUE(Eventually([&] { return LivePersons(company_).size() == 1; }));

  StartServer();
  // The change waits for its grace period; let it be due now.
  QueueDue("now()");

  ASSERT_TRUE(Eventually([&] { return Synced("c-1"); }));
  EXPECT_THAT(LivePersons(company_), SizeIs(1));
  EXPECT_THAT(LiveLeads(company_), SizeIs(1));
  EXPECT_EQ(sandbox_->CountRequests("POST", "/api/v2/persons"), 1);
}

// A deletion killed after removing the Lead, then the contact synced again
// with the same data, and that process killed while Pipedrive creates the
// new Lead: the contact ends with its Person and exactly one Lead.
TEST_F(RecoveryTest, SyncAfterAnInterruptedDeleteRestoresTheLeadOnce) {
  ConnectAccount();
  v1::SyncContactResponse first;
  ASSERT_TRUE(Sync(JaneDoe("c-1", 1), &first).ok());
  ASSERT_EQ(first.outcome(), v1::SyncContactResponse::APPLIED);
  const int64_t person = first.sync().person_id();
  app_.reset();  // real processes from here on, to be killed

  // The deletion removes the Lead, then dies while the Person is deleted.
  HoldRequests("DELETE", "/api/v2/persons", /*apply=*/false);
  // The Person's deletion goes out right after the Lead's.
  ASSERT_TRUE(KillWhile(
      [&] {
        v1::DeleteContactResponse ignored;
        (void)Delete("c-1", 2, &ignored);  // dies with the server
      },
      [&] {
        return IntentRecorded("deletion") && LiveLeads(company_).empty();
      }));
  sandbox_->ClearFaults();
  ASSERT_THAT(LivePersons(company_), SizeIs(1));
  // The deletion's retry comes later than the contact's next change.
  QueueDue("now() + interval '1 hour'");

  // Wave syncs the contact again, unchanged; the process dies while
  // Pipedrive creates the new Lead, before its id is stored.
  HoldRequests("POST", "/api/v1/leads", /*apply=*/true);
  ASSERT_TRUE(KillWhile(
      [&] {
        v1::SyncContactResponse ignored;
        (void)Sync(JaneDoe("c-1", 3), &ignored);  // dies with the server
      },
      [&] { return IntentRecorded("lead"); }))
      << "the missing Lead was not made again";
  // Pipedrive finishes the create the dead process asked for.
  ASSERT_TRUE(Eventually([&] { return LiveLeads(company_).size() == 1; }));
  sandbox_->ClearFaults();

  StartServer();
  QueueDue("now()");
  ASSERT_TRUE(Eventually([&] {
    v1::ContactSync sync;
    return GetContact("c-1", &sync).ok() && sync.synced_version() == 3;
  }));
  const auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(persons[0].id, person);
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].person_id, person);
  v1::ContactSync sync;
  ASSERT_TRUE(GetContact("c-1", &sync).ok());
  EXPECT_EQ(sync.lead_id(), leads[0].id);
  EXPECT_EQ(sync.state(), v1::ContactSync::SYNCED);
}

TEST_F(RecoveryTest, FoundPersonRenamedBeforeItsIdWasStoredIsFoundAgain) {
  ConnectAccount();
  app_.reset();  // real processes from here on, to be killed

  // The process dies while Pipedrive creates the Person.
  HoldRequests("POST", "/api/v2/persons", /*apply=*/true);
  ASSERT_TRUE(KillWhile(
      [&] {
        v1::SyncContactResponse ignored;
        (void)Sync(JaneDoe("c-1", 1), &ignored);  // dies with the server
      },
      [&] { return IntentRecorded("person"); }));
  ASSERT_TRUE(Eventually([&] { return LivePersons(company_).size() == 1; }));
  sandbox_->ClearFaults();
  // The lost create's retry comes later than the contact's next change.
  QueueDue("now() + interval '1 hour'");

  // The next change renames her. It finds the lost Person, and dies while
  // Pipedrive renames it.
  HoldRequests("PATCH", "/api/v2/persons", /*apply=*/true);
  v1::Contact renamed = JaneDoe("c-1", 2);
  renamed.set_first_name("Janet");
  sandbox_->ClearRequests();
  // The rename goes out right after the search that found the Person.
  ASSERT_TRUE(KillWhile(
      [&] {
        v1::SyncContactResponse ignored;
        (void)Sync(renamed, &ignored);  // dies with the server
      },
      [&] {
        return sandbox_->CountRequests("GET", "/api/v2/persons/search") > 0;
      }))
      << "the lost Person was not searched for";
  // Pipedrive finishes the rename the dead process asked for.
  ASSERT_TRUE(Eventually([&] {
    const auto persons = LivePersons(company_);
    return persons.size() == 1 && persons[0].name == "Janet Doe";
  }));
  sandbox_->ClearFaults();

  // The retry finds the Person under its new name.
  StartServer();
  QueueDue("now()");
  ASSERT_TRUE(Eventually([&] {
    v1::ContactSync sync;
    return GetContact("c-1", &sync).ok() && sync.synced_version() == 2;
  }));
  const auto persons = LivePersons(company_);
  ASSERT_THAT(persons, SizeIs(1));
  EXPECT_EQ(persons[0].name, "Janet Doe");
  v1::ContactSync sync;
  ASSERT_TRUE(GetContact("c-1", &sync).ok());
  EXPECT_EQ(sync.person_id(), persons[0].id);
  const auto leads = LiveLeads(company_);
  ASSERT_THAT(leads, SizeIs(1));
  EXPECT_EQ(leads[0].person_id, persons[0].id);
}

}  // namespace
}  // namespace wave::pipedrive::testing
