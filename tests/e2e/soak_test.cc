// The acceptance test of durable delivery. A few hundred contact changes
// are sent by several callers while Pipedrive fails, throttles and stalls,
// and while the server processes are killed with SIGKILL at random moments
// and restarted. Every answered call must end up in Pipedrive: one live
// Person and one live Lead per live contact, holding its latest version,
// and nothing for deleted contacts.
//
// Each run prints its seed; SOAK_SEED=<seed> replays the same operations
// (the timing of faults, kills and callers still varies from run to run).
// The server processes run with a short retry backoff (RETRY_CAP_MS), so
// that the queue drains within seconds once Pipedrive recovers.

#include "tests/e2e/e2e_fixture.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <vector>

namespace wave::pipedrive::testing {
namespace {

constexpr int kContacts = 40;
constexpr int kOperations = 300;
constexpr int kCallers = 6;
// Each caller pauses up to this long between operations, so that calls
// keep arriving while processes die (and the load lasts about a minute).
constexpr int kMaxPauseMs = 200;
// How long one operation may stay unanswered before the test gives up on
// it; a healthy run answers each within seconds.
constexpr absl::Duration kOperationLimit = absl::Seconds(60);
// How long the service may take to deliver everything once Pipedrive is
// healthy again and the processes stay up.
constexpr absl::Duration kSettleLimit = absl::Seconds(120);

constexpr const char* kFirstNames[] = {"Ada", "Ben", "Cleo",
                                       "Dan", "Eva", "Finn"};
constexpr const char* kJobTitles[] = {"Buyer", "CTO", "Head of Sales",
                                      "Office Manager", "Founder"};
constexpr char kCompany[] = "Soak Industries";
// The separator the service puts between the parts of a Lead title: an en
// dash between spaces.
constexpr char kTitleSeparator[] = " \xE2\x80\x93 ";

// One call Wave's contacts service makes.
struct Operation {
  bool is_delete = false;
  int contact = 0;
  int64_t version = 0;
};

// What the callers send, and what the service must end with: for each
// contact touched, the operation with its highest version (an update or a
// deletion; versions of one contact are never reused).
struct Plan {
  std::vector<Operation> operations;
  std::map<int, Operation> final_state;
};

Plan MakePlan(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> newest(kContacts, 0);
  Plan plan;
  for (int i = 0; i < kOperations; ++i) {
    Operation op;
    op.contact = std::uniform_int_distribution<int>(0, kContacts - 1)(rng);
    const int64_t seen = newest[op.contact];
    const double roll = std::uniform_real_distribution<double>(0, 1)(rng);
    if (seen > 1 && roll < 0.12) {
      // A late copy of an older version: it must change nothing.
      op.version = std::uniform_int_distribution<int64_t>(1, seen - 1)(rng);
    } else {
      // A deleted contact may come back with a later update.
      op.is_delete = seen > 0 && roll < 0.27;
      op.version = seen + std::uniform_int_distribution<int64_t>(1, 3)(rng);
      newest[op.contact] = op.version;
      plan.final_state[op.contact] = op;
    }
    plan.operations.push_back(op);
  }
  return plan;
}

std::string ContactId(int n) { return absl::StrCat("soak-", n); }

// Stable per contact, as a person's address usually is; names and job
// titles change with every version.
std::string Email(int n) { return absl::StrCat("soak", n, "@example.com"); }

std::string FirstName(int n, int64_t version) {
  return kFirstNames[(n + version) % std::size(kFirstNames)];
}

std::string LastName(int n, int64_t version) {
  return absl::StrCat("Contact", n, " v", version);
}

std::string JobTitle(int n, int64_t version) {
  return kJobTitles[(3 * static_cast<int64_t>(n) + version) %
                    std::size(kJobTitles)];
}

v1::Contact SoakContact(int n, int64_t version) {
  v1::Contact c;
  c.set_contact_id(ContactId(n));
  c.set_version(version);
  c.set_first_name(FirstName(n, version));
  c.set_last_name(LastName(n, version));
  auto* email = c.add_emails();
  email->set_value(Email(n));
  email->set_label("work");
  email->set_primary(true);
  c.set_job_title(JobTitle(n, version));
  c.set_company(kCompany);
  c.set_owner_email("bob@acme.example");
  return c;
}

std::string ExpectedName(int n, int64_t version) {
  return absl::StrCat(FirstName(n, version), " ", LastName(n, version));
}

std::string ExpectedTitle(int n, int64_t version) {
  return absl::StrCat(ExpectedName(n, version), kTitleSeparator,
                      JobTitle(n, version), kTitleSeparator, kCompany);
}

std::string Describe(const Operation& op) {
  return absl::StrCat(op.is_delete ? "DeleteContact " : "SyncContact ",
                      ContactId(op.contact), " v", op.version);
}

// Codes of a call the service did not answer: the process died under it,
// was not up yet, or the stream broke. Such a call is sent again.
bool Unanswered(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::CANCELLED ||
         code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::INTERNAL;
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// A channel that reconnects to a restarted process within half a second;
// gRPC's default backoff starts at 1 s and grows to 2 min.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          bool private_subchannels) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  if (private_subchannels) {
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                   args);
}

// One contact's live records in Pipedrive: Persons found by its email,
// Leads by its origin id.
struct LiveRecords {
  std::vector<sandbox::PersonRecord> persons;
  std::vector<sandbox::LeadRecord> leads;

