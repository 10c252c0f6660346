package store

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// The fast encoders must not change a byte: stored fingerprints were made
// with json.Marshal, and a differing one would report every stored message
// as updated on its next sync.

func TestMessageEncoderKnowsTheMessageType(t *testing.T) {
	if !messageShapeKnown {
		t.Fatalf("domain.Message changed, so messages are fingerprinted with json.Marshal (slowly) until appendMessageJSON "+
			"writes the new fields as json.Marshal does and messageShape is updated to:\n%s", typeShape(reflect.TypeFor[domain.Message]()))
	}
}

func TestMessageFingerprintBytesAreJSONMarshals(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		m := randomMessage(rng, i)
		for _, m := range []domain.Message{m, normMessage(m)} {
			want, wantErr := json.Marshal(m)
			got, err := messageJSON(m)
			if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
				t.Fatalf("message %d:\n got %s (error %v)\nwant %s (error %v)", i, got, err, want, wantErr)
			}
		}
	}
}

func TestListColumnsAreJSONMarshals(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		m := randomMessage(rng, i)
		for _, v := range []any{m.To, m.Cc, m.Categories, []string{}, []domain.EmailAddress{}, []string(nil), []domain.EmailAddress(nil)} {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) == "null" {
				want = []byte("[]")
			}
			got, err := jsonText(v)
			if err != nil || got != string(want) {
				t.Fatalf("%#v:\n got %s (error %v)\nwant %s", v, got, err, want)
			}
		}
	}
}

// randomString mixes plain text with everything encoding/json escapes or
// replaces: quotes, backslashes, HTML characters, control characters,
// U+2028/U+2029, multi-byte and invalid UTF-8.
func randomString(rng *rand.Rand) string {
	pieces := []string{"", "a", "Subject ", "ann@contoso.com", "<id@x>", "&", `"`, `\`, "\n", "\t", "\x00", "\x1f", "\x7f",
		"é", "日本", "\u2028", "\u2029", "\xff", "\xe2\x80", "😀", "\ufffd", "/", " "}
	var b []byte
	for range rng.IntN(8) {
		if rng.IntN(4) == 0 {
			b = append(b, byte(rng.IntN(256)))
		} else {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
	}
	return string(b)
}

func randomTime(rng *rand.Rand) time.Time {
	switch rng.IntN(5) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(rng.Int64N(4e9), 0).UTC()
	case 2:
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).UTC()
	case 3:
		return time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(time.FixedZone("x", 3600*rng.IntN(12)))
	default:
		return time.Date(10000+rng.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC) // json.Marshal refuses it
	}
}

func randomAddresses(rng *rand.Rand) []domain.EmailAddress {
	if rng.IntN(4) == 0 {
		return nil
	}
	as := make([]domain.EmailAddress, rng.IntN(4))
	for i := range as {
		as[i] = domain.EmailAddress{Name: randomString(rng), Address: randomString(rng)}
	}
	return as
}

func randomMessage(rng *rand.Rand, i int) domain.Message {
	m := domain.Message{
		ID: randomString(rng), Mailbox: randomString(rng), FolderID: randomString(rng),
		ConversationID: randomString(rng), InternetMessageID: randomString(rng),
		From:   domain.EmailAddress{Name: randomString(rng), Address: randomString(rng)},
		Sender: domain.EmailAddress{Name: randomString(rng), Address: randomString(rng)},
		To:     randomAddresses(rng), Cc: randomAddresses(rng), Bcc: randomAddresses(rng),
		Subject: randomString(rng), ReceivedAt: randomTime(rng), SentAt: randomTime(rng),
		Importance: domain.Importance(randomString(rng)), IsRead: i%2 == 0, IsDraft: i%3 == 0,
		Flag:           domain.Flag{Status: domain.FlagStatus(randomString(rng)), DueAt: randomTime(rng), CompletedAt: randomTime(rng)},
		HasAttachments: i%5 == 0,
	}
	if rng.IntN(3) > 0 {
		m.Categories = make([]string, rng.IntN(3))
		for j := range m.Categories {
			m.Categories[j] = randomString(rng)
		}
	}
	if rng.IntN(2) == 0 {
		m.Body = &domain.MessageBody{ContentType: randomString(rng), Content: randomString(rng)}
	}
	return m
}
