package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outlookflow/outlookflow/domain"
)

// Messages are the hot path: a page of 1,000 is fingerprinted and its lists
// encoded on every sync, and encoding/json's reflection was a fifth of the
// store's CPU for a page. The encoders here write exactly the bytes
// json.Marshal writes for the same values, so fingerprints already stored
// still match (a changed fingerprint would report every stored message as
// updated once) and the columns stay the JSON reads decode. Anything they
// do not know goes to json.Marshal.

// messageShape is domain.Message as appendMessageJSON knows it. If the type
// changes, messageShapeKnown is false and messages are fingerprinted by
// json.Marshal until appendMessageJSON (and this) are brought up to date;
// a test fails meanwhile.
const messageShape = `ID string; Mailbox string; FolderID string; ConversationID string; InternetMessageID string; ` +
	`From domain.EmailAddress {Name string json:"name,omitempty"; Address string json:"address"}; ` +
	`Sender domain.EmailAddress {Name string json:"name,omitempty"; Address string json:"address"}; ` +
	`To []domain.EmailAddress {Name string json:"name,omitempty"; Address string json:"address"}; ` +
	`Cc []domain.EmailAddress {Name string json:"name,omitempty"; Address string json:"address"}; ` +
	`Bcc []domain.EmailAddress {Name string json:"name,omitempty"; Address string json:"address"}; ` +
	`Subject string; ReceivedAt time.Time; SentAt time.Time; Importance domain.Importance; IsRead bool; IsDraft bool; ` +
	`Flag domain.Flag {Status domain.FlagStatus; DueAt time.Time; CompletedAt time.Time}; ` +
	`Categories []string; HasAttachments bool; Body *domain.MessageBody {ContentType string; Content string}`

var messageShapeKnown = typeShape(reflect.TypeFor[domain.Message]()) == messageShape

// typeShape describes a struct's fields (name, type, tag), and those of the
// domain structs they hold, for comparing with what an encoder expects.
func typeShape(t reflect.Type) string {
	fields := make([]string, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		s := f.Name + " " + f.Type.String()
		if f.Tag != "" {
			s += " " + string(f.Tag)
		}
		inner := f.Type
		for inner.Kind() == reflect.Pointer || inner.Kind() == reflect.Slice {
			inner = inner.Elem()
		}
		if inner.Kind() == reflect.Struct && inner.PkgPath() == reflect.TypeFor[domain.Message]().PkgPath() {
			s += " {" + typeShape(inner) + "}"
		}
		fields[i] = s
	}
	return strings.Join(fields, "; ")
}

// messageJSON is json.Marshal(m).
func messageJSON(m domain.Message) ([]byte, error) {
	if !messageShapeKnown || !jsonTimeOK(m.ReceivedAt) || !jsonTimeOK(m.SentAt) ||
		!jsonTimeOK(m.Flag.DueAt) || !jsonTimeOK(m.Flag.CompletedAt) {
		return json.Marshal(m)
	}
	b := make([]byte, 0, 1024)
	b = append(b, `{"ID":`...)
	b = appendJSONString(b, m.ID)
	b = append(b, `,"Mailbox":`...)
	b = appendJSONString(b, m.Mailbox)
	b = append(b, `,"FolderID":`...)
	b = appendJSONString(b, m.FolderID)
	b = append(b, `,"ConversationID":`...)
	b = appendJSONString(b, m.ConversationID)
	b = append(b, `,"InternetMessageID":`...)
	b = appendJSONString(b, m.InternetMessageID)
	b = append(b, `,"From":`...)
	b = appendAddressJSON(b, m.From)
	b = append(b, `,"Sender":`...)
	b = appendAddressJSON(b, m.Sender)
	b = append(b, `,"To":`...)
	b = appendAddressesJSON(b, m.To, "null")
	b = append(b, `,"Cc":`...)
	b = appendAddressesJSON(b, m.Cc, "null")
	b = append(b, `,"Bcc":`...)
	b = appendAddressesJSON(b, m.Bcc, "null")
	b = append(b, `,"Subject":`...)
	b = appendJSONString(b, m.Subject)
	b = append(b, `,"ReceivedAt":`...)
	b = appendJSONTime(b, m.ReceivedAt)
	b = append(b, `,"SentAt":`...)
	b = appendJSONTime(b, m.SentAt)
	b = append(b, `,"Importance":`...)
	b = appendJSONString(b, string(m.Importance))
	b = append(b, `,"IsRead":`...)
	b = appendJSONBool(b, m.IsRead)
	b = append(b, `,"IsDraft":`...)
	b = appendJSONBool(b, m.IsDraft)
	b = append(b, `,"Flag":{"Status":`...)
	b = appendJSONString(b, string(m.Flag.Status))
	b = append(b, `,"DueAt":`...)
	b = appendJSONTime(b, m.Flag.DueAt)
	b = append(b, `,"CompletedAt":`...)
	b = appendJSONTime(b, m.Flag.CompletedAt)
	b = append(b, `},"Categories":`...)
	b = appendStringsJSON(b, m.Categories, "null")
	b = append(b, `,"HasAttachments":`...)
	b = appendJSONBool(b, m.HasAttachments)
	b = append(b, `,"Body":`...)
	if m.Body == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"ContentType":`...)
		b = appendJSONString(b, m.Body.ContentType)
		b = append(b, `,"Content":`...)
		b = appendJSONString(b, m.Body.Content)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendAddressesJSON appends as as json.Marshal writes it, or ifNil for a
// nil slice.
func appendAddressesJSON(b []byte, as []domain.EmailAddress, ifNil string) []byte {
	if as == nil {
		return append(b, ifNil...)
	}
	b = append(b, '[')
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAddressJSON(b, a)
	}
	return append(b, ']')
}

func appendAddressJSON(b []byte, a domain.EmailAddress) []byte {
	b = append(b, '{')
	if a.Name != "" {
		b = append(b, `"name":`...)
		b = appendJSONString(b, a.Name)
		b = append(b, ',')
	}
	b = append(b, `"address":`...)
	b = appendJSONString(b, a.Address)
	return append(b, '}')
}

// appendStringsJSON appends ss as json.Marshal writes it, or ifNil for a
// nil slice.
func appendStringsJSON(b []byte, ss []string, ifNil string) []byte {
	if ss == nil {
		return append(b, ifNil...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendJSONBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// jsonTimeOK reports whether json.Marshal encodes t as appendJSONTime
// does: it refuses years outside 0–9999, and the store's times are UTC.
func jsonTimeOK(t time.Time) bool {
	_, offset := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && offset == 0
}

// appendJSONTime appends t as time.Time.MarshalJSON writes it; t must pass
// jsonTimeOK.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as json.Marshal writes it: HTML
// characters, control characters, U+2028 and U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
