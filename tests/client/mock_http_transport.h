#ifndef WAVE_TESTS_CLIENT_MOCK_HTTP_TRANSPORT_H_
#define WAVE_TESTS_CLIENT_MOCK_HTTP_TRANSPORT_H_

#include "client/http_transport.h"

#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace wave::pipedrive {

// A gMock double of HttpTransport, for testing code that talks HTTP without
// a network.
class MockHttpTransport : public HttpTransport {
 public:
  MOCK_METHOD(absl::StatusOr<HttpResponse>, Send, (const HttpRequest& request),
              (override));
};

}  // namespace wave::pipedrive

#endif  // WAVE_TESTS_CLIENT_MOCK_HTTP_TRANSPORT_H_
