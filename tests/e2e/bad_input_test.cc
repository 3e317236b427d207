// Bad input gets INVALID_ARGUMENT or NOT_FOUND naming the field or the
// account, through the real gRPC channel, and changes nothing.

#include "tests/e2e/e2e_fixture.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <string>

namespace wave::pipedrive::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class BadInputTest : public EndToEndTest {
 protected:
  void ExpectRejected(const v1::Contact& contact, grpc::StatusCode code,
                      const std::string& message_start) {
    v1::SyncContactResponse response;
    grpc::Status s = Sync(contact, &response);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), StartsWith(message_start));
  }
};

TEST_F(BadInputTest, ContactWithoutNameEmailOrPhone) {
  ConnectAccount();
  v1::Contact contact;
  contact.set_contact_id("c-1");
  contact.set_version(1);
  contact.set_job_title("Ghost");

  ExpectRejected(contact, grpc::StatusCode::INVALID_ARGUMENT,
                 "contact: needs a name, an email or a phone");
  EXPECT_EQ(ApiCalls(), 0);
}

TEST_F(BadInputTest, TwoPrimaryEmails) {
  ConnectAccount();
  v1::Contact contact = JaneDoe("c-1", 1);
  contact.mutable_emails(1)->set_primary(true);

  ExpectRejected(contact, grpc::StatusCode::INVALID_ARGUMENT,
                 "contact.emails: more than one entry is marked primary");
}

TEST_F(BadInputTest, UnknownAccount) {
  v1::SyncContactResponse response;
  grpc::Status s = Sync(JaneDoe("c-1", 1), &response, "acct-never-connected");

  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("acct-never-connected"));
}

TEST_F(BadInputTest, MissingAccountId) {
  v1::SyncContactResponse response;
  grpc::ClientContext context;
  v1::SyncContactRequest request;
  *request.mutable_contact() = JaneDoe("c-1", 1);

  grpc::Status s = stub_->SyncContact(&context, request, &response);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("account_id:"));
}

TEST_F(BadInputTest, OversizedFields) {
  ConnectAccount();
  v1::Contact long_name = JaneDoe("c-1", 1);
  long_name.set_first_name(std::string(300, 'a'));
  ExpectRejected(long_name, grpc::StatusCode::INVALID_ARGUMENT,
                 "contact.first_name:");

  v1::Contact long_email = JaneDoe("c-1", 1);
  long_email.mutable_emails(1)->set_value(std::string(300, 'b') + "@x.io");
  ExpectRejected(long_email, grpc::StatusCode::INVALID_ARGUMENT,
                 "contact.emails[1].value:");

  v1::Contact many_phones = JaneDoe("c-1", 1);
  for (int i = 0; i < 5000; ++i) {
    many_phones.add_phones()->set_value(absl::StrCat("+1 555 ", i));
  }
  ExpectRejected(many_phones, grpc::StatusCode::INVALID_ARGUMENT,
                 "contact.phones:");
  EXPECT_EQ(ApiCalls(), 0);
}

TEST_F(BadInputTest, InvalidUtf8IsRejectedNotStored) {
  ConnectAccount();
  v1::Contact contact = JaneDoe("c-1", 1);
  contact.set_company(std::string("Acme \xC3\x28 GmbH"));

  v1::SyncContactResponse response;
  grpc::Status s = Sync(contact, &response);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("UTF-8"));
  v1::ContactSync sync;
  EXPECT_EQ(GetContact("c-1", &sync).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ApiCalls(), 0);
}

TEST_F(BadInputTest, DeleteNeedsPositiveVersion) {
  ConnectAccount();
  v1::DeleteContactResponse response;

  grpc::Status s = Delete("c-1", 0, &response);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("version:"));
}

TEST_F(BadInputTest, UnknownContact) {
  ConnectAccount();
  v1::ContactSync sync;

  grpc::Status s = GetContact("never-seen", &sync);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("never-seen"));
}

TEST_F(BadInputTest, GetIntegrationOfUnknownAccount) {
  account_ = "acct-nobody";
  v1::Integration integration;

  grpc::Status s = GetIntegration(&integration);

  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("acct-nobody"));
}

}  // namespace
}  // namespace wave::pipedrive::testing
