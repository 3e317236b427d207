#include "server/sync_engine.h"

#include "client/http_status.h"
#include "server/contact_mapper.h"
#include "server/integration_manager.h"
#include "server/logging.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

#include <algorithm>
#include <utility>

namespace wave::pipedrive {
namespace {

using integrations::pipedrive::v1::Contact;

constexpr char kActionFixContact[] =
    "Pipedrive refused this data. Correct the contact in Wave and save it; "
    "the new version is sent again.";

absl::StatusOr<std::string> ContactToJson(const Contact& contact) {
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(contact, &json);
  if (!status.ok()) return absl::InternalError("cannot encode contact");
  return json;
}

absl::StatusOr<Contact> ContactFromJson(const std::string& json) {
  Contact contact;
  auto status = google::protobuf::util::JsonStringToMessage(json, &contact);
  if (!status.ok()) return absl::DataLossError("stored contact is corrupt");
  return contact;
}

std::optional<PersonWrite> ParsePerson(const std::optional<std::string>& s) {
  if (!s.has_value()) return std::nullopt;
  auto json = nlohmann::json::parse(*s, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return std::nullopt;
  return PersonFromJson(json);
}

std::optional<LeadWrite> ParseLead(const std::optional<std::string>& s) {
  if (!s.has_value()) return std::nullopt;
  auto json = nlohmann::json::parse(*s, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return std::nullopt;
  return LeadFromJson(json);
}

// What went wrong, without Pipedrive's message text.
std::string ErrorSummary(const std::string& contact_id,
                         const absl::Status& error) {
  std::string summary = absl::StrCat("contact ", contact_id, ": ",
                                     absl::StatusCodeToString(error.code()));
  if (auto details = GetHttpErrorDetails(error); details.has_value()) {
    absl::StrAppend(&summary, " (Pipedrive HTTP ", details->http_status, ")");
  }
  return summary;
}

bool IsPausedNow(const IntegrationRecord& integration) {
  return integration.state == IntegrationState::kPaused &&
         integration.paused_until.value_or(absl::InfinitePast()) > absl::Now();
}

// The primary value of a list (else its first), or "".
std::string PrimaryValue(const std::optional<std::vector<ContactPoint>>& list) {
  if (!list.has_value()) return "";
  for (const ContactPoint& p : *list) {
    if (p.primary) return p.value;
  }
  return list->empty() ? "" : list->front().value;
}

ChangeOutcome::Kind ReportKind(const DeliveryReport& report) {
  if (report.failed) return ChangeOutcome::Kind::kFailed;
  if (!report.delivered) return ChangeOutcome::Kind::kQueued;
  return report.pipedrive_writes == 0 ? ChangeOutcome::Kind::kUnchanged
                                      : ChangeOutcome::Kind::kApplied;
}

}  // namespace

SyncEngine::SyncEngine(IntegrationStore* integrations,
                       IntegrationStore* side_integrations,
                       ContactStore* contacts, TokenManager* tokens,
                       PipedriveClient* pipedrive, Options options)
    : integrations_(integrations),
      side_integrations_(side_integrations),
      contacts_(contacts),
      tokens_(tokens),
      pipedrive_(pipedrive),
      options_(std::move(options)),
      retry_(RetryPolicy::Options{options_.retry_base, options_.retry_cap},
             options_.clock) {}

absl::StatusOr<IntegrationRecord> SyncEngine::AcceptingIntegration(
    const std::string& account_id) {
  auto integration = integrations_->Get(account_id);
  if (!integration.ok()) return integration.status();
  if (integration->state == IntegrationState::kDisconnected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "account ", account_id,
        ": the Pipedrive integration is disconnected; connect it again "
        "before syncing contacts"));
  }
  return integration;
}

absl::StatusOr<ChangeOutcome> SyncEngine::SyncContact(
    const std::string& account_id, const Contact& contact) {
  auto integration = AcceptingIntegration(account_id);
  if (!integration.ok()) return integration.status();
  auto payload = ContactToJson(contact);
  if (!payload.ok()) return payload.status();

  auto accepted = contacts_->AcceptUpsert(
      account_id, contact.contact_id(), contact.version(), *payload,
      /*from_import=*/false, "", absl::ZeroDuration());
  if (!accepted.ok()) return accepted.status();
  if (*accepted == AcceptOutcome::kStale) {
    return Unsent(account_id, contact.contact_id(), ChangeOutcome::Kind::kStale,
                  "a newer version or a deletion of this contact was "
                  "already received");
  }
  if (*accepted == AcceptOutcome::kAlreadySynced) {
    return Unsent(account_id, contact.contact_id(),
                  ChangeOutcome::Kind::kUnchanged,
                  "this version is already in Pipedrive");
  }
  return AwaitDelivery(*integration, contact.contact_id(), contact.version(),
                       /*is_delete=*/false);
}

absl::StatusOr<ChangeOutcome> SyncEngine::DeleteContact(
    const std::string& account_id, const std::string& contact_id,
    int64_t version) {
  auto integration = AcceptingIntegration(account_id);
  if (!integration.ok()) return integration.status();

  auto accepted = contacts_->AcceptDelete(account_id, contact_id, version,
                                          absl::ZeroDuration());
  if (!accepted.ok()) return accepted.status();
  if (*accepted == AcceptOutcome::kStale) {
    return Unsent(account_id, contact_id, ChangeOutcome::Kind::kStale,
                  "a newer version of this contact was already received; "
                  "its records stay");
  }
  if (*accepted == AcceptOutcome::kAlreadySynced) {
    return Unsent(account_id, contact_id, ChangeOutcome::Kind::kAlreadyDeleted,
                  "a deletion at this or a newer version was already "
                  "received");
  }
  return AwaitDelivery(*integration, contact_id, version, /*is_delete=*/true);
}

absl::StatusOr<ChangeOutcome> SyncEngine::Unsent(const std::string& account_id,
                                                 const std::string& contact_id,
                                                 ChangeOutcome::Kind kind,
                                                 const std::string& reason) {
  auto view = GetContact(account_id, contact_id);
  if (!view.ok()) return view.status();
  ChangeOutcome outcome;
  outcome.kind = kind;
  outcome.reason = reason;
  outcome.view = *std::move(view);
  return outcome;
}

absl::Status SyncEngine::AcceptImported(const std::string& account_id,
                                        const std::string& import_id,
                                        const std::vector<Contact>& contacts) {
  std::vector<ImportedContact> batch;
  batch.reserve(contacts.size());
  for (const Contact& contact : contacts) {
    auto payload = ContactToJson(contact);
    if (!payload.ok()) return payload.status();
    batch.push_back({contact.contact_id(), contact.version(), *payload});
  }
  auto outcomes = contacts_->AcceptImportBatch(account_id, import_id, batch);
  if (!outcomes.ok()) return outcomes.status();
  if (wake_) wake_(account_id);
  return absl::OkStatus();
}

absl::StatusOr<ChangeOutcome> SyncEngine::AwaitDelivery(
    const IntegrationRecord& integration, const std::string& contact_id,
    int64_t version, bool is_delete) {
  const std::string& account_id = integration.account_id;
  const auto key = std::make_pair(account_id, contact_id);
  ChangeOutcome outcome;
  outcome.kind = ChangeOutcome::Kind::kQueued;
  if (integration.state != IntegrationState::kConnected &&
      integration.state != IntegrationState::kPaused) {
    outcome.reason = absl::StrCat(
        "the integration is ", IntegrationStateName(integration.state),
        "; the change is kept and delivered when it is connected again");
  } else if (IsPausedNow(integration)) {
    outcome.reason =
        absl::StrCat("delivery is paused: ", integration.paused_reason,
                     "; the change is kept");
  } else {
    {
      absl::MutexLock lock(&waiting_mu_);
      Waiting& w = waiting_[key];
      ++w.waiters;
    }
    if (wake_) wake_(account_id);
    const absl::Time deadline = absl::Now() + options_.sync_wait;
    std::optional<DeliveryReport> report;
    while (true) {
      {
        absl::MutexLock lock(&waiting_mu_);
        auto settled = [&]() ABSL_SHARED_LOCKS_REQUIRED(waiting_mu_) {
          const auto& r = waiting_[key].report;
          return r.has_value() && r->version >= version;
        };
        waiting_mu_.AwaitWithDeadline(
            absl::Condition(&settled),
            std::min(deadline, absl::Now() + absl::Milliseconds(200)));
        if (settled()) report = waiting_[key].report;
      }
      if (report.has_value() || absl::Now() >= deadline) break;
      // Another process may hold the account: look at what it stored.
      auto pending = contacts_->GetPending(account_id, contact_id);
      if (!pending.ok()) break;
      if (!pending->has_value() || (*pending)->version > version) break;
    }
    {
      absl::MutexLock lock(&waiting_mu_);
      if (--waiting_[key].waiters == 0) waiting_.erase(key);
    }
    if (report.has_value() && report->version == version) {
      outcome.kind = ReportKind(*report);
      outcome.reason = report->reason;
    }
  }

  auto view = GetContact(account_id, contact_id);
  if (!view.ok()) return view.status();
  outcome.view = *std::move(view);
  const ContactRecord& r = outcome.view.record;
  const bool superseded = outcome.view.pending.has_value() &&
                          outcome.view.pending->version > version;
  if (outcome.kind == ChangeOutcome::Kind::kQueued && !superseded) {
    // Delivered elsewhere, or the report was for another version: what is
    // stored decides.
    if (r.failed_version == version) {
      outcome.kind = ChangeOutcome::Kind::kFailed;
      outcome.reason = r.last_error;
    } else if (!outcome.view.pending.has_value() &&
               (is_delete || r.synced_version >= version)) {
      outcome.kind = ChangeOutcome::Kind::kApplied;
      outcome.reason.clear();
    } else if (outcome.reason.empty()) {
      outcome.reason = outcome.view.pending.has_value() &&
                               !outcome.view.pending->last_error.empty()
                           ? absl::StrCat(outcome.view.pending->last_error,
                                          "; the change is kept and retried")
                           : "the change is stored and being delivered";
    }
  }
  if (superseded && outcome.kind == ChangeOutcome::Kind::kQueued) {
    outcome.kind = ChangeOutcome::Kind::kStale;
    outcome.reason = "a newer version of this contact arrived meanwhile";
  }
  return outcome;
}

void SyncEngine::Publish(const std::string& account_id,
                         const std::string& contact_id,
                         const DeliveryReport& report) {
  absl::MutexLock lock(&waiting_mu_);
  auto it = waiting_.find({account_id, contact_id});
  if (it != waiting_.end()) it->second.report = report;
}

bool SyncEngine::MaybePause(const std::string& account_id,
                            const absl::Status& error, absl::Time& retry_at) {
  const auto details = GetHttpErrorDetails(error);
  if (!details.has_value()) return false;
  std::string reason;
  absl::Duration pause;
  if (details->http_status == 402) {
    reason =
        "Pipedrive answered 402 Payment Required: the company's Pipedrive "
        "account is not open (trial ended or payment missing). Delivery "
        "resumes by itself once it is.";
    pause = options_.access_pause;
  } else if (details->http_status == 403) {
    reason =
        "Pipedrive answered 403 Forbidden: the app lost access or a plan "
        "limit was reached. Check the Pipedrive account and the app's "
        "permissions; delivery is tried again periodically.";
    pause = options_.access_pause;
  } else if (details->http_status == 429 &&
             details->ratelimit_remaining.value_or(0) > 0) {
    // The burst window still has room, so the company's daily token budget
    // is what ran out.
    reason =
        "the company's daily Pipedrive API budget is spent; delivery "
        "resumes by itself after Pipedrive's daily reset";
    pause = options_.budget_pause;
  } else {
    return false;
  }
  retry_at = options_.clock() + pause;
  if (absl::Status s = integrations_->Pause(account_id, reason, retry_at);
      !s.ok()) {
    spdlog::warn("account {}: cannot record the pause: {}", account_id,
                 std::string(s.message()));
  }
  spdlog::warn("account {}: delivery paused until {}: HTTP {}", account_id,
               absl::FormatTime(retry_at), details->http_status);
  return true;
}

absl::StatusOr<ContactView> SyncEngine::GetContact(
    const std::string& account_id, const std::string& contact_id) {
  auto record = contacts_->Get(account_id, contact_id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("account ", account_id, " has no contact ", contact_id));
  }
  auto pending = contacts_->GetPending(account_id, contact_id);
  if (!pending.ok()) return pending.status();
  return ContactView{**std::move(record), *std::move(pending)};
}

