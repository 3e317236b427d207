#include "server/sync_engine.h"

#include "client/http_status.h"
#include "server/contact_mapper.h"
#include "server/logging.h"

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

// Whether a failure is final for this version of the contact: Pipedrive
// understood the request and refuses its content.
bool IsPermanent(const absl::Status& s) { return absl::IsInvalidArgument(s); }

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

ChangeOutcome::Kind ReportKind(const DeliveryReport& report) {
  if (report.failed) return ChangeOutcome::Kind::kFailed;
  if (!report.delivered) return ChangeOutcome::Kind::kQueued;
  return report.pipedrive_writes == 0 ? ChangeOutcome::Kind::kUnchanged
                                      : ChangeOutcome::Kind::kApplied;
}

}  // namespace

SyncEngine::SyncEngine(IntegrationStore* integrations, ContactStore* contacts,
                       TokenManager* tokens, PipedriveClient* pipedrive,
                       Options options)
    : integrations_(integrations),
      contacts_(contacts),
      tokens_(tokens),
      pipedrive_(pipedrive),
      options_(std::move(options)) {}

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
      /*from_import=*/false, "", options_.inline_grace);
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
  return DeliverAndReport(account_id, contact.contact_id(), contact.version(),
                          /*is_delete=*/false);
}

absl::StatusOr<ChangeOutcome> SyncEngine::DeleteContact(
    const std::string& account_id, const std::string& contact_id,
    int64_t version) {
  auto integration = AcceptingIntegration(account_id);
  if (!integration.ok()) return integration.status();

  auto accepted = contacts_->AcceptDelete(account_id, contact_id, version,
                                          options_.inline_grace);
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
  return DeliverAndReport(account_id, contact_id, version, /*is_delete=*/true);
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

absl::StatusOr<AcceptOutcome> SyncEngine::AcceptImported(
    const std::string& account_id, const std::string& import_id,
    const Contact& contact) {
  auto payload = ContactToJson(contact);
  if (!payload.ok()) return payload.status();
  return contacts_->AcceptUpsert(
      account_id, contact.contact_id(), contact.version(), *payload,
      /*from_import=*/true, import_id, absl::ZeroDuration());
}

absl::StatusOr<ChangeOutcome> SyncEngine::DeliverAndReport(
    const std::string& account_id, const std::string& contact_id,
    int64_t version, bool is_delete) {
  auto report = Deliver(account_id, contact_id, /*skip_locked=*/false);
  auto view = GetContact(account_id, contact_id);
  if (!view.ok()) return view.status();
  ChangeOutcome outcome;
  outcome.view = *std::move(view);
  if (!report.ok()) {
    // The change is stored; the worker delivers it.
    outcome.kind = ChangeOutcome::Kind::kQueued;
    outcome.reason = std::string(report.status().message());
    return outcome;
  }
  if (!report->attempted) {
    // Another caller delivered it while this one waited for the lock.
    const ContactRecord& r = outcome.view.record;
    const bool done = is_delete ? !outcome.view.pending.has_value()
                                : r.synced_version >= version;
    const bool failed =
        r.failed_version.has_value() && *r.failed_version == version;
    outcome.kind = failed ? ChangeOutcome::Kind::kFailed
                   : done ? ChangeOutcome::Kind::kApplied
                          : ChangeOutcome::Kind::kQueued;
    outcome.reason = report->reason;
    return outcome;
  }
  outcome.kind = ReportKind(*report);
  outcome.reason = report->reason;
  return outcome;
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
  if (integration->state != IntegrationState::kConnected) {
    report.reason = absl::StrCat(
        "the integration is ", IntegrationStateName(integration->state),
        "; the change is kept and delivered when it is connected");
    return report;
  }
  auto delivery = contacts_->BeginDelivery(account_id, contact_id, skip_locked);
  if (!delivery.ok()) return delivery.status();
  if (*delivery == nullptr || !(*delivery)->pending().has_value()) {
    return report;
  }
  const PendingChange change = *(*delivery)->pending();
  report.attempted = true;

  DeliveryResult result;
  result.record = (*delivery)->record();
  absl::Status applied;
  auto creds = tokens_->Get(*integration);
  if (!creds.ok()) {
    applied = creds.status();
  } else if (change.kind == ChangeKind::kUpsert) {
    applied = ApplyUpsert(*integration, *creds, **delivery, change,
                          result.record, report.pipedrive_writes);
  } else {
    applied = ApplyDelete(account_id, *creds, change, result.record,
                          report.pipedrive_writes);
  }

  if (applied.ok()) {
    result.done = true;
    result.record.synced_version = change.version;
    result.record.failed_version.reset();
    result.record.last_error.clear();
    result.record.last_error_action.clear();
    report.delivered = true;
  } else if (IsPermanent(applied) && change.kind == ChangeKind::kUpsert) {
    result.done = true;
    result.record.failed_version = change.version;
    result.record.last_error = std::string(applied.message());
    result.record.last_error_action = kActionFixContact;
    report.failed = true;
    report.reason = result.record.last_error;
  } else {
    result.retry_at = RetryAt(change.attempts, applied);
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
  return report;
}

absl::Status SyncEngine::ApplyUpsert(const IntegrationRecord& integration,
                                     Credentials& creds,
                                     ContactDelivery& delivery,
                                     const PendingChange& change,
                                     ContactRecord& record, int& writes) {
  const std::string& account = integration.account_id;
  auto contact = ContactFromJson(change.payload);
  if (!contact.ok()) return contact.status();
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

  absl::Status person =
      SyncPerson(account, creds, delivery, mapped.person, record, writes);
  if (!person.ok()) return person;
  // A Lead archived, converted or deleted by the sales team is left alone
  // for good.
  if (record.lead_gone) return absl::OkStatus();
  return SyncLead(account, creds, delivery, mapped.lead, record, writes);
}

absl::Status SyncEngine::SyncPerson(const std::string& account,
                                    Credentials& creds,
                                    ContactDelivery& delivery,
                                    PersonWrite desired, ContactRecord& record,
                                    int& writes) {
  std::optional<PersonWrite> written = ParsePerson(record.written_person);
  if (!desired.owner_id.has_value() && written.has_value()) {
    desired.owner_id = written->owner_id;
  }
  if (!record.person_id.has_value()) {
    auto found = RecoverPerson(account, creds, delivery, desired, writes);
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      // Its fields are whatever the lost attempt sent: write them all.
      record.person_id = **found;
      written.reset();
    }
  }
  if (record.person_id.has_value()) {
    std::optional<PersonWrite> changes =
        written.has_value() ? PersonChanges(*written, desired) : desired;
    if (!changes.has_value()) return absl::OkStatus();
    const int64_t id = *record.person_id;
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
    // Deleted or merged away in Pipedrive: created again, once per delivery.
    spdlog::warn(
        "account {} contact {}: person gone in Pipedrive; "
        "creating it again",
        account, record.contact_id);
    record.person_id.reset();
    record.written_person.reset();
  }

  if (absl::Status s =
          contacts_->RecordCreateIntent(account, record.contact_id, "person");
      !s.ok()) {
    return s;
  }
  auto created = tokens_->WithRetryOnUnauthenticated<Person>(
      account, creds, [&](const Credentials& c) {
        return pipedrive_->CreatePerson(c, desired);
      });
  ++writes;
  if (!created.ok()) return created.status();
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
    if (absl::IsNotFound(updated.status())) {
      spdlog::info(
          "account {} contact {}: lead archived, converted or "
          "deleted in Pipedrive; no longer updated",
          account, record.contact_id);
      record.lead_gone = true;
      return absl::OkStatus();
    }
    if (!updated.ok()) return updated.status();
    record.written_lead = LeadToJson(lead).dump();
    return absl::OkStatus();
  }

  if (absl::Status s =
          contacts_->RecordCreateIntent(account, record.contact_id, "lead");
      !s.ok()) {
    return s;
  }
  auto created = tokens_->WithRetryOnUnauthenticated<Lead>(
      account, creds,
      [&](const Credentials& c) { return pipedrive_->CreateLead(c, lead); });
  ++writes;
  if (!created.ok()) return created.status();
  record.lead_id = created->id;
  record.written_lead = LeadToJson(lead).dump();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> SyncEngine::RecoverPerson(
    const std::string& account, Credentials& creds, ContactDelivery& delivery,
    const PersonWrite& desired, int& calls) {
  auto in_doubt = delivery.HasCreateIntent("person");
  if (!in_doubt.ok()) return in_doubt.status();
  if (!*in_doubt) return std::optional<int64_t>();
  // The lost attempt sent the same name and primary email or phone; find the
  // Person it made by an exact search on them.
  const auto primary =
      [](const std::optional<std::vector<ContactPoint>>& list) -> std::string {
    if (!list.has_value()) return "";
    for (const ContactPoint& p : *list) {
      if (p.primary) return p.value;
    }
    return list->empty() ? "" : list->front().value;
  };
  for (const auto& [field, value] :
       {std::pair<std::string, std::string>{"email", primary(desired.emails)},
        {"phone", primary(desired.phones)}}) {
    if (value.empty()) continue;
    auto matches =
        tokens_->WithRetryOnUnauthenticated<std::vector<PersonMatch>>(
            account, creds, [&](const Credentials& c) {
              return pipedrive_->SearchPersons(c, field, value);
            });
    ++calls;
    if (!matches.ok()) return matches.status();
    for (const PersonMatch& match : *matches) {
      if (match.name == desired.name.value_or("")) {
        spdlog::info("account {}: found the person a lost create made",
                     account);
        return std::optional<int64_t>(match.id);
      }
    }
  }
  return std::optional<int64_t>();
}

absl::StatusOr<std::optional<std::string>> SyncEngine::RecoverLead(
    const std::string& account, Credentials& creds, ContactDelivery& delivery,
    const ContactRecord& record, int& calls) {
  auto in_doubt = delivery.HasCreateIntent("lead");
  if (!in_doubt.ok()) return in_doubt.status();
  if (!*in_doubt || !record.person_id.has_value()) {
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
                                     const PendingChange& change,
                                     ContactRecord& record, int& writes) {
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
  const absl::Time now = options_.clock();
  // Pipedrive says when its rate-limit window opens again.
  if (auto details = GetHttpErrorDetails(error);
      details.has_value() && details->ratelimit_reset.has_value()) {
    return now + *details->ratelimit_reset;
  }
  absl::Duration ceiling = options_.retry_base;
  for (int i = 0; i < attempts && ceiling < options_.retry_cap; ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, options_.retry_cap);
  absl::MutexLock lock(&rng_mu_);
  return now + absl::Milliseconds(absl::Uniform<int64_t>(
                   rng_, 0, absl::ToInt64Milliseconds(ceiling) + 1));
}

}  // namespace wave::pipedrive
