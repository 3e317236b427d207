#ifndef WAVE_SERVER_CONTACT_VALIDATION_H_
#define WAVE_SERVER_CONTACT_VALIDATION_H_

#include "wave/integrations/pipedrive/v1/pipedrive_sync.pb.h"

#include "absl/status/status.h"

#include <cstddef>
#include <string>

namespace wave::pipedrive {

namespace v1 = ::wave::integrations::pipedrive::v1;

// Checks a Wave contact against the rules the mapping relies on.
//
// Returns OK or INVALID_ARGUMENT whose message is "<field path>: <reason>",
// e.g. "contact.emails[2].value: longer than 255 characters". The field path
// never contains ": ", so callers may split the message at the first ": " to
// fill RejectedContact.field and .reason. Messages never quote the offending
// value, so they carry no personal data. The first rule broken, in field
// order, is reported.
//
// Rules: contact_id required, at most 128 bytes; version greater than zero;
// every string valid UTF-8 without control characters (C0, DEL and C1);
// names, job title and company at most 255 characters (code points); at most
// 50 emails and 50 phones, each value non-blank and at most 255 characters,
// each label at most 64 characters, at most one primary per list;
// owner_email at most 320 characters; and at least a non-blank name, an
// email or a phone.
absl::Status ValidateContact(const v1::Contact& c);

// Checks a contact id on its own (DeleteContact, GetContactSync) by the same
// rule as ValidateContact applies to contact.contact_id, so that every id a
// contact was synced under is accepted: required, at most 128 bytes, valid
// UTF-8 without control characters, not blank. INVALID_ARGUMENT messages
// start "<field>: ".
absl::Status ValidateContactId(const std::string& id,
                               const std::string& field = "contact_id");

// Checks a Wave account id: required, at most 128 bytes, ASCII letters,
// digits and "-_.:@" only. Returns OK or INVALID_ARGUMENT with a message
// starting "<field>: ".
absl::Status ValidateAccountId(const std::string& id,
                               const std::string& field = "account_id");

// Strict UTF-8 (RFC 3629): rejects overlong forms, surrogates, code points
// above U+10FFFF, stray continuation bytes and truncated sequences.
bool IsValidUtf8(const std::string& s);

// Decodes the code point starting at byte `*pos` of `s`. On success stores it
// in `*cp`, advances `*pos` past it and returns true. On an ill-formed
// sequence advances `*pos` by one byte, stores U+FFFD and returns false.
// Requires *pos < s.size().
bool DecodeUtf8(const std::string& s, size_t* pos, char32_t* cp);

// Appends the UTF-8 encoding of `cp` (a Unicode scalar value) to `out`.
void AppendUtf8(char32_t cp, std::string* out);

// Number of code points in `s`; each ill-formed byte counts as one.
size_t CodePointCount(const std::string& s);

// Whether `cp` has the Unicode White_Space property.
bool IsUnicodeWhitespace(char32_t cp);

}  // namespace wave::pipedrive

#endif  // WAVE_SERVER_CONTACT_VALIDATION_H_
