// Package delegatedtest holds what tests of the delegated flows share.
package delegatedtest

import (
	"context"
	"sync"

	"github.com/outlookflow/outlookflow/internal/delegated"
)

// Secrets is delegated.Secrets in memory (the sealed store has its own
// tests).
type Secrets struct {
	mu sync.Mutex
	m  map[string][]byte
}

var _ delegated.Secrets = (*Secrets)(nil)

func key(kind, tenant, subject string) string { return kind + "/" + tenant + "/" + subject }

func (s *Secrets) PutSecret(_ context.Context, kind, tenant, subject string, p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key(kind, tenant, subject)] = append([]byte(nil), p...)
	return nil
}

func (s *Secrets) Secret(_ context.Context, kind, tenant, subject string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.m[key(kind, tenant, subject)]
	if !ok {
		return nil, delegated.ErrNoSecret
	}
	return p, nil
}

func (s *Secrets) DeleteSecret(_ context.Context, kind, tenant, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key(kind, tenant, subject))
	return nil
}
