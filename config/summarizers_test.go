package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSummarizersLoadFromTheFile(t *testing.T) {
	path := writeConfig(t, minimalYAML+`
recipes:
  summarizers:
    - name: openai
      url: https://api.openai.com/v1
      model: gpt-4o-mini
      apiKey: {env: OPENAI_API_KEY}
    - name: azure-gpt4o
      url: https://contoso.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21
      azure: true
      apiKey: {file: /run/secrets/azure-openai}
      timeout: 45s
    - name: local
      url: http://127.0.0.1:11434/v1
      model: llama3.1
`)
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Recipes.Summarizers
	if len(got) != 3 || got[0].APIKey.Env != "OPENAI_API_KEY" || !got[1].Azure || got[1].Timeout != 45*time.Second ||
		got[1].APIKey.File != "/run/secrets/azure-openai" || got[2].APIKey != (SecretRef{}) {
		t.Fatalf("summarizers = %+v", got)
	}
}

func TestSummarizerWithAnInlineKeyIsRefusedWithoutRepeatingIt(t *testing.T) {
	path := writeConfig(t, minimalYAML+`
recipes:
  summarizers:
    - name: openai
      url: https://api.openai.com/v1
      model: gpt-4o-mini
      apiKey: sk-live-abcdef
`)
	_, err := Load(path, nil)
	assertContainsAll(t, err, "recipes.summarizers[0].apiKey", "inline secrets are not allowed", ".env")
	if err != nil && strings.Contains(err.Error(), "sk-live-abcdef") {
		t.Errorf("the error repeats the key: %v", err)
	}
}

func TestSummarizerValidationNamesTheKeyAndTheFix(t *testing.T) {
	good := Summarizer{Name: "openai", URL: "https://api.openai.com/v1", Model: "gpt-4o-mini", APIKey: SecretRef{Env: "OPENAI_API_KEY"}}
	tests := []struct {
		name  string
		edit  func(s *Summarizer)
		wants []string
	}{
		{"no name", func(s *Summarizer) { s.Name = "" }, []string{"recipes.summarizers[1].name", "is empty", "summarizer: NAME"}},
		{"builtin", func(s *Summarizer) { s.Name = "builtin" }, []string{"recipes.summarizers[1].name", "built-in summarizer's name", "pick another"}},
		{"bad name", func(s *Summarizer) { s.Name = "Open AI" }, []string{"recipes.summarizers[1].name", "lower-case letters, digits and -"}},
		{"duplicate", func(s *Summarizer) { s.Name = "first" }, []string{"recipes.summarizers[1].name", `"first" names two summarizers`}},
		{"no url", func(s *Summarizer) { s.URL = "" }, []string{"recipes.summarizers[1].url", "not an absolute URL", "https://api.openai.com/v1"}},
		{"relative url", func(s *Summarizer) { s.URL = "api.openai.com/v1" }, []string{"recipes.summarizers[1].url", "not an absolute URL"}},
		{"plain http elsewhere", func(s *Summarizer) { s.URL = "http://models.contoso.com/v1" }, []string{"recipes.summarizers[1].url", "plain http", "use https"}},
		{"route included", func(s *Summarizer) { s.URL = "https://api.openai.com/v1/chat/completions" }, []string{"recipes.summarizers[1].url", "ends in /chat/completions", "remove it"}},
		{"credentials in the url", func(s *Summarizer) { s.URL = "https://user:hunter2@api.openai.com/v1" }, []string{"recipes.summarizers[1].url", "carries credentials", "apiKey"}},
		{"no model", func(s *Summarizer) { s.Model = " " }, []string{"recipes.summarizers[1].model", "gpt-4o-mini"}},
		{"azure without key", func(s *Summarizer) { s.Azure, s.APIKey = true, SecretRef{} }, []string{"recipes.summarizers[1].apiKey", "is missing"}},
		{"key with both", func(s *Summarizer) { s.APIKey.File = "/k" }, []string{"recipes.summarizers[1].apiKey", "keep exactly one"}},
		{"key is the secret", func(s *Summarizer) { s.APIKey.Env = "sk-live-abc" }, []string{"recipes.summarizers[1].apiKey.env", "never to the secret itself"}},
		{"timeout", func(s *Summarizer) { s.Timeout = time.Hour }, []string{"recipes.summarizers[1].timeout", "between 1s and 30m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := good
			first.Name = "first"
			s := good
			tt.edit(&s)
			v := &validator{}
			Recipes{Summarizers: []Summarizer{first, s}}.validate(v)
			var err error
			if len(v.problems) > 0 {
				err = &ValidationError{Problems: v.problems}
			}
			assertContainsAll(t, err, tt.wants...)
			var ve *ValidationError
			if errors.As(err, &ve) && len(ve.Problems) != 1 {
				t.Errorf("want exactly one problem, got %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the URL's password: %v", err)
			}
		})
	}
}

func TestSummarizerEdgeCasesThatAreValid(t *testing.T) {
	for _, s := range []Summarizer{
		{Name: "local", URL: "http://localhost:8000/v1", Model: "m"},
		{Name: "local6", URL: "http://[::1]:8000/v1", Model: "m"},
		{Name: "azure", URL: "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21", Azure: true, APIKey: SecretRef{File: "/k"}},
	} {
		v := &validator{}
		Recipes{Summarizers: []Summarizer{s}}.validate(v)
		if len(v.problems) > 0 {
			t.Errorf("%s: %v", s.Name, v.problems)
		}
	}
}