absl::StatusOr<DeliveryReport> SyncEngine::Deliver(
    const std::string& account_id, const std::string& contact_id,
    bool skip_locked) {
  DeliveryReport report;
  auto integration = integrations_->Get(account_id);
  if (!integration.ok()) return integration.status();
  if (integration->state != IntegrationState::kConnected &&
      integration->state != IntegrationState::kPaused) {
    report.reason = absl::StrCat(
        "the integration is ", IntegrationStateName(integration->state),
        "; the change is kept and delivered when it is connected");
    return report;
  }
  if (IsPausedNow(*integration)) {
    report.reason = integration->paused_reason;
    return report;
  }
  auto delivery = contacts_->BeginDelivery(account_id, contact_id, skip_locked);
  if (!delivery.ok()) return delivery.status();
  if (*delivery == nullptr || !(*delivery)->pending().has_value()) {
    return report;
  }
  const PendingChange change = *(*delivery)->pending();
  report.attempted = true;
  report.version = change.version;

  DeliveryResult result;
  result.record = (*delivery)->record();
  absl::Status applied;
  bool linked = false;
  auto creds = tokens_->Get(*integration);
  if (creds.ok()) creds->background = change.from_import;
  if (!creds.ok()) {
    applied = creds.status();
  } else if (change.kind == ChangeKind::kUpsert) {
    applied = ApplyUpsert(*integration, *creds, **delivery, change,
                          result.record, report.pipedrive_writes, linked);
  } else {
    applied = ApplyDelete(account_id, *creds, **delivery, result.record,
                          report.pipedrive_writes);
  }

  if (applied.ok()) {
    result.done = true;
    result.import_outcome = linked ? ImportOutcome::kLinked
                            // New to Pipedrive, if perhaps over several
                            // attempts.
                            : (*delivery)->record().synced_version == 0 &&
                                    result.record.person_id.has_value()
                                ? ImportOutcome::kCreated
                            : report.pipedrive_writes > 0
                                ? ImportOutcome::kUpdated
                                : ImportOutcome::kUnchanged;
    result.record.synced_version = change.version;
    result.record.failed_version.reset();
    result.record.last_error.clear();
    result.record.last_error_action.clear();
    report.delivered = true;
  } else if (change.kind == ChangeKind::kUpsert &&
             !retry_.Decide(applied, change.attempts).retry) {
    result.done = true;
    result.import_outcome = ImportOutcome::kFailed;
    result.record.failed_version = change.version;
    result.record.last_error = std::string(applied.message());
    result.record.last_error_action = kActionFixContact;
    report.failed = true;
    report.reason = result.record.last_error;
  } else {
    report.paused = MaybePause(account_id, applied, result.retry_at);
    if (!report.paused) result.retry_at = RetryAt(change.attempts, applied);
    result.retry_error = std::string(applied.message());
    result.record.last_error = result.retry_error;
    result.record.last_error_action =
        "Delivery is retried automatically; nothing to do.";
    report.reason = absl::StrCat(
        result.retry_error, "; the change is kept and retried from ",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", result.retry_at,
                         absl::UTCTimeZone()));
  }
  absl::Status stored = (*delivery)->Commit(result);
  // Gives the connection back before touching the database again.
  delivery->reset();
  if (!stored.ok()) return stored;

  if (report.delivered) {
    spdlog::debug("account {} contact {}: version {} delivered ({} writes)",
                  account_id, contact_id, change.version,
                  report.pipedrive_writes);
    if (report.pipedrive_writes > 0) {
      (void)integrations_->RecordSuccess(account_id);
    }
  } else {
    // Pipedrive's own message may quote the contact's data: it stays with
    // the contact (GetContactSync); logs and the account get a summary.
    const std::string summary = ErrorSummary(contact_id, applied);
    static LogLimiter* const kLimiter = new LogLimiter(60);
    if (int64_t held_back = 0; kLimiter->Allow(&held_back)) {
      spdlog::warn(
          "account {}: version {} not delivered: {} ({} similar "
          "messages held back)",
          account_id, change.version, summary, held_back);
    }
    (void)integrations_->RecordError(account_id, summary);
  }
  Publish(account_id, contact_id, report);
  return report;
}

