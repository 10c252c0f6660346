package app

import (
	"net/http"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/summarize"
)

// NewSummarizers builds the configured summarize endpoints by name, for
// the recipe activities. Each key is read at call time from its reference,
// so rotating the key's file or variable takes no restart.
func NewSummarizers(r config.Recipes) map[string]summarize.Summarizer {
	out := make(map[string]summarize.Summarizer, len(r.Summarizers))
	// One client for all of them; each request has its own deadline.
	client := &http.Client{}
	for _, s := range r.Summarizers {
		chat := &summarize.Chat{Name: s.Name, URL: s.URL, Model: s.Model, Azure: s.Azure, Timeout: s.Timeout, HTTP: client}
		if ref := s.APIKey; ref != (config.SecretRef{}) {
			chat.APIKey = func() (string, error) { return config.ResolveSecret(ref, nil) }
		}
		out[s.Name] = chat
	}
	return out
}

// summarizerNames are the configured summarizers' names, never nil, so
// recipe validation checks each summarize step's summarizer against them.
func summarizerNames(r config.Recipes) []string {
	names := []string{}
	for _, s := range r.Summarizers {
		names = append(names, s.Name)
	}
	return names
}
