package recipe

import (
	"testing"

	"github.com/outlookflow/outlookflow/domain"
)

func TestRenderEscapesValuesInHTMLBodiesOnly(t *testing.T) {
	r := mustParse(t, head+mailTrigger+`steps:
  - id: s
    send:
      to: "{{ mail.to }}"
      subject: "Re: {{ mail.subject }}"
      bodyType: html
      body: "<p>From <b>{{ mail.fromName }}</b>: {{ mail.subject }}</p>"
`)
	m := newMessage()
	m.From.Name = `Tom & "Jerry" <tj@x>`
	env := NewEnv(r, mailInput(domain.ChangeCreated, m), t0)
	s := r.Steps[0]

	body, err := Render(s.Param("body").Text, env, s.Param("body").Text.HTML)
	if err != nil {
		t.Fatal(err)
	}
	want := `<p>From <b>Tom &amp; &#34;Jerry&#34; &lt;tj@x&gt;</b>: Quarterly sync &lt;agenda&gt;</p>`
	if body != want {
		t.Errorf("html body:\n got %s\nwant %s", body, want)
	}

	subject, err := Render(s.Param("subject").Text, env, false)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Re: Quarterly sync <agenda>" {
		t.Errorf("text subject = %q, want the value inserted raw", subject)
	}

	to, err := Render(s.Param("to").List[0], env, false)
	if err != nil || to != "alice@contoso.com" {
		t.Errorf("list placeholder = %q, %v; want the addresses comma-separated", to, err)
	}
}

func TestRenderFormatsTimesListsAndNumbers(t *testing.T) {
	r := mustParse(t, head+mailTrigger+`steps:
  - id: s
    reply:
      body: "{{ mail.receivedAt }}|{{ mail.categories }}|{{ len(mail.cc) + 1 }}|{{ mail.isRead }}|{{ now - mail.receivedAt }}|{{ '{{' }}"
`)
	m := newMessage()
	m.Categories = []string{"VIP", "Red"}
	got, err := Render(r.Steps[0].Param("body").Text, NewEnv(r, mailInput(domain.ChangeCreated, m), t0), false)
	if err != nil {
		t.Fatal(err)
	}
	want := "2025-03-03T08:00:00Z|VIP, Red|2|false|1h0m0s|{{"
	if got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
}

func TestRenderUsesStepOutputs(t *testing.T) {
	r := mustParse(t, head+mailTrigger+`steps:
  - id: meeting
    createEvent: {subject: x, start: "{{ mail.receivedAt + duration('24h') }}", duration: 30m, isOnlineMeeting: true}
  - id: answer
    reply:
      bodyType: html
      body: '<a href="{{ steps.meeting.joinUrl }}">join</a>'
`)
	env := NewEnv(r, mailInput(domain.ChangeCreated, newMessage()), t0)
	start, err := Render(r.Steps[0].Param("start").Text, env, false)
	if err != nil || start != "2025-03-04T08:00:00Z" {
		t.Errorf("start = %q, %v; want RFC 3339 a day after receipt", start, err)
	}
	if err := env.SetOutput("meeting", EventOutput{EventID: "e9", JoinURL: "https://teams.example/j?a=1&b=2"}); err != nil {
		t.Fatal(err)
	}
	b := r.Steps[1].Param("body").Text
	got, err := Render(b, env, b.HTML)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<a href="https://teams.example/j?a=1&amp;b=2">join</a>`; got != want {
		t.Errorf("rendered %q, want %q", got, want)
	}
}