absl::Status SyncEngine::ApplyUpsert(const IntegrationRecord& integration,
                                     Credentials& creds,
                                     ContactDelivery& delivery,
                                     const PendingChange& change,
                                     ContactRecord& record, int& writes,
                                     bool& linked) {
  const std::string& account = integration.account_id;
  auto contact = ContactFromJson(change.payload);
  if (!contact.ok()) return contact.status();
  const std::string owner_email =
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(contact->owner_email()));
  if (!owner_email.empty()) {
    absl::Status reloaded =
        MaybeReloadUsers(account, creds, delivery, owner_email);
    if (!reloaded.ok()) return reloaded;
  }
  MappingOptions mapping_options;
  mapping_options.channel_option_id = integration.channel_option_id;
  absl::Status lookup = absl::OkStatus();
  MappedContact mapped = MapContact(
      *contact,
      [&](const std::string& email_lower) -> std::optional<int64_t> {
        auto found = delivery.FindOwner(email_lower);
        if (found.ok()) return *found;
        lookup = found.status();
        return std::nullopt;
      },
      mapping_options);
  if (!lookup.ok()) return lookup;
  record.owner_matched = mapped.owner_matched;
  record.owner_note = mapped.owner_note;
  // After an interrupted deletion of ours the mapped records may be gone
  // although the contact's data did not change: write everything, so that
  // a missing record is noticed and made again.
  auto deleting = delivery.Intents("deletion");
  if (!deleting.ok()) return deleting.status();
  if (!deleting->empty()) {
    record.written_person.reset();
    record.written_lead.reset();
  }

  absl::Status person =
      SyncPerson(account, creds, delivery, mapped.person, change.link_existing,
                 record, writes, linked);
  if (!person.ok()) return person;
  // A Lead archived, converted or deleted by the sales team is left alone
  // for good.
  if (record.lead_gone) return absl::OkStatus();
  return SyncLead(account, creds, delivery, mapped.lead, record, writes);
}