  std::string Summary() const {
    std::vector<std::string> parts;
    parts.reserve(persons.size() + leads.size());
    for (const auto& p : persons) {
      parts.push_back(absl::StrCat("person ", p.id, " \"", p.name, "\""));
    }
    for (const auto& l : leads) {
      parts.push_back(absl::StrCat("lead ", l.id, " \"", l.title,
                                   "\" of person ", l.person_id.value_or(0)));
    }
    return absl::StrJoin(parts, "; ");
  }
};

LiveRecords LiveRecordsOf(int n,
                          const std::vector<sandbox::PersonRecord>& persons,
                          const std::vector<sandbox::LeadRecord>& leads) {
  LiveRecords own;
  for (const auto& p : persons) {
    const bool has_email =
        std::any_of(p.emails.begin(), p.emails.end(),
                    [&](const auto& e) { return e.value == Email(n); });
    if (has_email) own.persons.push_back(p);
  }
  const std::string origin = absl::StrCat("wave-connect:", ContactId(n));
  for (const auto& l : leads) {
    if (l.origin_id == origin) own.leads.push_back(l);
  }
  return own;
}

// A fixed address served by one server process at a time: after a kill
// the next process listens on the same port, so callers' channels simply
// reconnect.
struct ServerSlot {
  std::string address;
  pid_t pid = -1;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::PipedriveSync::Stub> stub;
};

void StopProcess(ServerSlot& slot) {
  if (slot.pid <= 0) return;
  kill(slot.pid, SIGKILL);
  waitpid(slot.pid, nullptr, 0);
  slot.pid = -1;
}

// What happened during a run, for the report and the assertions.
struct RunStats {
  std::atomic<int> answered{0};
  std::atomic<int> resent{0};
  std::atomic<int> kills{0};
  std::atomic<int> weather_changes{0};
  // A server could not be restarted: callers stop sending.
  std::atomic<bool> abandoned{false};
  absl::Mutex mu;
  std::map<std::string, int> outcomes ABSL_GUARDED_BY(mu);
  std::map<std::string, int> unanswered ABSL_GUARDED_BY(mu);
  std::vector<std::string> refused ABSL_GUARDED_BY(mu);
};

class SoakTest : public EndToEndTest {
 protected:
  void TearDown() override {
    for (ServerSlot& slot : slots_) StopProcess(slot);
    EndToEndTest::TearDown();
  }

  static uint64_t Seed() {
    const char* text = std::getenv("SOAK_SEED");
    uint64_t seed = 0;
    if (text != nullptr && absl::SimpleAtoi(text, &seed)) return seed;
    return std::random_device{}() ^
           static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  }

