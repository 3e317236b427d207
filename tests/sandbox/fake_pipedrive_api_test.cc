// Persons, leads, rate limits, budgets, faults and company isolation of the
// sandbox, over real HTTP on loopback.

#include "client/sandbox/fake_pipedrive.h"
#include "client/sandbox/sandbox_http.h"
#include "tests/sandbox/sandbox_test_env.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace wave::pipedrive::sandbox {
namespace {

using nlohmann::json;
using testenv::HttpAnswer;
using testenv::TestEnv;
using testenv::TokenPair;
using ::testing::HasSubstr;

// A connected Acme user (Alice) with helpers for the common calls.
class Acme {
 public:
  explicit Acme(TestEnv& env)
      : env_(env), tokens_(env.Connect(env.acme, env.alice)) {}

  HttpAnswer Call(const std::string& method, const std::string& path,
                  const json& body = nullptr) {
    return env_.Api(method, path, tokens_.access_token, body);
  }

  // Creates a person and returns its id, or 0.
  int64_t CreatePerson(const std::string& name, const std::string& email) {
    const HttpAnswer answer =
        Call("POST", "/api/v2/persons",
             {{"name", name}, {"emails", {{{"value", email}}}}});
    EXPECT_EQ(answer.status, 200) << answer.raw_body;
    return answer.status == 200 ? answer.body["data"]["id"].get<int64_t>() : 0;
  }

  // Creates a lead for the person and returns its id, or "".
  std::string CreateLead(int64_t person_id) {
    const HttpAnswer answer = Call(
        "POST", "/api/v1/leads", {{"title", "Deal"}, {"person_id", person_id}});
    EXPECT_EQ(answer.status, 201) << answer.raw_body;
    return answer.status == 201 ? answer.body["data"]["id"].get<std::string>()
                                : "";
  }

  const TokenPair& tokens() const { return tokens_; }

 private:
  TestEnv& env_;
  TokenPair tokens_;
};

std::string PersonPath(int64_t id) {
  return absl::StrCat("/api/v2/persons/", id);
}

std::string LeadPath(const std::string& id) {
  return absl::StrCat("/api/v1/leads/", id);
}

// --- Persons ---------------------------------------------------------------

TEST(FakePipedrivePersons, CreateAnswers200WithIntegerIdsAndDefaults) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v2/persons",
                {{"name", "Jane Q Doe"},
                 {"emails",
                  {{{"value", "jane@acme.com"}, {"label", "work"}},
                   {{"value", "jane@home.example"}, {"label", "home"}}}},
                 {"phones", {{{"value", "+1 415 555 0100"}}}}});

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body["success"], true);
  const json& data = answer.body["data"];
  EXPECT_TRUE(data["id"].is_number_integer());
  EXPECT_EQ(data["owner_id"], env.alice);
  EXPECT_EQ(data["first_name"], "Jane");
  EXPECT_EQ(data["last_name"], "Q Doe");
  EXPECT_EQ(data["emails"][0]["primary"], true);
  EXPECT_EQ(data["emails"][1]["primary"], false);
  EXPECT_EQ(data["phones"][0]["primary"], true);
  EXPECT_EQ(data["phones"][0]["label"], "work");
  EXPECT_EQ(data["is_deleted"], false);
  EXPECT_EQ(data["visible_to"], 3);
  EXPECT_EQ(data["org_id"], nullptr);
  EXPECT_EQ(data["add_time"], "2026-01-01T00:00:00Z");
  const std::vector<PersonRecord> stored = env.fake().Persons(env.acme);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].emails[1].value, "jane@home.example");
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 5);
}

TEST(FakePipedrivePersons, AcceptsFirstAndLastNameInsteadOfName) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v2/persons",
                {{"first_name", "Jane"}, {"last_name", "Doe"}});

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body["data"]["name"], "Jane Doe");
}

TEST(FakePipedrivePersons, NameIsRequired) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v2/persons", {{"first_name", "Jane"}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("'name' is required"));
  EXPECT_TRUE(env.fake().Persons(env.acme).empty());
}