absl::Status SyncEngine::MaybeReloadUsers(const std::string& account,
                                          Credentials& creds,
                                          ContactDelivery& delivery,
                                          const std::string& email_lower) {
  auto known = delivery.FindOwner(email_lower);
  if (!known.ok()) return known.status();
  if (known->has_value()) return absl::OkStatus();
  auto turn = side_integrations_->ClaimUsersReload(
      account, options_.users_reload_interval);
  if (!turn.ok() || !*turn) return turn.status();
  // A team member who joined Pipedrive after the connect.
  auto users = tokens_->WithRetryOnUnauthenticated<std::vector<User>>(
      account, creds,
      [&](const Credentials& c) { return pipedrive_->ListUsers(c); });
  if (!users.ok()) {
    // Owner matching can wait for the next reload; the contact cannot.
    spdlog::info("account {}: users not reloaded: {}", account,
                 absl::StatusCodeToString(users.status().code()));
    return absl::OkStatus();
  }
  return side_integrations_->ReplaceUsers(account,
                                          UsersForOwnerMatching(*users));
}

absl::Status SyncEngine::SyncPerson(const std::string& account,
                                    Credentials& creds,
                                    ContactDelivery& delivery,
                                    PersonWrite desired, bool link_existing,
                                    ContactRecord& record, int& writes,
                                    bool& linked) {
  std::optional<PersonWrite> written = ParsePerson(record.written_person);
  if (!desired.owner_id.has_value() && written.has_value()) {
    desired.owner_id = written->owner_id;
  }
  // The first write to a linked Person: the contact's fields, plus the
  // emails and phones the Person already had.
  std::optional<PersonWrite> link_write;
  if (!record.person_id.has_value()) {
    auto found = RecoverPerson(account, creds, delivery, writes);
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      // Its fields are whatever the lost attempt sent: write them all.
      record.person_id = **found;
      written.reset();
    } else if (link_existing && !PrimaryValue(desired.emails).empty()) {
      PersonWrite merged = desired;
      auto existing =
          FindPersonToLink(account, creds, delivery,
                           PrimaryValue(desired.emails), merged, writes);
      if (!existing.ok()) return existing.status();
      if (existing->has_value()) {
        spdlog::info("account {} contact {}: linked to an existing person",
                     account, record.contact_id);
        record.person_id = **existing;
        written.reset();
        link_write = std::move(merged);
        linked = true;
      }
    }
  }
  if (record.person_id.has_value()) {
    std::optional<PersonWrite> changes = link_write.has_value() ? link_write
                                         : written.has_value()
                                             ? PersonChanges(*written, desired)
                                             : desired;
    if (!changes.has_value()) return absl::OkStatus();
    const int64_t id = *record.person_id;
    if (!written.has_value()) {
      // Found again or linked, and not stored yet: should this attempt die
      // after the write, the next one must find the Person as it is now.
      if (absl::Status s =
              RememberPersonWrite(account, record.contact_id, *changes);
          !s.ok()) {
        return s;
      }
    }
    auto updated = tokens_->WithRetryOnUnauthenticated<Person>(
        account, creds, [&](const Credentials& c) {
          return pipedrive_->UpdatePerson(c, id, *changes);
        });
    ++writes;
    if (updated.ok()) {
      record.written_person = PersonToJson(desired).dump();
      return absl::OkStatus();
    }
    if (!absl::IsNotFound(updated.status())) return updated.status();
    // Deleted or merged away in Pipedrive. A merge left a Person with the
    // same name and email: follow it. Otherwise create it again, once.
    const int64_t gone = *record.person_id;
    record.person_id.reset();
    record.written_person.reset();
    // An earlier attempt may have created it again and lost the answer.
    auto found = RecoverPerson(account, creds, delivery, writes);
    if (!found.ok()) return found.status();
    if (!found->has_value() || **found == gone) {
      found = FindPerson(account, creds, desired.name.value_or(""),
                         PrimaryValue(desired.emails),
                         PrimaryValue(desired.phones), writes);
      if (!found.ok()) return found.status();
      if (found->has_value() && **found != gone) {
        spdlog::info(
            "account {} contact {}: person merged in Pipedrive; "
            "following it",
            account, record.contact_id);
      }
    }
    if (found->has_value() && **found != gone) {
      const int64_t id = **found;
      if (absl::Status s =
              RememberPersonWrite(account, record.contact_id, desired);
          !s.ok()) {
        return s;
      }
      auto rewritten = tokens_->WithRetryOnUnauthenticated<Person>(
          account, creds, [&](const Credentials& c) {
            return pipedrive_->UpdatePerson(c, id, desired);
          });
      ++writes;
      if (!rewritten.ok()) return rewritten.status();
      record.person_id = id;
      record.written_person = PersonToJson(desired).dump();
      return absl::OkStatus();
    }
    spdlog::info(
        "account {} contact {}: person deleted in Pipedrive; "
        "creating it again",
        account, record.contact_id);
  }

  auto intent = contacts_->RecordIntent(
      account, record.contact_id,
      {"person", desired.name.value_or(""), PrimaryValue(desired.emails),
       PrimaryValue(desired.phones)});
  if (!intent.ok()) return intent.status();
  auto created = tokens_->WithRetryOnUnauthenticated<Person>(
      account, creds, [&](const Credentials& c) {
        return pipedrive_->CreatePerson(c, desired);
      });
  ++writes;
  if (!created.ok()) {
    ForgetRefusedCreate(account, record.contact_id, *intent, created.status());
    return created.status();
  }
  // Held until the id is stored, so that another contact's recovery, which
  // may find this Person by the same name and email, leaves it alone.
  if (auto mine = delivery.ClaimPerson(created->id); !mine.ok()) {
    return mine.status();
  }
  record.person_id = created->id;
  record.written_person = PersonToJson(desired).dump();
  return absl::OkStatus();
}