  // Connects the account through the in-process server, which then steps
  // aside for `processes` real server processes sharing the database.
  void StartProcesses(int processes) {
    ConnectAccount();
    app_.reset();
    slots_.resize(processes);
    for (ServerSlot& slot : slots_) {
      slot.address = absl::StrCat("127.0.0.1:", FreePort());
      slot.channel = NewChannel(slot.address, /*private_subchannels=*/false);
      slot.stub = v1::PipedriveSync::NewStub(slot.channel);
      std::string error;
      ASSERT_TRUE(Restart(slot, &error)) << error;
    }
  }

  // Kills the slot's process, if any, with SIGKILL and starts a new one on
  // the same address; true once the new one accepts connections.
  bool Restart(ServerSlot& slot, std::string* error) {
    if (slot.pid > 0) {
      int status = 0;
      if (waitpid(slot.pid, &status, WNOHANG) == slot.pid) {
        *error = absl::StrCat("server process ", slot.pid, " on ", slot.address,
                              " died by itself (wait status ", status, ")");
        slot.pid = -1;
        return false;
      }
      kill(slot.pid, SIGKILL);
      waitpid(slot.pid, nullptr, 0);
      slot.pid = -1;
    }
    // A process that finds the port still taken exits at once; try again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      slot.pid = SpawnServer(slot.address);
      if (slot.pid <= 0) {
        *error = "cannot start the server binary";
        return false;
      }
      auto probe = NewChannel(slot.address, /*private_subchannels=*/true);
      const absl::Time end = absl::Now() + absl::Seconds(20);
      while (absl::Now() < end) {
        if (probe->WaitForConnected(In(absl::Milliseconds(200)))) return true;
        if (waitpid(slot.pid, nullptr, WNOHANG) == slot.pid) {
          slot.pid = -1;
          break;
        }
      }
      if (slot.pid > 0) {
        *error = absl::StrCat("server on ", slot.address,
                              " accepted no connection within 20 s");
        return false;
      }
    }
    *error = absl::StrCat("server on ", slot.address, " exited at start");
    return false;
  }

