package summarize

import (
	"context"
	"strings"
	"testing"
	"time"
)

var monday = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestKeySentencesPickTheThreadsTopicInWritingOrder(t *testing.T) {
	texts := []string{
		"Hi Adele,\nHope you had a good weekend. The budget review for the Lisbon office moves to Thursday. " +
			"Finance needs the final budget numbers for Lisbon by Wednesday noon.\nThanks, Megan",
		"The weather in Lisbon was lovely last week. Could you send the budget numbers for Lisbon before Wednesday?",
	}
	got := KeySentences("Lisbon budget review", texts, 2)
	// The two sentences that ask for the Lisbon budget numbers use the
	// thread's most frequent words; the weekend and the weather do not.
	want := []string{
		"Finance needs the final budget numbers for Lisbon by Wednesday noon.",
		"Could you send the budget numbers for Lisbon before Wednesday?",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("key sentences:\n got %q\nwant %q", got, want)
	}
	if again := KeySentences("Lisbon budget review", texts, 2); strings.Join(again, "|") != strings.Join(got, "|") {
		t.Fatalf("the same input gave another answer: %q then %q", got, again)
	}
}

func TestKeySentencesSkipGreetingsAndFragmentsAndBoundLength(t *testing.T) {
	long := "Budget " + strings.Repeat("numbers and more numbers ", 30) + "."
	got := KeySentences("budget", []string{"Hi Adele,\nThanks!\nOK.\n" + long}, 3)
	if len(got) != 1 {
		t.Fatalf("key sentences = %q, want only the long one (greetings and fragments skipped)", got)
	}
	if n := len([]rune(got[0])); n != maxSentence || !strings.HasSuffix(got[0], "…") {
		t.Fatalf("a long sentence is cut to %d runes ending in …, got %d: %q", maxSentence, n, got[0])
	}
	if got := KeySentences("x", nil, 2); got != nil {
		t.Fatalf("no texts gave %q, want none", got)
	}
}

func TestBuiltinDigestOfThreadsListsEachThreadWithItsKeySentences(t *testing.T) {
	req := Request{Kind: Threads, Scope: "since Mon 2 Mar 09:00", Threads: []Thread{
		{Subject: "Lisbon budget", Participants: []string{"Megan Bowen"}, Messages: 2, Last: monday.Add(90 * time.Minute),
			LastFrom: "Megan Bowen", Unanswered: true,
			Texts: []string{"Finance needs the final Lisbon budget numbers by Wednesday noon. The weather is nice today anyway."}},
		{Subject: "", Participants: []string{"alex@contoso.example", "Adele Vance"}, Messages: 1, Last: monday, LastFrom: "Adele Vance"},
	}}
	got, err := Builtin{KeySentences: 1}.Summarize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "2 threads since Mon 2 Mar 09:00 (times in UTC)\n" +
		"\n- Lisbon budget — Megan Bowen; 2 messages; last Mon 2 Mar 10:30 from Megan Bowen (unanswered)" +
		"\n  Finance needs the final Lisbon budget numbers by Wednesday noon." +
		"\n- (no subject) — alex@contoso.example, Adele Vance; 1 message; last Mon 2 Mar 09:00 from Adele Vance"
	if got != want {
		t.Fatalf("digest:\n%s\nwant:\n%s", got, want)
	}
}

func TestBuiltinDigestOfEventsWritesTimesInTheRequestsZone(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Kind: Events, Scope: "in the next 24h", Location: paris, Events: []Event{
		{Subject: "Kickoff", Start: monday, End: monday.Add(30 * time.Minute), Organizer: "Adele Vance", Location: "Room 2", IsOnline: true, Attendees: 1},
		{Subject: "Offsite", Start: monday.Truncate(24 * time.Hour), End: monday.Truncate(24 * time.Hour).Add(24 * time.Hour), IsAllDay: true, IsCancelled: true},
	}}
	got, err := Builtin{}.Summarize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "2 events in the next 24h (times in Europe/Paris)\n" +
		"\n- Mon 2 Mar 10:00–10:30 Kickoff — organizer Adele Vance; Room 2; Teams meeting; 1 attendee" +
		"\n- Mon 2 Mar all day Offsite — cancelled"
	if got != want {
		t.Fatalf("digest:\n%s\nwant:\n%s", got, want)
	}
}

func TestBuiltinDigestOfNothingSaysSo(t *testing.T) {
	got, err := Builtin{}.Summarize(context.Background(), Request{Kind: Threads, Scope: "since yesterday"})
	if err != nil {
		t.Fatal(err)
	}
	if got != "0 threads since yesterday (times in UTC)\n\nNothing to report." {
		t.Fatalf("empty digest = %q", got)
	}
}

func TestMessageTextReducesHTMLAndDropsQuotedHistory(t *testing.T) {
	body := `<html><head><style>p{color:red}</style></head><body><p>Numbers are in&nbsp;the sheet.</p>` +
		`<div>See row&nbsp;12 &amp; 13.</div><script>alert(1)</script>` +
		`<div>From: Megan Bowen</div><div>Sent: Monday</div><p>Older text that must not appear.</p></body></html>`
	if got := MessageText("html", body); got != "Numbers are in the sheet.\n\nSee row 12 & 13." {
		t.Fatalf("html text = %q", got)
	}
	plain := "Sure, Thursday works.\n\nOn Mon, 2 Mar 2026 at 09:00, Megan Bowen wrote:\n> Can we meet?\n> Thanks"
	if got := MessageText("text", plain); got != "Sure, Thursday works." {
		t.Fatalf("plain text = %q", got)
	}
	if got := MessageText("text", "Line one\n> quoted\nFrom: a colleague, a tip: keep it short."); got != "Line one\nFrom: a colleague, a tip: keep it short." {
		t.Fatalf("a From: line that is not a header block must stay: %q", got)
	}
}
