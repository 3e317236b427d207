#ifndef WAVE_SERVER_PIPEDRIVE_SYNC_SERVICE_H_
#define WAVE_SERVER_PIPEDRIVE_SYNC_SERVICE_H_

#include "server/caller_auth.h"
#include "server/integration_manager.h"
#include "server/lenient_request.h"
#include "server/sync_engine.h"
#include "wave/integrations/pipedrive/v1/pipedrive_sync.grpc.pb.h"

#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/service_type.h"

namespace wave::pipedrive {

// The gRPC face of the service: authenticates the caller, validates the
// request, delegates to IntegrationManager or SyncEngine, and converts the
// result and any absl::Status into the API's messages and gRPC status.
//
// It registers the methods of wave.integrations.pipedrive.v1.PipedriveSync
// itself rather than through the generated base class, so that requests
// arrive through Lenient<T>: a string field with invalid UTF-8 then gets
// INVALID_ARGUMENT naming the field instead of an anonymous INTERNAL error.
class PipedriveSyncService final : public grpc::Service {
 public:
  struct Options {
    // At most this many rejected contacts are listed in an ImportAll
    // answer; the count covers all of them.
    int max_listed_rejections = 1000;
  };

  PipedriveSyncService(const CallerAuthenticator* auth,
                       IntegrationManager* integrations, SyncEngine* engine,
                       Options options);

  grpc::Status GetAuthorizationUrl(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::GetAuthorizationUrlRequest* request,
      integrations::pipedrive::v1::GetAuthorizationUrlResponse* response);
  grpc::Status ConnectIntegration(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::ConnectIntegrationRequest* request,
      integrations::pipedrive::v1::Integration* response);
  grpc::Status DisconnectIntegration(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::DisconnectIntegrationRequest* request,
      integrations::pipedrive::v1::Integration* response);
  grpc::Status GetIntegration(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::GetIntegrationRequest* request,
      integrations::pipedrive::v1::Integration* response);
  grpc::Status SyncContact(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::SyncContactRequest* request,
      integrations::pipedrive::v1::SyncContactResponse* response);
  grpc::Status DeleteContact(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::DeleteContactRequest* request,
      integrations::pipedrive::v1::DeleteContactResponse* response);
  grpc::Status GetContactSync(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::GetContactSyncRequest* request,
      integrations::pipedrive::v1::ContactSync* response);
  grpc::Status GetImport(
      grpc::ServerContext* context,
      const integrations::pipedrive::v1::GetImportRequest* request,
      integrations::pipedrive::v1::Import* response);
  grpc::Status ImportAll(
      grpc::ServerContext* context,
      grpc::ServerReader<
          Lenient<integrations::pipedrive::v1::ImportAllRequest>>* reader,
      integrations::pipedrive::v1::ImportAllResponse* response);

 private:
  template <typename Request, typename Response>
  void AddUnary(const char* path,
                grpc::Status (PipedriveSyncService::*handler)(
                    grpc::ServerContext*, const Request*, Response*));
  // Sets the account's most recent import in `response`, if it has one.
  grpc::Status AddLatestImport(
      const IntegrationRecord& integration,
      integrations::pipedrive::v1::Integration* response);

  const CallerAuthenticator* auth_;
  IntegrationManager* integrations_;
  SyncEngine* engine_;
  Options options_;
};

// The one place where an absl::Status becomes a grpc::Status.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_PIPEDRIVE_SYNC_SERVICE_H_