  // Sends one operation until a server process answers it, as Wave's
  // contacts service does: an answered call is durable, an unanswered one
  // may or may not have been stored, and sending it again is harmless.
  void SendUntilAnswered(const Operation& op, std::mt19937_64& rng,
                         RunStats& stats) {
    const absl::Time give_up = absl::Now() + kOperationLimit;
    while (true) {
      ServerSlot& slot = slots_[std::uniform_int_distribution<size_t>(
          0, slots_.size() - 1)(rng)];
      grpc::ClientContext context;
      context.set_wait_for_ready(true);
      context.set_deadline(In(absl::Seconds(20)));
      grpc::Status status;
      std::string outcome;
      if (op.is_delete) {
        v1::DeleteContactRequest request;
        request.set_account_id(account_);
        request.set_contact_id(ContactId(op.contact));
        request.set_version(op.version);
        v1::DeleteContactResponse response;
        status = slot.stub->DeleteContact(&context, request, &response);
        outcome = absl::StrCat(
            "delete ",
            v1::DeleteContactResponse::Outcome_Name(response.outcome()));
      } else {
        v1::SyncContactRequest request;
        request.set_account_id(account_);
        *request.mutable_contact() = SoakContact(op.contact, op.version);
        v1::SyncContactResponse response;
        status = slot.stub->SyncContact(&context, request, &response);
        outcome = absl::StrCat(
            "sync ", v1::SyncContactResponse::Outcome_Name(response.outcome()));
        if (status.ok() &&
            response.outcome() == v1::SyncContactResponse::FAILED) {
          absl::MutexLock lock(&stats.mu);
          stats.refused.push_back(absl::StrCat(
              Describe(op), ": FAILED: ", response.sync().last_error()));
        }
      }

      if (status.ok()) {
        ++stats.answered;
        absl::MutexLock lock(&stats.mu);
        ++stats.outcomes[outcome];
        return;
      }
      if (!Unanswered(status.error_code())) {
        absl::MutexLock lock(&stats.mu);
        stats.refused.push_back(absl::StrCat(Describe(op), ": gRPC code ",
                                             status.error_code(), ": ",
                                             status.error_message()));
        return;
      }
      {
        absl::MutexLock lock(&stats.mu);
        ++stats.unanswered[absl::StrCat(status.error_code(), " ",
                                        status.error_message())];
      }
      if (stats.abandoned) return;
      if (absl::Now() > give_up) {
        absl::MutexLock lock(&stats.mu);
        stats.refused.push_back(
            absl::StrCat(Describe(op), ": still unanswered after ",
                         absl::FormatDuration(kOperationLimit), ": ",
                         status.error_message()));
        return;
      }
      ++stats.resent;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  // Changes Pipedrive's weather every 0.7-2.5 s: a few failures at a time,
  // then a general slow-down. Failures come first because the first
  // matching fault wins.
  void ChangeWeather(std::mt19937_64& rng) {
    sandbox_->ClearFaults();
    auto uniform = [&](int low, int high) {
      return std::uniform_int_distribution<int>(low, high)(rng);
    };
    if (uniform(0, 4) == 0) return;  // calm for a while
    const int failures = uniform(1, 3);
    for (int i = 0; i < failures; ++i) {
      sandbox::Fault fault;
      fault.delay_ms = uniform(0, 1) == 0 ? 0 : uniform(50, 300);
      switch (uniform(0, 6)) {
        case 0:  // persons down until the weather changes
          fault.path_prefix = "/api/v2/persons";
          fault.status = uniform(0, 1) == 0 ? 500 : 503;
          fault.count = -1;
          break;
        case 1:
          fault.path_prefix = "/api/v1/leads";
          fault.status = uniform(0, 1) == 0 ? 500 : 503;
          fault.count = uniform(1, 6);
          break;
        case 2:  // throttled
          fault.path_prefix = "/api/";
          fault.status = 429;
          fault.count = uniform(1, 4);
          break;
        case 3:  // the Person is made, the answer is lost
          fault.method = "POST";
          fault.path_prefix = "/api/v2/persons";
          fault.status = 502;
          fault.apply_then_fail = true;
          fault.count = uniform(1, 2);
          break;
        case 4:  // the Lead is made, the answer is lost
          fault.method = "POST";
          fault.path_prefix = "/api/v1/leads";
          fault.status = 502;
          fault.apply_then_fail = true;
          fault.count = uniform(1, 2);
          break;
        case 5:
          fault.method = "PATCH";
          fault.path_prefix = "/api/";
          fault.status = 500;
          fault.count = uniform(1, 3);
          break;
        default:
          fault.method = "DELETE";
          fault.path_prefix = "/api/";
          fault.status = 503;
          fault.count = uniform(1, 3);
          break;
      }
      sandbox_->InjectFault(fault);
    }
    if (uniform(0, 9) < 7) {
      sandbox::Fault slow;
      slow.path_prefix = "/api/";
      slow.status = 200;
      slow.delay_ms = uniform(50, 300);
      slow.count = -1;
      sandbox_->InjectFault(slow);
    }
  }

  int QueuedChanges() {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    return tx
        .exec_params1("SELECT count(*) FROM sync_queue WHERE account_id = $1",
                      account_)[0]
        .as<int>();
  }

  std::vector<std::string> CreateIntents(int n) {
    pqxx::connection conn(TestDatabaseUrl());
    pqxx::work tx(conn);
    std::vector<std::string> kinds;
    for (const auto& row :
         tx.exec_params("SELECT kind FROM create_intents WHERE account_id = $1"
                        " AND contact_id = $2 ORDER BY kind",
                        account_, ContactId(n))) {
      kinds.push_back(row[0].as<std::string>());
    }
    return kinds;
  }

  // The API calls the sandbox answered that name the contact (by email,
  // origin id or the ids of its records), oldest first, for the report of
  // a failure.
  std::string CallsAbout(int n) {
    const std::string email = Email(n);
    const std::string quoted_email = absl::StrCat("soak", n, "%40example.com");
    const std::string origin = absl::StrCat("wave-connect:", ContactId(n));
    std::vector<std::string> paths;
    std::vector<std::string> queries;
    for (const auto& p : sandbox_->Persons(company_)) {
      for (const auto& e : p.emails) {
        if (e.value != email) continue;
        paths.push_back(absl::StrCat("/persons/", p.id));
        queries.push_back(absl::StrCat("person_id=", p.id));
      }
    }
    for (const auto& l : sandbox_->Leads(company_)) {
      if (l.origin_id == origin) paths.push_back(absl::StrCat("/leads/", l.id));
    }
    std::string calls;
    for (const sandbox::RequestRecord& r : sandbox_->Requests()) {
      bool about =
          r.body.find(absl::StrCat("\"", email, "\"")) != std::string::npos ||
          r.body.find(absl::StrCat("\"", origin, "\"")) != std::string::npos ||
          r.query.find(quoted_email) != std::string::npos;
      for (const std::string& path : paths) {
        about |= absl::EndsWith(r.path, path);
      }
      for (const std::string& query : queries) {
        about |= absl::StrContains(absl::StrCat(r.query, "&"),
                                   absl::StrCat(query, "&"));
      }
      if (!about) continue;
      absl::StrAppend(&calls, "    ", r.method, " ", r.path,
                      r.query.empty() ? "" : "?", r.query, " -> ", r.status,
                      " ", r.body.substr(0, 200), "\n");
    }
    return calls;
  }

  // Whether GetContactSync shows the contact at its final operation, as
  // delivered; otherwise says why not in `why`.
  bool Settled(const Operation& op, v1::ContactSync* sync, std::string* why) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(In(absl::Seconds(5)));
    v1::GetContactSyncRequest request;
    request.set_account_id(account_);
    request.set_contact_id(ContactId(op.contact));
    grpc::Status s = slots_[0].stub->GetContactSync(&context, request, sync);
    if (!s.ok()) {
      *why =
          absl::StrCat(Describe(op), ": GetContactSync: ", s.error_message());
      return false;
    }
    const bool settled =
        op.is_delete ? sync->state() == v1::ContactSync::DELETED &&
                           sync->deleted_version() == op.version &&
                           sync->person_id() == 0 && sync->lead_id().empty()
                     : sync->state() == v1::ContactSync::SYNCED &&
                           sync->synced_version() == op.version &&
                           sync->latest_version() == op.version;
    if (!settled) {
      *why = absl::StrCat(Describe(op),
                          " not settled: ", sync->ShortDebugString());
    }
    return settled;
  }

  // The sandbox holds exactly what the final operations say, and the
  // service's ids point at it.
  void ExpectSandboxMatches(const Plan& plan) {
    const std::vector<sandbox::PersonRecord> persons = LivePersons(company_);
    const std::vector<sandbox::LeadRecord> leads = LiveLeads(company_);
    size_t live = 0;
    for (const auto& [n, op] : plan.final_state) {
      if (!op.is_delete) ++live;
    }
    EXPECT_EQ(persons.size(), live) << "live Persons vs live contacts";
    EXPECT_EQ(leads.size(), live) << "live Leads vs live contacts";

    for (const auto& [n, op] : plan.final_state) {
      const LiveRecords own = LiveRecordsOf(n, persons, leads);
      const std::string context = absl::StrCat(
          Describe(op), " is final; live in Pipedrive: [", own.Summary(),
          "]; create intents left: [", absl::StrJoin(CreateIntents(n), ","),
          "]; Pipedrive calls about it:\n", CallsAbout(n));

      if (op.is_delete) {
        EXPECT_TRUE(own.persons.empty() && own.leads.empty()) << context;
        continue;
      }
      v1::ContactSync sync;
      std::string why;
      EXPECT_TRUE(Settled(op, &sync, &why)) << why;
      if (own.persons.size() != 1 || own.leads.size() != 1) {
        ADD_FAILURE() << "expected one Person and one Lead: " << context;
        continue;
      }
      const sandbox::PersonRecord& person = own.persons[0];
      const sandbox::LeadRecord& lead = own.leads[0];
      EXPECT_EQ(person.name, ExpectedName(op.contact, op.version)) << context;
      EXPECT_EQ(lead.title, ExpectedTitle(op.contact, op.version)) << context;
      EXPECT_EQ(lead.person_id.value_or(0), person.id) << context;
      EXPECT_EQ(sync.person_id(), person.id) << context;
      EXPECT_EQ(sync.lead_id(), lead.id) << context;
    }
  }

  void RunSoak(int processes) {
    const uint64_t seed = Seed();
    std::cout << "[   SOAK   ] seed " << seed << " (SOAK_SEED=" << seed
              << " replays the operations)" << std::endl;
    RecordProperty("soak_seed", std::to_string(seed));
    SCOPED_TRACE(absl::StrCat("SOAK_SEED=", seed));
    const Plan plan = MakePlan(seed);
    StartProcesses(processes);
    if (HasFatalFailure()) return;
    const absl::Time start = absl::Now();

    RunStats stats;
    absl::Notification load_done;
    std::string killer_error;
    std::thread killer([&] {
      std::mt19937_64 rng(seed + 1);
      while (!load_done.WaitForNotificationWithTimeout(absl::Milliseconds(
          std::uniform_int_distribution<int>(500, 2000)(rng)))) {
        ServerSlot& slot = slots_[std::uniform_int_distribution<size_t>(
            0, slots_.size() - 1)(rng)];
        if (!Restart(slot, &killer_error)) {
          stats.abandoned = true;
          return;
        }
        ++stats.kills;
      }
    });
    std::thread weather([&] {
      std::mt19937_64 rng(seed + 2);
      while (!load_done.WaitForNotificationWithTimeout(absl::Milliseconds(
          std::uniform_int_distribution<int>(700, 2500)(rng)))) {
        ChangeWeather(rng);
        ++stats.weather_changes;
      }
    });
    std::atomic<size_t> next{0};
    std::vector<std::thread> callers;
    callers.reserve(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      callers.emplace_back([&, i] {
        std::mt19937_64 rng(seed + 100 + i);
        for (size_t k = next++; k < plan.operations.size() && !stats.abandoned;
             k = next++) {
          SendUntilAnswered(plan.operations[k], rng, stats);
          absl::SleepFor(absl::Milliseconds(
              std::uniform_int_distribution<int>(0, kMaxPauseMs)(rng)));
        }
      });
    }
    for (std::thread& t : callers) t.join();
    load_done.Notify();
    killer.join();
    weather.join();
    sandbox_->ClearFaults();
    const absl::Duration load_time = absl::Now() - start;

    ASSERT_TRUE(killer_error.empty()) << killer_error;
    {
      absl::MutexLock lock(&stats.mu);
      EXPECT_THAT(stats.refused, ::testing::IsEmpty());
    }
    std::string why;
    const bool settled = Eventually(
        [&] {
          if (QueuedChanges() > 0) {
            why = absl::StrCat(QueuedChanges(), " changes still queued");
            return false;
          }
          for (const auto& [n, op] : plan.final_state) {
            v1::ContactSync sync;
            if (!Settled(op, &sync, &why)) return false;
          }
          return true;
        },
        kSettleLimit);
    const absl::Duration settle_time = absl::Now() - start - load_time;

    {
      absl::MutexLock lock(&stats.mu);
      std::cout << "[   SOAK   ] " << processes << " process(es), "
                << plan.operations.size() << " operations on "
                << plan.final_state.size() << " contacts answered "
                << stats.answered << " times (" << stats.resent
                << " sent again) in " << absl::FormatDuration(load_time) << "; "
                << stats.kills << " kills, " << stats.weather_changes
                << " weather changes; settled in "
                << absl::FormatDuration(settle_time) << std::endl;
      for (const auto& [outcome, count] : stats.outcomes) {
        std::cout << "[   SOAK   ]   " << outcome << ": " << count << std::endl;
      }
      for (const auto& [error, count] : stats.unanswered) {
        std::cout << "[   SOAK   ]   unanswered, sent again: " << error << ": "
                  << count << std::endl;
      }
      std::cout << "[   SOAK   ]   sandbox: " << sandbox_->Requests().size()
                << " requests" << std::endl;
    }
    EXPECT_TRUE(settled) << why;
    ExpectSandboxMatches(plan);
  }

  std::vector<ServerSlot> slots_;
};

TEST_F(SoakTest, OneProcessKilledAtRandomDeliversEveryAnsweredChange) {
  RunSoak(/*processes=*/1);
}

TEST_F(SoakTest, TwoReplicasKilledAtRandomDeliverEveryAnsweredChange) {
  RunSoak(/*processes=*/2);
}

}  // namespace
}  // namespace wave::pipedrive::testing
