#ifndef WAVE_SERVER_LENIENT_REQUEST_H_
#define WAVE_SERVER_LENIENT_REQUEST_H_

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/serialization_traits.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"

#include <string>
#include <vector>

namespace wave::pipedrive {

// A request message as received, or why it could not be parsed.
//
// Protobuf refuses a proto3 string field holding invalid UTF-8, and gRPC
// then answers INTERNAL with no message, or, inside a client stream, ends
// the stream as if the caller had finished. Receiving through this wrapper
// instead turns such input into `problem`: INVALID_ARGUMENT naming the
// field, e.g. "contact.company: not valid UTF-8", which the handler answers
// with (or, in ImportAll, records as one rejected contact).
template <typename T>
struct Lenient {
  T message;
  absl::Status problem;
};

// Explains why `bytes` does not parse as a message of `descriptor`: the
// path of the first string field that is not valid UTF-8, else a generic
// "not a valid protobuf message". Always INVALID_ARGUMENT.
absl::Status ExplainUnparsable(const std::string& bytes,
                               const google::protobuf::Descriptor& descriptor);

// Copies a received buffer into one string.
bool FlattenByteBuffer(const grpc::ByteBuffer& buffer, std::string* out);

}  // namespace wave::pipedrive

namespace grpc {

template <typename T>
class SerializationTraits<::wave::pipedrive::Lenient<T>, void> {
 public:
  static Status Serialize(const ::wave::pipedrive::Lenient<T>& msg,
                          ByteBuffer* buffer, bool* own_buffer) {
    return SerializationTraits<T>::Serialize(msg.message, buffer, own_buffer);
  }

  static Status Deserialize(ByteBuffer* buffer,
                            ::wave::pipedrive::Lenient<T>* msg) {
    std::string bytes;
    const bool read = ::wave::pipedrive::FlattenByteBuffer(*buffer, &bytes);
    buffer->Clear();
    if (!read) return Status(StatusCode::INTERNAL, "cannot read request");
    if (msg->message.ParseFromString(bytes)) return Status::OK;
    msg->message.Clear();
    msg->problem =
        ::wave::pipedrive::ExplainUnparsable(bytes, *T::descriptor());
    return Status::OK;
  }
};

}  // namespace grpc

#endif  // WAVE_SERVER_LENIENT_REQUEST_H_
