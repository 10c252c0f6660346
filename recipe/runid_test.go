package recipe

import (
	"regexp"
	"strings"
	"testing"
)

func TestRunIDIsStableAndWorkflowIDSafe(t *testing.T) {
	id := RunID("contoso", "vip-forward", "AAMkAGI2TG93AAA=", "new")
	if id != RunID("contoso", "vip-forward", "AAMkAGI2TG93AAA=", "new") {
		t.Errorf("RunID is not deterministic")
	}
	if !regexp.MustCompile(`^outlookflow-recipe-[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("RunID %q is not prefix + 32 hex digits", id)
	}
	if strings.Contains(id, "AAMk") || strings.Contains(id, "contoso") {
		t.Errorf("RunID %q carries its parts in clear", id)
	}
}

func TestRunIDDependsOnEveryPartAndTheirBoundaries(t *testing.T) {
	base := RunID("t", "r", "item", "k")
	for _, other := range []string{
		RunID("t2", "r", "item", "k"), RunID("t", "r2", "item", "k"),
		RunID("t", "r", "item2", "k"), RunID("t", "r", "item", "k2"),
		RunID("t", "ri", "tem", "k"),
	} {
		if other == base {
			t.Errorf("different parts gave the same RunID %s", base)
		}
	}
}

// goldenRunID pins the derivation: changing it would start second runs
// for changes replayed across an upgrade.
const goldenRunID = "outlookflow-recipe-df914f08ba433ab3ec145e5fbb47f94b"

func TestRunIDGolden(t *testing.T) {
	if got, want := RunID("contoso", "vip-forward", "m1", "new"), goldenRunID; got != want {
		t.Errorf("RunID = %s, want %s (the derivation changed: replays would start second runs)", got, want)
	}
}

// MessageKey is the same for every copy of a message (the Message-ID as
// Graph gives it, whatever its case or surrounding space), differs between
// messages, carries nothing in clear, and is pinned: changing it would let
// a message moved across an upgrade fire again.
func TestMessageKeyIsOneMessagesAcrossCopiesAndGolden(t *testing.T) {
	k := MessageKey("<AbC123@contoso.com>")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(k) {
		t.Fatalf("MessageKey %q is not 32 hex digits", k)
	}
	if strings.Contains(k, "contoso") {
		t.Errorf("MessageKey %q carries the Message-ID in clear", k)
	}
	for _, same := range []string{"<abc123@contoso.com>", "  <ABC123@CONTOSO.COM>\n"} {
		if got := MessageKey(same); got != k {
			t.Errorf("MessageKey(%q) = %s, want %s (the same message)", same, got, k)
		}
	}
	if MessageKey("<abc124@contoso.com>") == k {
		t.Error("two messages have the same MessageKey")
	}
	for _, none := range []string{"", "  "} {
		if got := MessageKey(none); got != "" {
			t.Errorf("MessageKey(%q) = %q, want \"\" (no Message-ID, no key)", none, got)
		}
	}
	if got, want := k, "283509b96bfcf65551a45b0c4c8ea8be"; got != want {
		t.Errorf("MessageKey = %s, want %s (the derivation changed)", got, want)
	}
}