absl::Status SyncEngine::SyncLead(const std::string& account,
                                  Credentials& creds, ContactDelivery& delivery,
                                  LeadWrite lead, ContactRecord& record,
                                  int& writes) {
  lead.person_id = record.person_id;
  std::optional<LeadWrite> written = ParseLead(record.written_lead);
  if (!lead.owner_id.has_value() && written.has_value()) {
    lead.owner_id = written->owner_id;
  }
  if (!record.lead_id.has_value()) {
    auto found = RecoverLead(account, creds, delivery, record, writes);
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      record.lead_id = **found;
      written.reset();
    }
  }
  if (record.lead_id.has_value()) {
    std::optional<LeadWrite> changes =
        written.has_value() ? LeadChanges(*written, lead) : lead;
    if (!changes.has_value()) return absl::OkStatus();
    // origin_id is settable only at creation.
    changes->origin_id.reset();
    const std::string id = *record.lead_id;
    auto updated = tokens_->WithRetryOnUnauthenticated<Lead>(
        account, creds, [&](const Credentials& c) {
          return pipedrive_->UpdateLead(c, id, *changes);
        });
    ++writes;
    if (updated.ok()) {
      record.written_lead = LeadToJson(lead).dump();
      return absl::OkStatus();
    }
    if (!absl::IsNotFound(updated.status())) return updated.status();
    auto deleting = delivery.Intents("deletion");
    if (!deleting.ok()) return deleting.status();
    if (deleting->empty()) {
      spdlog::info(
          "account {} contact {}: lead archived, converted or "
          "deleted in Pipedrive; no longer updated",
          account, record.contact_id);
      record.lead_gone = true;
      return absl::OkStatus();
    }
    // An interrupted deletion of ours removed it, not the sales team: the
    // contact, alive again, gets a new Lead. An earlier attempt may have
    // made that Lead already and lost its answer: find it first.
    record.lead_id.reset();
    record.written_lead.reset();
    auto found = RecoverLead(account, creds, delivery, record, writes);
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      const std::string id = **found;
      auto rewritten = tokens_->WithRetryOnUnauthenticated<Lead>(
          account, creds, [&](const Credentials& c) {
            LeadWrite all = lead;
            all.origin_id.reset();
            return pipedrive_->UpdateLead(c, id, all);
          });
      ++writes;
      if (!rewritten.ok()) return rewritten.status();
      record.lead_id = id;
      record.written_lead = LeadToJson(lead).dump();
      return absl::OkStatus();
    }
  }

  auto intent =
      contacts_->RecordIntent(account, record.contact_id, {"lead", "", "", ""});
  if (!intent.ok()) return intent.status();
  auto created = tokens_->WithRetryOnUnauthenticated<Lead>(
      account, creds,
      [&](const Credentials& c) { return pipedrive_->CreateLead(c, lead); });
  ++writes;
  if (!created.ok()) {
    ForgetRefusedCreate(account, record.contact_id, *intent, created.status());
    return created.status();
  }
  record.lead_id = created->id;
  record.written_lead = LeadToJson(lead).dump();
  return absl::OkStatus();
}

