#include "server/pipedrive_sync_service.h"

#include "server/contact_validation.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

#include <string>

namespace wave::pipedrive {
namespace {

namespace v1 = ::wave::integrations::pipedrive::v1;
using google::protobuf::util::TimeUtil;

// The method paths of wave.integrations.pipedrive.v1.PipedriveSync. gRPC
// keeps the pointers, so they are literals.
#define WAVE_METHOD(name) "/wave.integrations.pipedrive.v1.PipedriveSync/" name
constexpr char kGetAuthorizationUrlPath[] = WAVE_METHOD("GetAuthorizationUrl");
constexpr char kConnectIntegrationPath[] = WAVE_METHOD("ConnectIntegration");
constexpr char kDisconnectIntegrationPath[] =
    WAVE_METHOD("DisconnectIntegration");
constexpr char kGetIntegrationPath[] = WAVE_METHOD("GetIntegration");
constexpr char kSyncContactPath[] = WAVE_METHOD("SyncContact");
constexpr char kDeleteContactPath[] = WAVE_METHOD("DeleteContact");
constexpr char kGetContactSyncPath[] = WAVE_METHOD("GetContactSync");
constexpr char kImportAllPath[] = WAVE_METHOD("ImportAll");
constexpr char kGetImportPath[] = WAVE_METHOD("GetImport");
#undef WAVE_METHOD

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

v1::Integration::State ToProto(IntegrationState state) {
  switch (state) {
    case IntegrationState::kConnected:
      return v1::Integration::CONNECTED;
    case IntegrationState::kNeedsReconnect:
      return v1::Integration::NEEDS_RECONNECT;
    case IntegrationState::kDisconnected:
      return v1::Integration::DISCONNECTED;
    case IntegrationState::kPaused:
      return v1::Integration::PAUSED;
  }
  return v1::Integration::STATE_UNSPECIFIED;
}

void FillIntegration(const IntegrationView& view, v1::Integration* out) {
  const IntegrationRecord& r = view.record;
  out->set_account_id(r.account_id);
  out->set_state(ToProto(r.state));
  out->set_paused_reason(r.paused_reason);
  if (r.state == IntegrationState::kPaused && r.paused_until.has_value()) {
    *out->mutable_paused_until() = ToProto(*r.paused_until);
  }
  out->set_pipedrive_company_id(r.company_id);
  out->set_pipedrive_company_name(r.company_name);
  out->set_pipedrive_company_domain(r.company_domain);
  out->set_pipedrive_user_id(r.pipedrive_user_id);
  out->set_auto_sync(r.auto_sync);
  out->set_pipedrive_user_count(view.counts.pipedrive_users);
  out->set_synced_contacts(view.counts.synced);
  out->set_queued_contacts(view.counts.queued);
  out->set_failed_contacts(view.counts.failed);
  if (r.connected_at.has_value()) {
    *out->mutable_connected_at() = ToProto(*r.connected_at);
  }
  if (r.last_success_at.has_value()) {
    *out->mutable_last_success_at() = ToProto(*r.last_success_at);
  }
  out->set_last_error(r.last_error);
}

// An import's progress as callers see it; `i` is its account's
// integration, which decides whether delivery runs or waits.
void FillImport(const ImportRecord& p, const IntegrationRecord& i,
                v1::Import* response) {
  response->set_import_id(p.import_id);
  response->set_accepted(p.accepted);
  response->set_rejected(p.rejected);
  response->set_created(p.created);
  response->set_updated(p.updated);
  response->set_unchanged(p.unchanged);
  response->set_failed(p.failed);
  response->set_pending(p.pending);
  *response->mutable_started_at() = ToProto(p.started_at);
  response->set_linked(p.linked);
  response->set_link_existing_persons(p.link_existing);
  // A stream silent for this long lost its server (a broken stream
  // otherwise records its end).
  constexpr absl::Duration kSilentStream = absl::Minutes(10);
  const bool silent = !p.finished_at.has_value() &&
                      absl::Now() - p.last_batch_at > kSilentStream;
  response->set_interrupted(p.interrupted || silent);
  response->set_dropped(p.dropped);
  response->set_superseded(p.superseded);
  if (p.finished_at.has_value()) {
    *response->mutable_received_at() = ToProto(*p.finished_at);
  }
  if (p.cancelled_at.has_value()) {
    *response->mutable_cancelled_at() = ToProto(*p.cancelled_at);
    response->set_state(v1::Import::CANCELLED);
    return;
  }
  if (!p.finished_at.has_value() && !silent) {
    response->set_state(v1::Import::RECEIVING);
  } else if (p.pending == 0) {
    response->set_state(v1::Import::DONE);
  } else if (i.state != IntegrationState::kConnected) {
    response->set_state(v1::Import::PAUSED);
    response->set_paused_reason(
        i.state == IntegrationState::kPaused
            ? i.paused_reason
            : absl::StrCat("the integration is ",
                           IntegrationStateName(i.state)));
    if (i.state == IntegrationState::kPaused && i.paused_until.has_value()) {
      *response->mutable_paused_until() = ToProto(*i.paused_until);
    }
  } else {
    response->set_state(v1::Import::RUNNING);
  }
  // At the current pace; a paused import has none until it resumes.
  if (p.pending > 0 && p.settle_interval.has_value() &&
      response->state() != v1::Import::PAUSED) {
    *response->mutable_estimated_completion_at() =
        ToProto(absl::Now() + *p.settle_interval * p.pending);
  }
}

void FillContactSync(const ContactView& view, v1::ContactSync* out) {
  const ContactRecord& r = view.record;
  out->set_contact_id(r.contact_id);
  out->set_person_id(r.person_id.value_or(0));
  out->set_lead_id(r.lead_id.value_or(""));
  out->set_latest_version(r.latest_version);
  out->set_synced_version(r.synced_version);
  out->set_deleted_version(r.deleted_version.value_or(0));
  out->set_owner_matched(r.owner_matched);
  out->set_owner_note(r.owner_note);
  out->set_last_error(r.last_error);
  out->set_last_error_action(r.last_error_action);
  *out->mutable_updated_at() = ToProto(r.updated_at);
  const bool deleted =
      r.deleted_version.has_value() && *r.deleted_version == r.latest_version;
  if (deleted) {
    out->set_state(v1::ContactSync::DELETED);
  } else if (view.pending.has_value()) {
    out->set_state(v1::ContactSync::PENDING);
  } else if (r.failed_version.has_value() &&
             *r.failed_version == r.latest_version) {
    out->set_state(v1::ContactSync::FAILED);
  } else if (r.synced_version == r.latest_version) {
    out->set_state(v1::ContactSync::SYNCED);
  } else {
    out->set_state(v1::ContactSync::PENDING);
  }
}

v1::SyncContactResponse::Outcome ToSyncOutcome(ChangeOutcome::Kind kind) {
  switch (kind) {
    case ChangeOutcome::Kind::kApplied:
      return v1::SyncContactResponse::APPLIED;
    case ChangeOutcome::Kind::kUnchanged:
      return v1::SyncContactResponse::UNCHANGED;
    case ChangeOutcome::Kind::kQueued:
      return v1::SyncContactResponse::QUEUED;
    case ChangeOutcome::Kind::kStale:
    case ChangeOutcome::Kind::kAlreadyDeleted:
      return v1::SyncContactResponse::STALE;
    case ChangeOutcome::Kind::kFailed:
      return v1::SyncContactResponse::FAILED;
  }
  return v1::SyncContactResponse::OUTCOME_UNSPECIFIED;
}

v1::DeleteContactResponse::Outcome ToDeleteOutcome(ChangeOutcome::Kind kind) {
  switch (kind) {
    case ChangeOutcome::Kind::kApplied:
    case ChangeOutcome::Kind::kUnchanged:
      return v1::DeleteContactResponse::DELETED;
    case ChangeOutcome::Kind::kQueued:
    case ChangeOutcome::Kind::kFailed:
      return v1::DeleteContactResponse::QUEUED;
    case ChangeOutcome::Kind::kStale:
      return v1::DeleteContactResponse::STALE;
    case ChangeOutcome::Kind::kAlreadyDeleted:
      return v1::DeleteContactResponse::ALREADY_DELETED;
  }
  return v1::DeleteContactResponse::OUTCOME_UNSPECIFIED;
}

absl::Status RequireField(const std::string& value, const char* field) {
  if (!value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
}

absl::Status RequirePositive(int64_t value, const char* field) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be greater than zero"));
}

// Lists a rejected contact, splitting "field: reason" messages.
void AddRejection(const std::string& contact_id, const absl::Status& why,
                  int max_listed, v1::ImportAllResponse* response) {
  if (response->rejections_size() >= max_listed) return;
  v1::RejectedContact* r = response->add_rejections();
  r->set_contact_id(contact_id);
  const std::string text(why.message());
  const size_t colon = text.find(": ");
  if (colon == std::string::npos) {
    r->set_reason(text);
    return;
  }
  r->set_field(text.substr(0, colon));
  r->set_reason(text.substr(colon + 2));
}

std::string NewImportId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  absl::MutexLock lock(&mu);
  return absl::StrCat(
      "imp_", absl::Hex(absl::Uniform<uint64_t>(*gen), absl::kZeroPad16),
      absl::Hex(absl::Uniform<uint64_t>(*gen), absl::kZeroPad16));
}

}  // namespace

