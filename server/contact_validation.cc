#include "server/contact_validation.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include <cstddef>
#include <string>

namespace wave::pipedrive {
namespace {

constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxTextChars = 255;
constexpr size_t kMaxLabelChars = 64;
constexpr size_t kMaxOwnerEmailChars = 320;
constexpr int kMaxContactPoints = 50;
constexpr char32_t kReplacementCharacter = 0xFFFD;

// Unicode general category Cc: C0, DEL and C1. None of them belongs in a
// name or an address, and C1 bytes in valid UTF-8 usually mean the text was
// decoded with the wrong charset somewhere upstream.
bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

absl::Status FieldError(const std::string& field, const std::string& reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

// Checks encoding, control characters and length in code points.
absl::Status CheckText(const std::string& field, const std::string& value,
                       size_t max_chars) {
  if (!IsValidUtf8(value)) return FieldError(field, "not valid UTF-8");

  size_t chars = 0;
  size_t pos = 0;
  while (pos < value.size()) {
    char32_t cp;
    DecodeUtf8(value, &pos, &cp);
    if (IsControl(cp)) {
      return FieldError(field, "contains a control character");
    }
    ++chars;
  }
  if (chars > max_chars) {
    return FieldError(field,
                      absl::StrCat("longer than ", max_chars, " characters"));
  }
  return absl::OkStatus();
}

// Whether `s` holds nothing but whitespace. Expects valid UTF-8.
bool IsBlank(const std::string& s) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp;
    DecodeUtf8(s, &pos, &cp);
    if (!IsUnicodeWhitespace(cp)) return false;
  }
  return true;
}

absl::Status CheckContactPoints(
    const std::string& field,
    const google::protobuf::RepeatedPtrField<v1::ContactPoint>& points) {
  if (points.size() > kMaxContactPoints) {
    return FieldError(field,
                      absl::StrCat("at most ", kMaxContactPoints, " entries"));
  }

  int primaries = 0;
  for (int i = 0; i < points.size(); ++i) {
    const v1::ContactPoint& point = points[i];
    const std::string path = absl::StrCat(field, "[", i, "]");
    const std::string value_path = absl::StrCat(path, ".value");
    absl::Status status = CheckText(value_path, point.value(), kMaxTextChars);
    if (!status.ok()) return status;
    if (IsBlank(point.value())) return FieldError(value_path, "required");
    status =
        CheckText(absl::StrCat(path, ".label"), point.label(), kMaxLabelChars);
    if (!status.ok()) return status;
    if (point.primary()) ++primaries;
  }
  if (primaries > 1) {
    return FieldError(field, "more than one entry is marked primary");
  }
  return absl::OkStatus();
}

absl::Status CheckContactId(const std::string& id, const std::string& field) {
  if (id.empty()) return FieldError(field, "required");
  if (id.size() > kMaxIdBytes) {
    return FieldError(field,
                      absl::StrCat("longer than ", kMaxIdBytes, " bytes"));
  }

  // The byte limit above already bounds the length in characters.
  absl::Status status = CheckText(field, id, kMaxIdBytes);
  if (!status.ok()) return status;
  if (IsBlank(id)) return FieldError(field, "required");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateContact(const v1::Contact& c) {
  absl::Status status = CheckContactId(c.contact_id(), "contact.contact_id");
  if (!status.ok()) return status;
  if (c.version() <= 0) {
    return FieldError("contact.version", "must be greater than zero");
  }

  const struct {
    const char* field;
    const std::string& value;
    size_t max_chars;
  } texts[] = {
      {"contact.first_name", c.first_name(), kMaxTextChars},
      {"contact.last_name", c.last_name(), kMaxTextChars},
      {"contact.job_title", c.job_title(), kMaxTextChars},
      {"contact.company", c.company(), kMaxTextChars},
      {"contact.owner_email", c.owner_email(), kMaxOwnerEmailChars},
  };
  for (const auto& text : texts) {
    status = CheckText(text.field, text.value, text.max_chars);
    if (!status.ok()) return status;
  }

  status = CheckContactPoints("contact.emails", c.emails());
  if (!status.ok()) return status;
  status = CheckContactPoints("contact.phones", c.phones());
  if (!status.ok()) return status;

  if (IsBlank(c.first_name()) && IsBlank(c.last_name()) && c.emails().empty() &&
      c.phones().empty()) {
    return FieldError("contact", "needs a name, an email or a phone");
  }
  return absl::OkStatus();
}

absl::Status ValidateContactId(const std::string& id,
                               const std::string& field) {
  return CheckContactId(id, field);
}

absl::Status ValidateAccountId(const std::string& id,
                               const std::string& field) {
  if (id.empty()) return FieldError(field, "required");
  if (id.size() > kMaxIdBytes) {
    return FieldError(field,
                      absl::StrCat("longer than ", kMaxIdBytes, " bytes"));
  }
  for (const char ch : id) {
    const bool allowed = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
                         ch == '.' || ch == ':' || ch == '@';
    if (!allowed) {
      return FieldError(field,
                        "may contain only ASCII letters, digits and \"-_.:@\"");
    }
  }
  return absl::OkStatus();
}

bool DecodeUtf8(const std::string& s, size_t* pos, char32_t* cp) {
  const size_t start = *pos;
  const auto byte_at = [&s](size_t i) {
    return static_cast<unsigned char>(s[i]);
  };
  const unsigned char lead = byte_at(start);
  if (lead < 0x80) {
    *cp = lead;
    *pos = start + 1;
    return true;
  }

  // The well-formed sequences of Unicode's table 3-7: the bounds on the
  // second byte are what exclude overlong forms, surrogates and code points
  // above U+10FFFF.
  size_t length = 0;
  char32_t value = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  }

  bool ok = length != 0 && s.size() - start >= length;
  for (size_t i = 1; ok && i < length; ++i) {
    const unsigned char b = byte_at(start + i);
    const unsigned char min = i == 1 ? second_min : 0x80;
    const unsigned char max = i == 1 ? second_max : 0xBF;
    ok = b >= min && b <= max;
    value = (value << 6) | (b & 0x3F);
  }
  if (!ok) {
    *cp = kReplacementCharacter;
    *pos = start + 1;
    return false;
  }
  *cp = value;
  *pos = start + length;
  return true;
}

bool IsValidUtf8(const std::string& s) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp;
    if (!DecodeUtf8(s, &pos, &cp)) return false;
  }
  return true;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    cp = kReplacementCharacter;
  }
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t CodePointCount(const std::string& s) {
  size_t count = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t cp;
    DecodeUtf8(s, &pos, &cp);
    ++count;
  }
  return count;
}

bool IsUnicodeWhitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace wave::pipedrive