TEST(FakePipedrivePersons, TwoPrimaryEmailsAreRejected) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v2/persons",
                {{"name", "Jane"},
                 {"emails",
                  {{{"value", "a@x.example"}, {"primary", true}},
                   {{"value", "b@x.example"}, {"primary", true}}}}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(),
            "Validation failed: emails: only one item can be marked as "
            "primary");
  EXPECT_EQ(answer.body["error_info"], "Please check developers.pipedrive.com");
  EXPECT_EQ(answer.body["data"], nullptr);
}

TEST(FakePipedrivePersons, V1SingularEmailIsRejected) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer = acme.Call(
      "POST", "/api/v2/persons", {{"name", "Jane"}, {"email", "a@x.example"}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(),
            "Validation failed: email: Parameter 'email' is not allowed for "
            "this request");
}

TEST(FakePipedrivePersons, PlainStringEmailsAreRejected) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v2/persons",
                {{"name", "Jane"}, {"emails", json::array({"a@x.example"})}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("emails[0]"));
}

TEST(FakePipedrivePersons, NonBooleanPrimaryIsRejected) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v2/persons",
                {{"name", "Jane"},
                 {"phones", {{{"value", "+1 555"}, {"primary", "true"}}}}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(),
            "Validation failed: phones[0].primary: must be a boolean");
}

TEST(FakePipedrivePersons, OwnerMustBeAnActiveUserOfTheCompany) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer unknown = acme.Call("POST", "/api/v2/persons",
                                       {{"name", "Jane"}, {"owner_id", 999}});
  const HttpAnswer inactive = acme.Call(
      "POST", "/api/v2/persons", {{"name", "Jane"}, {"owner_id", env.ivan}});
  const HttpAnswer other_company = acme.Call(
      "POST", "/api/v2/persons", {{"name", "Jane"}, {"owner_id", env.gina}});
  const HttpAnswer bob = acme.Call("POST", "/api/v2/persons",
                                   {{"name", "Jane"}, {"owner_id", env.bob}});

  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.Error(),
            "Validation failed: owner_id: User with id 999 not found or not "
            "active");
  EXPECT_EQ(inactive.status, 400);
  EXPECT_EQ(other_company.status, 400);
  EXPECT_EQ(bob.status, 200);
  EXPECT_EQ(bob.body["data"]["owner_id"], env.bob);
}

TEST(FakePipedrivePersons, StringVisibleToIsRejected) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer = acme.Call("POST", "/api/v2/persons",
                                      {{"name", "Jane"}, {"visible_to", "3"}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("visible_to"));
}

TEST(FakePipedrivePersons, FormBodyIsUnsupportedMediaType) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      env.Raw("POST", "/api/v2/persons",
              {{"Authorization", "Bearer " + acme.tokens().access_token}},
              "name=Jane", "application/x-www-form-urlencoded");

  EXPECT_EQ(answer.status, 415);
  EXPECT_THAT(answer.Error(), HasSubstr("application/json"));
}

TEST(FakePipedrivePersons, PatchChangesOnlyPresentKeys) {
  TestEnv env;
  Acme acme(env);
  const int64_t id = acme.CreatePerson("Jane Doe", "jane@acme.com");
  env.clock().Advance(absl::Minutes(1));

  const HttpAnswer answer =
      acme.Call("PATCH", PersonPath(id),
                {{"phones", {{{"value", "+1 555 0100"}, {"label", "mobile"}}}},
                 {"owner_id", env.bob}});

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  const json& data = answer.body["data"];
  EXPECT_EQ(data["name"], "Jane Doe");
  EXPECT_EQ(data["emails"][0]["value"], "jane@acme.com");
  EXPECT_EQ(data["phones"][0]["label"], "mobile");
  EXPECT_EQ(data["owner_id"], env.bob);
  EXPECT_EQ(data["update_time"], "2026-01-01T00:01:00Z");
  EXPECT_EQ(data["add_time"], "2026-01-01T00:00:00Z");
}