void SyncEngine::ForgetRefusedCreate(const std::string& account,
                                     const std::string& contact_id,
                                     int64_t intent_id,
                                     const absl::Status& error) {
  // A 4xx answer (but a timeout) means Pipedrive made nothing: the next
  // attempt need not search for the record, which costs 20 tokens a time.
  const auto details = GetHttpErrorDetails(error);
  if (!details.has_value() || details->http_status < 400 ||
      details->http_status >= 500 || details->http_status == 408) {
    return;
  }
  if (absl::Status s = contacts_->ForgetIntent(account, contact_id, intent_id);
      !s.ok()) {
    spdlog::warn("account {} contact {}: refused create left in doubt: {}",
                 account, contact_id, std::string(s.message()));
  }
}

absl::Status SyncEngine::RememberPersonWrite(const std::string& account,
                                             const std::string& contact_id,
                                             const PersonWrite& write) {
  auto intent = contacts_->RecordIntent(
      account, contact_id,
      {"person", write.name.value_or(""), PrimaryValue(write.emails),
       PrimaryValue(write.phones)});
  return intent.status();
}

absl::StatusOr<std::optional<int64_t>> SyncEngine::RecoverPerson(
    const std::string& account, Credentials& creds, ContactDelivery& delivery,
    int& calls) {
  auto intents = delivery.Intents("person");
  if (!intents.ok()) return intents.status();
  // Each lost attempt sent its own name and primary email or phone.
  for (const CreateIntent& intent : *intents) {
    auto found = FindPerson(account, creds, intent.name, intent.email,
                            intent.phone, calls, &delivery);
    if (!found.ok() || found->has_value()) return found;
  }
  return std::optional<int64_t>();
}