PipedriveSyncService::PipedriveSyncService(const CallerAuthenticator* auth,
                                           IntegrationManager* integrations,
                                           SyncEngine* engine, Options options)
    : auth_(auth),
      integrations_(integrations),
      engine_(engine),
      options_(options) {
  AddUnary(kGetAuthorizationUrlPath,
           &PipedriveSyncService::GetAuthorizationUrl);
  AddUnary(kConnectIntegrationPath, &PipedriveSyncService::ConnectIntegration);
  AddUnary(kDisconnectIntegrationPath,
           &PipedriveSyncService::DisconnectIntegration);
  AddUnary(kGetIntegrationPath, &PipedriveSyncService::GetIntegration);
  AddUnary(kSyncContactPath, &PipedriveSyncService::SyncContact);
  AddUnary(kDeleteContactPath, &PipedriveSyncService::DeleteContact);
  AddUnary(kGetContactSyncPath, &PipedriveSyncService::GetContactSync);
  AddUnary(kGetImportPath, &PipedriveSyncService::GetImport);
  using ImportRequest = Lenient<v1::ImportAllRequest>;
  AddMethod(new grpc::internal::RpcServiceMethod(
      kImportAllPath, grpc::internal::RpcMethod::CLIENT_STREAMING,
      new grpc::internal::ClientStreamingHandler<
          PipedriveSyncService, ImportRequest, v1::ImportAllResponse>(
          [](PipedriveSyncService* service, grpc::ServerContext* context,
             grpc::ServerReader<ImportRequest>* reader,
             v1::ImportAllResponse* response) {
            return service->ImportAll(context, reader, response);
          },
          this)));
}