TEST(FakePipedrivePersons, PatchValidatesLikeCreate) {
  TestEnv env;
  Acme acme(env);
  const int64_t id = acme.CreatePerson("Jane Doe", "jane@acme.com");

  const HttpAnswer add_time = acme.Call("PATCH", PersonPath(id),
                                        {{"add_time", "2026-01-01T00:00:00Z"}});
  const HttpAnswer phone =
      acme.Call("PATCH", PersonPath(id), {{"phone", "+1 555"}});

  EXPECT_EQ(add_time.status, 400);
  EXPECT_THAT(add_time.Error(), HasSubstr("'add_time' is not allowed"));
  EXPECT_EQ(phone.status, 400);
  EXPECT_THAT(phone.Error(), HasSubstr("'phone' is not allowed"));
  EXPECT_EQ(env.fake().Persons(env.acme)[0].phones.size(), 0u);
}

TEST(FakePipedrivePersons, DeleteMarksDeletedAndBlocksEdits) {
  TestEnv env;
  Acme acme(env);
  const int64_t id = acme.CreatePerson("Jane Doe", "jane@acme.com");

  const HttpAnswer deleted = acme.Call("DELETE", PersonPath(id));
  const HttpAnswer again = acme.Call("DELETE", PersonPath(id));
  const HttpAnswer patched =
      acme.Call("PATCH", PersonPath(id), {{"name", "Janet"}});
  const HttpAnswer fetched = acme.Call("GET", PersonPath(id));

  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body["data"], json({{"id", id}}));
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.Error(), "Entity was not found");
  EXPECT_EQ(patched.status, 404);
  EXPECT_EQ(patched.body["error_info"], "Object was not found.");
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.body["data"]["is_deleted"], true);
  EXPECT_EQ(fetched.body["data"]["name"], "Jane Doe");
}

TEST(FakePipedrivePersons, UnknownIdIsNotFound) {
  TestEnv env;
  Acme acme(env);

  EXPECT_EQ(acme.Call("GET", PersonPath(424242)).status, 404);
  EXPECT_EQ(acme.Call("PATCH", PersonPath(424242), {{"name", "X"}}).status,
            404);
}

TEST(FakePipedrivePersons, DeletedInUiIsNotEditable) {
  TestEnv env;
  Acme acme(env);
  const int64_t id = acme.CreatePerson("Jane Doe", "jane@acme.com");

  env.fake().DeletePersonInUi(id);

  EXPECT_EQ(acme.Call("PATCH", PersonPath(id), {{"name", "J"}}).status, 404);
  EXPECT_TRUE(env.fake().Persons(env.acme)[0].is_deleted);
}

TEST(FakePipedrivePersons, SearchFindsExactEmailIgnoringCase) {
  TestEnv env;
  Acme acme(env);
  const int64_t jane = acme.CreatePerson("Jane Doe", "Jane@Acme.com");
  acme.CreatePerson("Other Jane", "myjane@acme.com");
  const int64_t gone = acme.CreatePerson("Gone", "jane@acme.com");
  env.fake().DeletePersonInUi(gone);

  const HttpAnswer answer =
      acme.Call("GET",
                "/api/v2/persons/search?term=jane%40acme.com&fields=email&"
                "exact_match=true");

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  const json& items = answer.body["data"]["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["item"]["id"], jane);
  EXPECT_EQ(items[0]["item"]["type"], "person");
  EXPECT_EQ(items[0]["item"]["emails"], json::array({"Jane@Acme.com"}));
  EXPECT_TRUE(items[0]["result_score"].is_number());
  EXPECT_EQ(items[0]["item"]["owner"]["id"], env.alice);
  EXPECT_EQ(answer.Header("x-ratelimit-limit"), "10");
}

TEST(FakePipedrivePersons, SearchRejectsUnknownField) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("GET", "/api/v2/persons/search?term=jane&fields=mail");

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("'mail'"));
}

