package recipe

import (
	"strings"
	"testing"
)

// summarize's own rules: maxItems bounded, parameters of the other kind
// of digest refused, the summarizer a configured one.
func TestSummarizeStepRules(t *testing.T) {
	step := func(params string) string {
		return head + mailTrigger + "steps:\n  - id: d\n    summarize: " + params + "\n"
	}
	cases := []struct {
		name, yaml string
		opts       Options
		want       []string
	}{
		{"maxItems zero", step("{of: threads, maxItems: 0}"), Options{},
			[]string{`f.yaml:9:40: maxItems in summarize step "d" must be positive, not 0`}},
		{"maxItems too many", step("{of: events, maxItems: 500}"), Options{},
			[]string{`f.yaml:9:39: maxItems in summarize step "d" must be 1 to 100; a digest is a short read`}},
		{"events with since", step("{of: events, since: 24h}"), Options{},
			[]string{`f.yaml:9:36: since does not apply to a summary of events in summarize step "d"; remove it`}},
		{"unknown summarizer", step("{of: threads, summarizer: gpt}"), Options{Summarizers: []string{"local"}},
			[]string{`f.yaml:9:42: summarizer "gpt" in summarize step "d" is not configured; use builtin or one of the configured endpoints (local)`}},
		{"configured summarizer", step("{of: threads, maxItems: 100, summarizer: local}"), Options{Summarizers: []string{"local"}}, nil},
		{"builtin", step("{of: threads, maxItems: 1, summarizer: builtin}"), Options{Summarizers: []string{}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := Parse("f.yaml", []byte(c.yaml), c.opts)
			var got []string
			for _, d := range diags {
				got = append(got, d.Error())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}
