#include "client/rate_limited_transport.h"

#include "client/http_status.h"
#include "client/http_transport.h"

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wave::pipedrive {
namespace {

// Bounds the per-window history whatever a server claims as its limit.
constexpr int kMaxLimit = 10000;

// Idle tokens are looked for at most this often, so that a busy transport
// does not walk the whole map on every request.
constexpr absl::Duration kMaxSweepInterval = absl::Minutes(1);

// The token of an "Authorization: Bearer <token>" header, or nullopt.
std::optional<std::string> BearerToken(const HttpRequest& request) {
  constexpr absl::string_view kScheme = "bearer ";
  for (const auto& [name, value] : request.headers) {
    if (!absl::EqualsIgnoreCase(name, "authorization")) continue;
    absl::string_view credentials = absl::StripAsciiWhitespace(value);
    if (!absl::StartsWithIgnoreCase(credentials, kScheme)) return std::nullopt;
    credentials.remove_prefix(kScheme.size());
    credentials = absl::StripAsciiWhitespace(credentials);
    if (credentials.empty()) return std::nullopt;
    return std::string(credentials.data(), credentials.size());
  }
  return std::nullopt;
}

// Pipedrive limits its search endpoints separately: /api/v2/persons/search,
// /api/v2/leads/search, /api/v1/itemSearch and /api/v1/itemSearch/field.
bool IsSearchPath(const std::string& url) {
  absl::string_view path = url;
  if (const std::size_t scheme = path.find("://");
      scheme != absl::string_view::npos) {
    path.remove_prefix(scheme + 3);
    const std::size_t slash = path.find('/');
    path = slash == absl::string_view::npos ? absl::string_view()
                                            : path.substr(slash);
  }
  path = path.substr(0, path.find_first_of("?#"));

  std::vector<absl::string_view> segments =
      absl::StrSplit(path, '/', absl::SkipEmpty());
  if (segments.empty()) return false;
  if (absl::EqualsIgnoreCase(segments.back(), "search")) return true;
  return std::any_of(segments.begin(), segments.end(),
                     [](absl::string_view segment) {
                       return absl::EqualsIgnoreCase(segment, "itemSearch");
                     });
}

void AddStats(RateLimitedTransport::Stats& to,
              const RateLimitedTransport::Stats& delta) {
  to.requests_sent += delta.requests_sent;
  to.responses_429 += delta.responses_429;
  to.rejected += delta.rejected;
  to.time_waited += delta.time_waited;
}

}  // namespace

RateLimitedTransport::RateLimitedTransport(std::shared_ptr<HttpTransport> inner,
                                           RateLimitedTransportOptions options)
    : inner_(std::move(inner)), options_([&options] {
        options.default_limit = std::clamp(options.default_limit, 1, kMaxLimit);
        options.search_limit = std::clamp(options.search_limit, 1, kMaxLimit);
        options.safety_margin = std::max(options.safety_margin, 0);
        options.realtime_share = std::clamp(options.realtime_share, 0.0, 0.9);
        options.window = std::max(options.window, absl::Milliseconds(1));
        options.max_wait = std::max(options.max_wait, absl::ZeroDuration());
        options.max_hold = std::max(options.max_hold, absl::ZeroDuration());
        if (!options.clock) options.clock = absl::Now;
        if (!options.sleeper) options.sleeper = absl::SleepFor;
        return std::move(options);
      }()) {}

absl::StatusOr<HttpResponse> RateLimitedTransport::Send(
    const HttpRequest& request) {
  if (inner_ == nullptr) {
    return absl::FailedPreconditionError(
        "pipedrive: RateLimitedTransport has no inner transport");
  }
  std::optional<std::string> token = BearerToken(request);
  if (!token.has_value()) return inner_->Send(request);

  const bool search = IsSearchPath(request.url);
  TokenState* state = Pin(
      request.rate_key.empty()
          ? absl::Hash<std::string>{}(*token)
          : absl::Hash<std::string>{}(absl::StrCat("user:", request.rate_key)));
  if (absl::Status slot = TakeSlot(*state, search, request.background);
      !slot.ok()) {
    Finish(*state, search, slot);
    return slot;
  }

  absl::StatusOr<HttpResponse> response = inner_->Send(request);
  Finish(*state, search, response);
  return response;
}

RateLimitedTransport::TokenState* RateLimitedTransport::Pin(uint64_t key) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.clock();
  ForgetIdle(now);

  std::unique_ptr<TokenState>& slot = tokens_[key];
  if (slot == nullptr) {
    slot = std::make_unique<TokenState>();
    slot->general.limit = options_.default_limit;
    slot->search.limit = options_.search_limit;
  }
  ++slot->users;
  slot->last_active = now;
  return slot.get();
}