TEST(FakePipedrivePersons, SearchIsLimitedToTenPerTwoSeconds) {
  TestEnv env;
  Acme acme(env);
  const std::string path =
      "/api/v2/persons/search?term=x%40y.z&fields=email&exact_match=true";

  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(acme.Call("GET", path).status, 200) << i;
  }
  const HttpAnswer limited = acme.Call("GET", path);
  const int other = acme.Call("GET", "/api/v1/users/me").status;
  env.clock().Advance(absl::Seconds(2));
  const int later = acme.Call("GET", path).status;

  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Error(), "Request over limit");
  EXPECT_EQ(limited.Header("x-ratelimit-remaining"), "0");
  EXPECT_EQ(other, 200);
  EXPECT_EQ(later, 200);
}

TEST(FakePipedrivePersons, ConcurrentCreatesGetDistinctIds) {
  TestEnv env;
  Acme acme(env);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&acme, t] {
      for (int i = 0; i < kPerThread; ++i) {
        acme.CreatePerson("Jane Doe",
                          absl::StrCat("j", t, "-", i, "@x.example"));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const std::vector<PersonRecord> persons = env.fake().Persons(env.acme);
  std::set<int64_t> ids;
  for (const PersonRecord& person : persons) ids.insert(person.id);
  EXPECT_EQ(persons.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 5 * kThreads * kPerThread);
}

// --- Leads -----------------------------------------------------------------

TEST(FakePipedriveLeads, CreateAnswers201WithUuid) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");

  const HttpAnswer answer = acme.Call("POST", "/api/v1/leads",
                                      {{"title", "Jane Doe - VP - Acme"},
                                       {"person_id", person},
                                       {"owner_id", env.bob},
                                       {"origin_id", "wave-connect"},
                                       {"channel", 73},
                                       {"channel_id", "Wave Connect"},
                                       {"visible_to", "3"}});

  ASSERT_EQ(answer.status, 201) << answer.raw_body;
  const json& data = answer.body["data"];
  ASSERT_TRUE(data["id"].is_string());
  EXPECT_TRUE(internal::IsUuid(data["id"]));
  EXPECT_EQ(data["id"].get<std::string>()[14], '4');
  EXPECT_EQ(data["person_id"], person);
  EXPECT_EQ(data["owner_id"], env.bob);
  EXPECT_EQ(data["creator_id"], env.alice);
  EXPECT_EQ(data["origin"], "API");
  EXPECT_EQ(data["source_name"], "API");
  EXPECT_EQ(data["origin_id"], "wave-connect");
  EXPECT_EQ(data["channel"], 73);
  EXPECT_EQ(data["channel_id"], "Wave Connect");
  EXPECT_EQ(data["is_archived"], false);
  EXPECT_EQ(data["visible_to"], "3");
  EXPECT_EQ(data["add_time"], "2026-01-01T00:00:00.000Z");
  const std::vector<LeadRecord> leads = env.fake().Leads(env.acme);
  ASSERT_EQ(leads.size(), 1u);
  EXPECT_EQ(leads[0].origin_id, "wave-connect");
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 5 + 10);
}

TEST(FakePipedriveLeads, LeadWithoutPersonOrOrganizationIsRejected) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("POST", "/api/v1/leads", {{"title", "Orphan"}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("linked to a person or an "
                                        "organization"));
  EXPECT_TRUE(env.fake().Leads(env.acme).empty());
}

TEST(FakePipedriveLeads, IntegerVisibleToIsRejected) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");

  const HttpAnswer answer =
      acme.Call("POST", "/api/v1/leads",
                {{"title", "T"}, {"person_id", person}, {"visible_to", 3}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("visible_to"));
}

TEST(FakePipedriveLeads, PersonMustBeLiveAndInTheCompany) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");
  env.fake().DeletePersonInUi(person);
  const TokenPair gina = env.Connect(env.globex, env.gina);
  const HttpAnswer globex_person =
      env.Api("POST", "/api/v2/persons", gina.access_token, {{"name", "G"}});

  const HttpAnswer deleted = acme.Call("POST", "/api/v1/leads",
                                       {{"title", "T"}, {"person_id", person}});
  const HttpAnswer foreign = acme.Call(
      "POST", "/api/v1/leads",
      {{"title", "T"}, {"person_id", globex_person.body["data"]["id"]}});

  EXPECT_EQ(deleted.status, 400);
  EXPECT_EQ(deleted.Error(), absl::StrCat("Validation failed: person_id: "
                                          "Person with id ",
                                          person, " not found"));
  EXPECT_EQ(foreign.status, 400);
}

