#ifndef WAVE_CLIENT_SANDBOX_HANDLERS_H_
#define WAVE_CLIENT_SANDBOX_HANDLERS_H_

// The sandbox's Pipedrive endpoints. Each runs with FakePipedrive's mutex
// held and answers a complete Reply; none blocks.

#include "client/sandbox/sandbox_http.h"
#include "client/sandbox/sandbox_state.h"

#include <cstdint>
#include <string>

namespace wave::pipedrive::sandbox::internal {

// OAuth (oauth_handlers.cc).
Reply HandleAuthorize(SandboxState& state, const HttpRequest& request);
Reply HandleToken(SandboxState& state, const HttpRequest& request);
Reply HandleRevoke(SandboxState& state, const HttpRequest& request);
// The body of an OAuth endpoint error: its shape is undocumented, so the
// text is in both "message" and "error".
Reply OAuthErrorReply(int status, const std::string& message);

// Everything under /api/ (api_handlers.cc): authentication, rate limits,
// token budget, then the endpoint.
Reply HandleApi(SandboxState& state, const HttpRequest& request);

// The company whose valid access token the request carries, 0 if none.
int64_t CompanyOfRequest(SandboxState& state, const HttpRequest& request);

// Sets x-ratelimit-* for the request's bearer token without admitting the
// request. `exhausted` forces remaining 0 and a reset of at least 1, as
// Pipedrive answers a 429.
void SetRateLimitHeaders(SandboxState& state, const HttpRequest& request,
                         bool exhausted, Reply* reply);

}  // namespace wave::pipedrive::sandbox::internal

#endif  // WAVE_CLIENT_SANDBOX_HANDLERS_H_