absl::Status RateLimitedTransport::TakeSlot(TokenState& state, bool search,
                                            bool background) {
  const absl::Time start = options_.clock();
  const absl::Time deadline = start + options_.max_wait;
  while (true) {
    absl::Duration wait;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time now = options_.clock();
      absl::Time ready = ReadyAt(state.general, now, background);
      if (search) {
        ready = std::max(ready, ReadyAt(state.search, now, background));
      }

      Stats delta;
      delta.time_waited = std::max(now - start, absl::ZeroDuration());
      if (ready <= now) {
        state.general.sent.push_back(now);
        if (search) state.search.sent.push_back(now);
        delta.requests_sent = 1;
        AddStats(state.stats, delta);
        AddStats(totals_, delta);
        return absl::OkStatus();
      }
      if (ready > deadline) {
        delta.rejected = 1;
        AddStats(state.stats, delta);
        AddStats(totals_, delta);
        return absl::ResourceExhaustedError(
            "pipedrive: rate limit window full");
      }
      wait = ready - now;
    }
    // Another caller may take the slot meanwhile; the loop then waits again.
    options_.sleeper(wait);
  }
}

void RateLimitedTransport::Finish(
    TokenState& state, bool search,
    const absl::StatusOr<HttpResponse>& response) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.clock();
  --state.users;
  state.last_active = std::max(state.last_active, now);
  if (!response.ok()) return;

  const RateLimitInfo info = ParseRateLimit(*response);
  Window& window = search ? state.search : state.general;
  if (info.ratelimit_limit.has_value() && *info.ratelimit_limit > 0) {
    // On a search answer the header may describe the general window; the
    // documented search limit is the most we allow there.
    window.limit = std::min(*info.ratelimit_limit,
                            search ? options_.search_limit : kMaxLimit);
  }

  const bool over_limit = response->status == 429;
  if (over_limit) {
    ++state.stats.responses_429;
    ++totals_.responses_429;
  }
  const bool exhausted =
      info.ratelimit_remaining.has_value() && *info.ratelimit_remaining == 0;
  if (!over_limit && !exhausted) return;

  absl::Duration hold = options_.window;
  if (info.ratelimit_reset.has_value() &&
      *info.ratelimit_reset > absl::ZeroDuration()) {
    hold = *info.ratelimit_reset;
  }
  hold = std::min(hold, options_.max_hold);
  window.hold_until = std::max(window.hold_until, now + hold);
}

absl::Time RateLimitedTransport::ReadyAt(Window& window, absl::Time now,
                                         bool background) const {
  while (!window.sent.empty() && window.sent.front() <= now - options_.window) {
    window.sent.pop_front();
  }
  int usable = std::max(1, window.limit - options_.safety_margin);
  if (background && usable > 1 && options_.realtime_share > 0) {
    const int reserved = std::max(
        1, static_cast<int>(std::ceil(usable * options_.realtime_share)));
    usable = std::max(1, usable - reserved);
  }
  absl::Time ready = window.hold_until;
  if (window.sent.size() >= static_cast<std::size_t>(usable)) {
    ready = std::max(
        ready, window.sent[window.sent.size() - usable] + options_.window);
  }
  return ready;
}

void RateLimitedTransport::ForgetIdle(absl::Time now) {
  const absl::Duration interval =
      std::min(options_.forget_after, kMaxSweepInterval);
  if (now - last_sweep_ < interval) return;
  last_sweep_ = now;

  for (auto it = tokens_.begin(); it != tokens_.end();) {
    const TokenState& state = *it->second;
    if (state.users == 0 && now - state.last_active > options_.forget_after) {
      it = tokens_.erase(it);
    } else {
      ++it;
    }
  }
}

RateLimitedTransport::Stats RateLimitedTransport::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

std::optional<RateLimitedTransport::Stats> RateLimitedTransport::TokenStats(
    const std::string& access_token) const {
  const uint64_t key = absl::Hash<std::string>{}(access_token);
  absl::MutexLock lock(&mu_);
  auto it = tokens_.find(key);
  if (it == tokens_.end()) return std::nullopt;
  return it->second->stats;
}

std::size_t RateLimitedTransport::TrackedTokens() const {
  absl::MutexLock lock(&mu_);
  return tokens_.size();
}

}  // namespace wave::pipedrive