absl::StatusOr<std::optional<int64_t>> SyncEngine::FindPerson(
    const std::string& account, Credentials& creds, const std::string& name,
    const std::string& email, const std::string& phone, int& calls,
    ContactDelivery* claim) {
  // An exact search on the email, else the phone, for a Person with the
  // same name.
  for (const auto& [field, value] :
       {std::pair<std::string, std::string>{"email", email},
        {"phone", phone}}) {
    if (value.empty()) continue;
    auto matches =
        tokens_->WithRetryOnUnauthenticated<std::vector<PersonMatch>>(
            account, creds, [&](const Credentials& c) {
              return pipedrive_->SearchPersons(c, field, value);
            });
    ++calls;
    if (!matches.ok()) return matches.status();
    for (const PersonMatch& match : *matches) {
      if (match.name != name) continue;
      if (claim != nullptr) {
        // Another contact with the same name and email owns that one.
        auto free = claim->ClaimPerson(match.id);
        if (!free.ok()) return free.status();
        if (!*free) continue;
      }
      return std::optional<int64_t>(match.id);
    }
  }
  return std::optional<int64_t>();
}

absl::StatusOr<std::optional<int64_t>> SyncEngine::FindPersonToLink(
    const std::string& account, Credentials& creds, ContactDelivery& delivery,
    const std::string& email, PersonWrite& desired, int& calls) {
  // The search matches any email of a Person, case-insensitively; only one
  // whose primary email it is counts. A few candidates at most are read.
  constexpr size_t kMaxCandidates = 5;
  auto matches = tokens_->WithRetryOnUnauthenticated<std::vector<PersonMatch>>(
      account, creds, [&](const Credentials& c) {
        return pipedrive_->SearchPersons(c, "email", email);
      });
  ++calls;
  if (!matches.ok()) return matches.status();
  std::vector<int64_t> ids;
  for (const PersonMatch& match : *matches) ids.push_back(match.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() > kMaxCandidates) ids.resize(kMaxCandidates);

  for (const int64_t id : ids) {
    auto person = tokens_->WithRetryOnUnauthenticated<Person>(
        account, creds,
        [&](const Credentials& c) { return pipedrive_->GetPerson(c, id); });
    ++calls;
    if (absl::IsNotFound(person.status())) continue;
    if (!person.ok()) return person.status();
    if (person->is_deleted) continue;
    std::optional<std::vector<ContactPoint>> emails = person->emails;
    if (!absl::EqualsIgnoreCase(PrimaryValue(emails), email)) continue;
    // Another contact of the account (a duplicate in Wave) has it already.
    auto free = delivery.ClaimPerson(id);
    if (!free.ok()) return free.status();
    if (!*free) continue;

    auto keep_others = [](std::optional<std::vector<ContactPoint>>& ours,
                          const std::vector<ContactPoint>& theirs,
                          bool ignore_case) {
      if (!ours.has_value()) ours.emplace();
      for (const ContactPoint& point : theirs) {
        const bool known =
            std::any_of(ours->begin(), ours->end(), [&](const ContactPoint& p) {
              return ignore_case ? absl::EqualsIgnoreCase(p.value, point.value)
                                 : p.value == point.value;
            });
        if (known) continue;
        ContactPoint kept = point;
        kept.primary = false;
        ours->push_back(std::move(kept));
      }
    };
    keep_others(desired.emails, person->emails, /*ignore_case=*/true);
    keep_others(desired.phones, person->phones, /*ignore_case=*/false);
    return std::optional<int64_t>(id);
  }
  return std::optional<int64_t>();
}