TEST(FakePipedriveLeads, ChannelMustBeACompanyOption) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");

  const HttpAnswer answer =
      acme.Call("POST", "/api/v1/leads",
                {{"title", "T"}, {"person_id", person}, {"channel", 12}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("channel"));
}

TEST(FakePipedriveLeads, UnknownKeyIsRejected) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");

  const HttpAnswer answer =
      acme.Call("POST", "/api/v1/leads",
                {{"title", "T"}, {"person_id", person}, {"source", "Wave"}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_THAT(answer.Error(), HasSubstr("'source' is not allowed"));
}

TEST(FakePipedriveLeads, PatchOfOriginIdIsRejected) {
  TestEnv env;
  Acme acme(env);
  const std::string lead =
      acme.CreateLead(acme.CreatePerson("Jane Doe", "jane@acme.com"));

  const HttpAnswer answer =
      acme.Call("PATCH", LeadPath(lead), {{"origin_id", "other"}});

  EXPECT_EQ(answer.status, 400);
  EXPECT_EQ(answer.Error(),
            "Validation failed: origin_id: Parameter 'origin_id' is not "
            "allowed for this request");
}

TEST(FakePipedriveLeads, PatchChangesPresentKeys) {
  TestEnv env;
  Acme acme(env);
  const std::string lead =
      acme.CreateLead(acme.CreatePerson("Jane Doe", "jane@acme.com"));

  const HttpAnswer answer = acme.Call(
      "PATCH", LeadPath(lead),
      {{"title", "New title"}, {"channel", 71}, {"owner_id", env.bob}});

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body["data"]["title"], "New title");
  EXPECT_EQ(answer.body["data"]["channel"], 71);
  EXPECT_EQ(answer.body["data"]["owner_id"], env.bob);
  EXPECT_EQ(answer.body["data"]["creator_id"], env.alice);
}

TEST(FakePipedriveLeads, ArchivedLeadIsReadableButNotEditable) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");
  const std::string lead = acme.CreateLead(person);

  env.fake().ArchiveLead(lead);

  const HttpAnswer patched =
      acme.Call("PATCH", LeadPath(lead), {{"title", "New"}});
  const HttpAnswer fetched = acme.Call("GET", LeadPath(lead));
  const HttpAnswer listed =
      acme.Call("GET", absl::StrCat("/api/v1/leads?person_id=", person));
  EXPECT_EQ(patched.status, 404);
  EXPECT_EQ(patched.Error(), "requested lead not found");
  EXPECT_EQ(patched.body["error_info"], "Object was not found.");
  EXPECT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.body["data"]["is_archived"], true);
  EXPECT_EQ(listed.body["data"], json::array());
}

TEST(FakePipedriveLeads, ConvertedLeadIsGone) {
  TestEnv env;
  Acme acme(env);
  const std::string lead =
      acme.CreateLead(acme.CreatePerson("Jane Doe", "jane@acme.com"));

  env.fake().ConvertLead(lead);

  EXPECT_EQ(acme.Call("GET", LeadPath(lead)).status, 404);
  EXPECT_EQ(acme.Call("PATCH", LeadPath(lead), {{"title", "x"}}).status, 404);
  EXPECT_TRUE(env.fake().Leads(env.acme)[0].is_deleted);
}

TEST(FakePipedriveLeads, ListFiltersByPerson) {
  TestEnv env;
  Acme acme(env);
  const int64_t jane = acme.CreatePerson("Jane Doe", "jane@acme.com");
  const int64_t john = acme.CreatePerson("John Roe", "john@acme.com");
  const std::string jane_lead = acme.CreateLead(jane);
  acme.CreateLead(john);

  const HttpAnswer answer =
      acme.Call("GET", absl::StrCat("/api/v1/leads?person_id=", jane));

  ASSERT_EQ(answer.status, 200);
  ASSERT_EQ(answer.body["data"].size(), 1u);
  EXPECT_EQ(answer.body["data"][0]["id"], jane_lead);
  EXPECT_EQ(answer.body["additional_data"]["more_items_in_collection"], false);
}

