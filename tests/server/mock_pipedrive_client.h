#ifndef WAVE_TESTS_SERVER_MOCK_PIPEDRIVE_CLIENT_H_
#define WAVE_TESTS_SERVER_MOCK_PIPEDRIVE_CLIENT_H_

#include "client/pipedrive_client.h"

#include "gmock/gmock.h"

#include <string>
#include <vector>

namespace wave::pipedrive::testing {

// A gMock double of PipedriveClient for unit tests of one class.
class MockPipedriveClient : public PipedriveClient {
 public:
  MOCK_METHOD(absl::StatusOr<TokenSet>, ExchangeCode,
              (const std::string&, const std::string&), (override));
  MOCK_METHOD(absl::StatusOr<TokenSet>, RefreshToken, (const std::string&),
              (override));
  MOCK_METHOD(absl::Status, RevokeRefreshToken, (const std::string&),
              (override));
  MOCK_METHOD(absl::StatusOr<CurrentUser>, GetCurrentUser, (const Credentials&),
              (override));
  MOCK_METHOD(absl::StatusOr<std::vector<User>>, ListUsers,
              (const Credentials&), (override));
  MOCK_METHOD(absl::StatusOr<Person>, CreatePerson,
              (const Credentials&, const PersonWrite&), (override));
  MOCK_METHOD(absl::StatusOr<Person>, UpdatePerson,
              (const Credentials&, int64_t, const PersonWrite&), (override));
  MOCK_METHOD(absl::StatusOr<Person>, GetPerson, (const Credentials&, int64_t),
              (override));
  MOCK_METHOD(absl::Status, DeletePerson, (const Credentials&, int64_t),
              (override));
  MOCK_METHOD(absl::StatusOr<std::vector<PersonMatch>>, SearchPersons,
              (const Credentials&, const std::string&, const std::string&),
              (override));
  MOCK_METHOD(absl::StatusOr<Lead>, CreateLead,
              (const Credentials&, const LeadWrite&), (override));
  MOCK_METHOD(absl::StatusOr<Lead>, UpdateLead,
              (const Credentials&, const std::string&, const LeadWrite&),
              (override));
  MOCK_METHOD(absl::StatusOr<Lead>, GetLead,
              (const Credentials&, const std::string&), (override));
  MOCK_METHOD(absl::Status, DeleteLead,
              (const Credentials&, const std::string&), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<Lead>>, ListLeadsOfPerson,
              (const Credentials&, int64_t), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<FieldOption>>, GetDealFieldOptions,
              (const Credentials&, const std::string&), (override));
};

}  // namespace wave::pipedrive::testing

#endif  // WAVE_TESTS_SERVER_MOCK_PIPEDRIVE_CLIENT_H_
