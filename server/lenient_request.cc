#include "server/lenient_request.h"

#include "server/contact_validation.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

#include <map>

namespace wave::pipedrive {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Deep enough for our messages; deeper input is malformed anyway.
constexpr int kMaxDepth = 16;

// Walks the wire format of one message and returns the path of the first
// string field with invalid UTF-8, or "" when there is none. `ok` turns
// false when the bytes are not a well-formed message at all.
std::string FindBadString(CodedInputStream& in, const Descriptor& descriptor,
                          const std::string& prefix, int depth, bool& ok) {
  std::map<int, int> seen;  // repeated field number -> next index
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return "";
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    const FieldDescriptor* field = descriptor.FindFieldByNumber(number);
    if (field == nullptr ||
        WireFormatLite::GetTagWireType(tag) !=
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
        (field->type() != FieldDescriptor::TYPE_STRING &&
         field->type() != FieldDescriptor::TYPE_MESSAGE)) {
      if (!WireFormatLite::SkipField(&in, tag)) {
        ok = false;
        return "";
      }
      continue;
    }
    std::string path = absl::StrCat(prefix, field->name());
    if (field->is_repeated()) {
      absl::StrAppend(&path, "[", seen[number]++, "]");
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) {
      ok = false;
      return "";
    }
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      std::string value;
      if (!in.ReadString(&value, static_cast<int>(length))) {
        ok = false;
        return "";
      }
      if (!IsValidUtf8(value)) return path;
      continue;
    }
    if (depth >= kMaxDepth) {
      ok = false;
      return "";
    }
    const CodedInputStream::Limit limit =
        in.PushLimit(static_cast<int>(length));
    std::string bad = FindBadString(in, *field->message_type(),
                                    absl::StrCat(path, "."), depth + 1, ok);
    if (!bad.empty() || !ok) return bad;
    if (!in.ConsumedEntireMessage()) {
      ok = false;
      return "";
    }
    in.PopLimit(limit);
  }
}

}  // namespace

absl::Status ExplainUnparsable(const std::string& bytes,
                               const Descriptor& descriptor) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  bool ok = true;
  const std::string path = FindBadString(in, descriptor, "", 0, ok);
  if (!path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid UTF-8"));
  }
  return absl::InvalidArgumentError(
      "request: not a valid protobuf message of the expected type");
}

bool FlattenByteBuffer(const grpc::ByteBuffer& buffer, std::string* out) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  out->clear();
  for (const grpc::Slice& slice : slices) {
    out->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return true;
}

}  // namespace wave::pipedrive