TEST(FakePipedriveLeads, DeleteAnswersTheIdThenNotFound) {
  TestEnv env;
  Acme acme(env);
  const std::string lead =
      acme.CreateLead(acme.CreatePerson("Jane Doe", "jane@acme.com"));

  const HttpAnswer deleted = acme.Call("DELETE", LeadPath(lead));
  const HttpAnswer again = acme.Call("DELETE", LeadPath(lead));

  EXPECT_EQ(deleted.status, 200);
  EXPECT_EQ(deleted.body["data"], json({{"id", lead}}));
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(acme.Call("GET", LeadPath(lead)).status, 404);
}

// --- Deal fields -------------------------------------------------------------

TEST(FakePipedriveDealFields, ChannelFieldListsTheCompanyOptions) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer = acme.Call("GET", "/api/v2/dealFields/channel");

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body, json::parse(R"({
    "success": true,
    "data": {
      "field_name": "Source channel", "field_code": "channel",
      "field_type": "enum",
      "options": [
        {"id": "71", "label": "Marketplace", "color": null,
         "update_time": null, "add_time": null},
        {"id": "73", "label": "Wave Connect", "color": null,
         "update_time": null, "add_time": null}
      ],
      "subfields": null, "is_custom_field": false,
      "is_optional_response_field": false
    }
  })"));
  EXPECT_EQ(answer.Header("x-ratelimit-remaining"), "79");
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 1);
}

TEST(FakePipedriveDealFields, CompanyWithoutOptionsHasAnEmptyList) {
  TestEnv env;
  const TokenPair gina = env.Connect(env.globex, env.gina);

  const HttpAnswer answer =
      env.Api("GET", "/api/v2/dealFields/channel", gina.access_token);

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  EXPECT_EQ(answer.body["data"]["options"], json::array());
}

TEST(FakePipedriveDealFields, WithoutDealScopeIsScopeMismatch) {
  SandboxOptions options;
  options.deal_scope = false;
  TestEnv env(options);
  Acme acme(env);

  const HttpAnswer refused = acme.Call("GET", "/api/v2/dealFields/channel");
  const int64_t spent = env.fake().TokensSpent(env.acme);
  env.fake().SetDealScope(true);
  const HttpAnswer granted = acme.Call("GET", "/api/v2/dealFields/channel");

  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.body, json::parse(R"({
    "success": false, "error": "Scope and URL mismatch", "errorCode": 403,
    "error_info": "Please check developers.pipedrive.com"
  })"));
  EXPECT_EQ(refused.Header("x-ratelimit-remaining"), "79");
  EXPECT_EQ(spent, 0);
  EXPECT_EQ(granted.status, 200);
}

TEST(FakePipedriveDealFields, WithdrawnScopeAppliesToIssuedTokens) {
  TestEnv env;
  Acme acme(env);
  env.fake().SetDealScope(false);

  const HttpAnswer refused = acme.Call("GET", "/api/v2/dealFields/channel");
  const int other_api = acme.Call("GET", "/api/v1/users/me").status;

  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.Error(), "Scope and URL mismatch");
  EXPECT_EQ(other_api, 200);
}

TEST(FakePipedriveDealFields, OtherFieldsAreNotModelled) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer = acme.Call("GET", "/api/v2/dealFields/title");

  EXPECT_EQ(answer.status, 404);
  EXPECT_EQ(answer.Error(), "Entity was not found");
}

TEST(FakePipedriveDealFields, IncludeFieldsAddsTheRequestedNamespaces) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer answer =
      acme.Call("GET",
                "/api/v2/dealFields/channel?include_fields=ui_visibility%2C"
                "required_fields");
  const HttpAnswer unknown =
      acme.Call("GET", "/api/v2/dealFields/channel?include_fields=options");

  ASSERT_EQ(answer.status, 200) << answer.raw_body;
  const json& data = answer.body["data"];
  EXPECT_EQ(data["ui_visibility"]["show_in_pipelines"]["show_in_all"], true);
  EXPECT_EQ(data["required_fields"]["statuses"], json::object());
  EXPECT_FALSE(data.contains("important_fields"));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_THAT(unknown.Error(), HasSubstr("include_fields"));
}