absl::StatusOr<std::optional<std::string>> SyncEngine::RecoverLead(
    const std::string& account, Credentials& creds, ContactDelivery& delivery,
    const ContactRecord& record, int& calls) {
  auto in_doubt = delivery.Intents("lead");
  if (!in_doubt.ok()) return in_doubt.status();
  if (in_doubt->empty() || !record.person_id.has_value()) {
    return std::optional<std::string>();
  }
  // origin_id identifies the contact the Lead was made for.
  const int64_t person_id = *record.person_id;
  auto leads = tokens_->WithRetryOnUnauthenticated<std::vector<Lead>>(
      account, creds, [&](const Credentials& c) {
        return pipedrive_->ListLeadsOfPerson(c, person_id);
      });
  ++calls;
  if (!leads.ok()) return leads.status();
  const std::string origin = LeadOriginId(record.contact_id);
  for (const Lead& lead : *leads) {
    if (lead.origin_id == origin) {
      spdlog::info("account {}: found the lead a lost create made", account);
      return std::optional<std::string>(lead.id);
    }
  }
  return std::optional<std::string>();
}

absl::Status SyncEngine::ApplyDelete(const std::string& account_id,
                                     Credentials& creds,
                                     ContactDelivery& delivery,
                                     ContactRecord& record, int& writes) {
  // Records whose create is in doubt may exist: find them first, so that a
  // deleted contact leaves nothing behind.
  if (!record.person_id.has_value()) {
    auto found = RecoverPerson(account_id, creds, delivery, writes);
    if (!found.ok()) return found.status();
    record.person_id = *found;
  }
  if (!record.lead_id.has_value() && !record.lead_gone) {
    auto found = RecoverLead(account_id, creds, delivery, record, writes);
    if (!found.ok()) return found.status();
    record.lead_id = *found;
  }
  if (!record.lead_id.has_value() && !record.person_id.has_value()) {
    return absl::OkStatus();
  }
  // Marks what follows as ours, should it be interrupted: a record then
  // missing was deleted by us, not by the sales team.
  if (auto intent = contacts_->RecordIntent(account_id, record.contact_id,
                                            {"deletion", "", "", ""});
      !intent.ok()) {
    return intent.status();
  }
  // A record already gone counts as deleted: the sales team may have
  // removed it.
  auto remove =
      [&](const std::function<absl::Status(const Credentials&)>& call) {
        ++writes;
        absl::Status s =
            tokens_->WithRetryOnUnauthenticated(account_id, creds, call);
        return absl::IsNotFound(s) ? absl::OkStatus() : s;
      };
  if (record.lead_id.has_value() && !record.lead_gone) {
    const std::string id = *record.lead_id;
    absl::Status s = remove(
        [&](const Credentials& c) { return pipedrive_->DeleteLead(c, id); });
    if (!s.ok()) return s;
  }
  record.lead_id.reset();
  record.written_lead.reset();
  record.lead_gone = false;
  if (record.person_id.has_value()) {
    const int64_t id = *record.person_id;
    absl::Status s = remove(
        [&](const Credentials& c) { return pipedrive_->DeletePerson(c, id); });
    if (!s.ok()) return s;
  }
  record.person_id.reset();
  record.written_person.reset();
  record.owner_matched = false;
  record.owner_note.clear();
  return absl::OkStatus();
}

absl::Time SyncEngine::RetryAt(int attempts, const absl::Status& error) {
  const RetryDecision decision = retry_.Decide(error, attempts);
  // A change that cannot be refused for good (a deletion Pipedrive
  // answers 400) is tried again, rarely.
  return decision.retry ? decision.at : options_.clock() + options_.retry_cap;
}

}  // namespace wave::pipedrive