template <typename Request, typename Response>
void PipedriveSyncService::AddUnary(
    const char* path,
    grpc::Status (PipedriveSyncService::*handler)(grpc::ServerContext*,
                                                  const Request*, Response*)) {
  AddMethod(new grpc::internal::RpcServiceMethod(
      path, grpc::internal::RpcMethod::NORMAL_RPC,
      new grpc::internal::RpcMethodHandler<PipedriveSyncService,
                                           Lenient<Request>, Response>(
          [handler](PipedriveSyncService* service, grpc::ServerContext* context,
                    const Lenient<Request>* request, Response* response) {
            if (!request->problem.ok()) {
              return ToGrpcStatus(request->problem);
            }
            return (service->*handler)(context, &request->message, response);
          },
          this)));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

grpc::Status PipedriveSyncService::GetAuthorizationUrl(
    grpc::ServerContext* context, const v1::GetAuthorizationUrlRequest* request,
    v1::GetAuthorizationUrlResponse* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  if (auto s = ValidateAccountId(request->account_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  AuthorizationUrl url =
      integrations_->BuildAuthorizationUrl(request->account_id());
  response->set_authorization_url(url.url);
  response->set_state(url.state);
  *response->mutable_expires_at() = ToProto(url.expires_at);
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::ConnectIntegration(
    grpc::ServerContext* context, const v1::ConnectIntegrationRequest* request,
    v1::Integration* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  absl::Status valid = ValidateAccountId(request->account_id());
  if (valid.ok()) valid = RequireField(request->code(), "code");
  if (valid.ok()) valid = RequireField(request->state(), "state");
  if (valid.ok() && request->lead_channel_option_id() < 0) {
    valid = absl::InvalidArgumentError(
        "lead_channel_option_id: must not be negative");
  }
  if (!valid.ok()) return ToGrpcStatus(valid);
  std::optional<int64_t> channel;
  if (request->lead_channel_option_id() > 0) {
    channel = request->lead_channel_option_id();
  }
  auto view =
      integrations_->Connect(request->account_id(), request->code(),
                             request->state(), request->auto_sync(), channel);
  if (!view.ok()) return ToGrpcStatus(view.status());
  FillIntegration(*view, response);
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::DisconnectIntegration(
    grpc::ServerContext* context,
    const v1::DisconnectIntegrationRequest* request,
    v1::Integration* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  if (auto s = ValidateAccountId(request->account_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto view = integrations_->Disconnect(request->account_id(),
                                        request->uninstalled_in_pipedrive());
  if (!view.ok()) return ToGrpcStatus(view.status());
  FillIntegration(*view, response);
  return AddLatestImport(view->record, response);
}

grpc::Status PipedriveSyncService::GetIntegration(
    grpc::ServerContext* context, const v1::GetIntegrationRequest* request,
    v1::Integration* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  if (auto s = ValidateAccountId(request->account_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  auto view = integrations_->Get(request->account_id());
  if (!view.ok()) return ToGrpcStatus(view.status());
  FillIntegration(*view, response);
  return AddLatestImport(view->record, response);
}

grpc::Status PipedriveSyncService::AddLatestImport(
    const IntegrationRecord& integration, v1::Integration* response) {
  auto latest = engine_->LatestImport(integration.account_id);
  if (!latest.ok()) return ToGrpcStatus(latest.status());
  if (latest->has_value()) {
    FillImport(**latest, integration, response->mutable_latest_import());
  }
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::SyncContact(
    grpc::ServerContext* context, const v1::SyncContactRequest* request,
    v1::SyncContactResponse* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  absl::Status valid = ValidateAccountId(request->account_id());
  if (valid.ok() && !request->has_contact()) {
    valid = absl::InvalidArgumentError("contact: required");
  }
  if (valid.ok()) valid = ValidateContact(request->contact());
  if (!valid.ok()) return ToGrpcStatus(valid);
  auto outcome =
      engine_->SyncContact(request->account_id(), request->contact());
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  response->set_outcome(ToSyncOutcome(outcome->kind));
  response->set_reason(outcome->reason);
  FillContactSync(outcome->view, response->mutable_sync());
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::DeleteContact(
    grpc::ServerContext* context, const v1::DeleteContactRequest* request,
    v1::DeleteContactResponse* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  absl::Status valid = ValidateAccountId(request->account_id());
  if (valid.ok()) {
    valid = ValidateContactId(request->contact_id(), "contact_id");
  }
  if (valid.ok()) valid = RequirePositive(request->version(), "version");
  if (!valid.ok()) return ToGrpcStatus(valid);
  auto outcome = engine_->DeleteContact(
      request->account_id(), request->contact_id(), request->version());
  if (!outcome.ok()) return ToGrpcStatus(outcome.status());
  response->set_outcome(ToDeleteOutcome(outcome->kind));
  response->set_reason(outcome->reason);
  FillContactSync(outcome->view, response->mutable_sync());
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::GetContactSync(
    grpc::ServerContext* context, const v1::GetContactSyncRequest* request,
    v1::ContactSync* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  absl::Status valid = ValidateAccountId(request->account_id());
  if (valid.ok()) {
    valid = ValidateContactId(request->contact_id(), "contact_id");
  }
  if (!valid.ok()) return ToGrpcStatus(valid);
  auto view = engine_->GetContact(request->account_id(), request->contact_id());
  if (!view.ok()) return ToGrpcStatus(view.status());
  FillContactSync(*view, response);
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::GetImport(
    grpc::ServerContext* context, const v1::GetImportRequest* request,
    v1::Import* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  absl::Status valid = ValidateAccountId(request->account_id());
  if (valid.ok()) valid = RequireField(request->import_id(), "import_id");
  if (!valid.ok()) return ToGrpcStatus(valid);
  auto progress =
      engine_->GetImport(request->account_id(), request->import_id());
  if (!progress.ok()) return ToGrpcStatus(progress.status());
  auto integration = integrations_->Get(request->account_id());
  if (!integration.ok()) return ToGrpcStatus(integration.status());

  FillImport(*progress, integration->record, response);
  return grpc::Status::OK;
}

grpc::Status PipedriveSyncService::ImportAll(
    grpc::ServerContext* context,
    grpc::ServerReader<Lenient<v1::ImportAllRequest>>* reader,
    v1::ImportAllResponse* response) {
  if (auto s = auth_->Check(*context); !s.ok()) return ToGrpcStatus(s);
  const std::string import_id = NewImportId();
  std::string account_id;
  int64_t accepted = 0;
  int64_t rejected = 0;
  int64_t index = 0;
  // Valid contacts are written in batches: one transaction each, and memory
  // bounded by the batch, whatever the length of the stream.
  constexpr size_t kImportBatch = 500;
  std::vector<v1::Contact> batch;
  auto flush = [&]() -> grpc::Status {
    if (batch.empty()) return grpc::Status::OK;
    absl::Status s = engine_->AcceptImported(account_id, import_id, batch);
    // What was accepted stays accepted; the caller learns where it stopped
    // and can stream the rest again.
    if (!s.ok()) {
      (void)engine_->FinishImport(import_id, rejected, /*interrupted=*/true);
      return grpc::Status(
          static_cast<grpc::StatusCode>(s.code()),
          absl::StrCat("import ", import_id, " stopped after accepting ",
                       accepted, " contacts (the first ", accepted,
                       " valid ones of the stream): ", s.message()));
    }
    accepted += static_cast<int64_t>(batch.size());
    batch.clear();
    return grpc::Status::OK;
  };
  Lenient<v1::ImportAllRequest> received;
  while (reader->Read(&received)) {
    const v1::ImportAllRequest& message = received.message;
    if (!received.problem.ok()) {
      // Unreadable (e.g. invalid UTF-8): one rejected contact, not the end
      // of the stream.
      ++rejected;
      ++index;
      AddRejection("", received.problem, options_.max_listed_rejections,
                   response);
      received.problem = absl::OkStatus();
      continue;
    }
    if (account_id.empty()) {
      if (auto s = ValidateAccountId(message.account_id()); !s.ok()) {
        return ToGrpcStatus(s);
      }
      account_id = message.account_id();
      auto view = integrations_->Get(account_id);
      if (!view.ok()) return ToGrpcStatus(view.status());
      if (view->record.state == IntegrationState::kDisconnected) {
        return grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            absl::StrCat("account ", account_id,
                         ": the Pipedrive integration is disconnected; "
                         "connect it again before importing"));
      }
      // Unset, the import on connect (auto-sync) links by default.
      const bool link_existing = message.has_link_existing_persons()
                                     ? message.link_existing_persons()
                                     : view->record.auto_sync;
      if (auto s = engine_->StartImport(import_id, account_id, link_existing);
          !s.ok()) {
        return ToGrpcStatus(s);
      }
    } else if (message.account_id() != account_id) {
      // Nothing more is read; what came before stays accepted.
      if (grpc::Status s = flush(); !s.ok()) return s;
      (void)engine_->FinishImport(import_id, rejected, /*interrupted=*/true);
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("account_id: message ", index,
                       " names another account than the first message; "
                       "import ",
                       import_id, " stopped there (accepted so far: ", accepted,
                       ")"));
    }
    absl::Status valid = message.has_contact()
                             ? ValidateContact(message.contact())
                             : absl::InvalidArgumentError("contact: required");
    if (valid.ok()) {
      batch.push_back(message.contact());
      if (batch.size() >= kImportBatch) {
        if (grpc::Status s = flush(); !s.ok()) return s;
      }
    } else {
      ++rejected;
      AddRejection(message.contact().contact_id(), valid,
                   options_.max_listed_rejections, response);
    }
    ++index;
  }
  if (context->IsCancelled()) {
    // The stream broke: every contact that arrived is kept and delivered,
    // and the import says it was cut short.
    if (!account_id.empty()) {
      if (grpc::Status s = flush(); !s.ok()) return s;
      (void)engine_->FinishImport(import_id, rejected, /*interrupted=*/true);
      spdlog::info("account {}: import {} interrupted after {} contacts",
                   account_id, import_id, accepted);
    }
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "the import stream was cancelled");
  }
  if (grpc::Status s = flush(); !s.ok()) return s;
  if (account_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the stream carried no contacts");
  }
  if (auto s = engine_->FinishImport(import_id, rejected,
                                     /*interrupted=*/false);
      !s.ok()) {
    spdlog::warn("account {}: import {} end not stored: {}", account_id,
                 import_id, std::string(s.message()));
  }
  spdlog::info("account {}: import {} accepted {} rejected {}", account_id,
               import_id, accepted, rejected);
  response->set_import_id(import_id);
  response->set_accepted(accepted);
  response->set_rejected(rejected);
  return grpc::Status::OK;
}

}  // namespace wave::pipedrive