// --- Rate limits and budget -----------------------------------------------

TEST(FakePipedriveRateLimit, EveryApiAnswerCarriesHeaders) {
  TestEnv env;
  Acme acme(env);

  const HttpAnswer ok = acme.Call("GET", "/api/v1/users/me");
  const HttpAnswer not_found = acme.Call("GET", "/api/v1/deals");
  const HttpAnswer invalid =
      acme.Call("POST", "/api/v2/persons", {{"email", "x"}});

  EXPECT_EQ(ok.Header("x-ratelimit-limit"), "80");
  EXPECT_EQ(ok.Header("x-ratelimit-remaining"), "79");
  EXPECT_EQ(ok.Header("x-ratelimit-reset"), "2");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.Header("x-ratelimit-remaining"), "78");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_EQ(invalid.Header("x-ratelimit-remaining"), "77");
}

TEST(FakePipedriveRateLimit, BurstOverTheLimitIs429UntilTheWindowMoves) {
  SandboxOptions options;
  options.burst_limit = 3;
  TestEnv env(options);
  Acme acme(env);

  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(acme.Call("GET", "/api/v1/users/me").status, 200) << i;
  }
  const HttpAnswer limited = acme.Call("GET", "/api/v1/users/me");
  env.clock().Advance(absl::Seconds(2));
  const HttpAnswer later = acme.Call("GET", "/api/v1/users/me");

  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Error(), "Request over limit");
  EXPECT_EQ(limited.Header("x-ratelimit-limit"), "3");
  EXPECT_EQ(limited.Header("x-ratelimit-remaining"), "0");
  EXPECT_EQ(limited.Header("x-ratelimit-reset"), "2");
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(later.Header("x-ratelimit-remaining"), "2");
}

TEST(FakePipedriveRateLimit, SpentDailyBudgetIs429ForTheWholeCompany) {
  SandboxOptions options;
  options.daily_token_budget = 6;
  TestEnv env(options);
  Acme acme(env);
  const int64_t id = acme.CreatePerson("Jane Doe", "jane@acme.com");
  ASSERT_EQ(acme.Call("GET", PersonPath(id)).status, 200);
  const TokenPair bob = env.Connect(env.acme, env.bob);
  const TokenPair gina = env.Connect(env.globex, env.gina);

  const HttpAnswer over = env.Api("GET", "/api/v1/users/me", bob.access_token);
  const int other_company =
      env.Api("GET", "/api/v1/users/me", gina.access_token).status;
  env.fake().ResetTokenBudgets();
  const int after_reset =
      env.Api("GET", "/api/v1/users/me", bob.access_token).status;

  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(over.Error(), "Request over limit");
  EXPECT_NE(over.Header("x-ratelimit-remaining"), "0");
  EXPECT_EQ(env.fake().TokensSpent(env.acme), 2);
  EXPECT_EQ(other_company, 200);
  EXPECT_EQ(after_reset, 200);
}

// --- Faults ------------------------------------------------------------------

TEST(FakePipedriveFaults, Injected500AnswersOnceWithoutEffect) {
  TestEnv env;
  Acme acme(env);
  env.fake().InjectFault({"POST", "/api/v2/persons", 500});

  const HttpAnswer failed =
      acme.Call("POST", "/api/v2/persons", {{"name", "Jane"}});
  const HttpAnswer retried =
      acme.Call("POST", "/api/v2/persons", {{"name", "Jane"}});

  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.body["success"], false);
  EXPECT_EQ(retried.status, 200);
  EXPECT_EQ(env.fake().Persons(env.acme).size(), 1u);
}

TEST(FakePipedriveFaults, Injected429CarriesRateLimitHeaders) {
  TestEnv env;
  Acme acme(env);
  Fault fault;
  fault.path_prefix = "/api/";
  fault.status = 429;
  env.fake().InjectFault(fault);

  const HttpAnswer answer = acme.Call("GET", "/api/v1/users/me");

  EXPECT_EQ(answer.status, 429);
  EXPECT_EQ(answer.Error(), "Request over limit");
  EXPECT_EQ(answer.Header("x-ratelimit-remaining"), "0");
  EXPECT_EQ(answer.Header("x-ratelimit-reset"), "1");
}

TEST(FakePipedriveFaults, ApplyThenFailStoresTheRecord) {
  TestEnv env;
  Acme acme(env);
  Fault fault{"POST", "/api/v1/leads", 502};
  fault.apply_then_fail = true;
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");
  env.fake().InjectFault(fault);

  const HttpAnswer answer = acme.Call("POST", "/api/v1/leads",
                                      {{"title", "T"}, {"person_id", person}});

  EXPECT_EQ(answer.status, 502);
  EXPECT_EQ(env.fake().Leads(env.acme).size(), 1u);
  EXPECT_EQ(env.fake().Requests().back().company_id, env.acme);
}

TEST(FakePipedriveFaults, CountMinusOneLastsUntilCleared) {
  TestEnv env;
  Acme acme(env);
  Fault fault{"", "/api/v1/users", 503, -1};
  env.fake().InjectFault(fault);

  const int first = acme.Call("GET", "/api/v1/users/me").status;
  const int second = acme.Call("GET", "/api/v1/users").status;
  const int unmatched = acme.Call("GET", "/api/v1/leads").status;
  env.fake().ClearFaults();
  const int cleared = acme.Call("GET", "/api/v1/users/me").status;

  EXPECT_EQ(first, 503);
  EXPECT_EQ(second, 503);
  EXPECT_EQ(unmatched, 200);
  EXPECT_EQ(cleared, 200);
}

TEST(FakePipedriveFaults, ApplyToTheTokenEndpoint) {
  TestEnv env;
  const TokenPair tokens = env.Connect(env.acme, env.alice);
  env.fake().InjectFault({"POST", "/oauth/token", 503});

  const HttpAnswer failed = env.TokenRequest(absl::StrCat(
      "grant_type=refresh_token&refresh_token=", tokens.refresh_token));
  const HttpAnswer retried = env.TokenRequest(absl::StrCat(
      "grant_type=refresh_token&refresh_token=", tokens.refresh_token));

  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(retried.status, 200);
}

TEST(FakePipedriveFaults, DelayOnlyFaultStillAnswers) {
  TestEnv env;
  Acme acme(env);
  Fault fault{"GET", "/api/v1/users/me", 0};
  fault.delay_ms = 20;
  env.fake().InjectFault(fault);

  EXPECT_EQ(acme.Call("GET", "/api/v1/users/me").status, 200);
}

// --- Isolation ------------------------------------------------------------

TEST(FakePipedriveIsolation, AnotherCompanyCannotTouchRecords) {
  TestEnv env;
  Acme acme(env);
  const int64_t person = acme.CreatePerson("Jane Doe", "jane@acme.com");
  const std::string lead = acme.CreateLead(person);
  const TokenPair gina = env.Connect(env.globex, env.gina);

  const int get = env.Api("GET", PersonPath(person), gina.access_token).status;
  const int patch = env.Api("PATCH", PersonPath(person), gina.access_token,
                            {{"name", "Hijacked"}})
                        .status;
  const int del =
      env.Api("DELETE", PersonPath(person), gina.access_token).status;
  const int get_lead = env.Api("GET", LeadPath(lead), gina.access_token).status;
  const HttpAnswer search =
      env.Api("GET",
              "/api/v2/persons/search?term=jane%40acme.com&fields=email&"
              "exact_match=true",
              gina.access_token);

  EXPECT_EQ(get, 404);
  EXPECT_EQ(patch, 404);
  EXPECT_EQ(del, 404);
  EXPECT_EQ(get_lead, 404);
  EXPECT_EQ(search.body["data"]["items"], json::array());
  EXPECT_EQ(env.fake().Persons(env.acme)[0].name, "Jane Doe");
  EXPECT_FALSE(env.fake().Persons(env.acme)[0].is_deleted);
}

}  // namespace
}  // namespace wave::pipedrive::sandbox
