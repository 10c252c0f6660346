package recipe

import (
	"path/filepath"
	"strings"
	"testing"
)

// examplesDir holds the shipped example recipes (the README's and the
// demo's); testdata/extra has two more that tests use as fixtures.
const examplesDir = "../recipes/examples"

func TestExamplesAllValidate(t *testing.T) {
	valid, errs := LoadDir(examplesDir, Options{})
	for _, e := range errs {
		t.Errorf("example does not validate: %s", e)
	}
	names := map[string]bool{}
	for _, r := range valid {
		names[r.Name] = true
	}
	for _, want := range []string{"vip-escalate", "meeting-request", "meeting-reminder", "daily-digest", "flagged-to-teams", "newsletters"} {
		if !names[want] {
			t.Errorf("example %s is missing from LoadDir's result", want)
		}
	}
}

func TestLoadDirKeepsValidRecipesAndReportsTheRest(t *testing.T) {
	dir := filepath.Join("testdata", "mixed")
	valid, errs := LoadDir(dir, Options{})
	if len(valid) != 1 || valid[0].Name != "valid-one" {
		t.Errorf("valid = %v, want only valid-one", recipeNames(valid))
	}
	b, c, d := filepath.Join(dir, "b-dup.yaml"), filepath.Join(dir, "c-dup.yml"), filepath.Join(dir, "d-invalid.yaml")
	want := []string{
		d + `:10:22: bad template in body of forward step "fwd": unknown field "subjct" in mail; did you mean "subject"?`,
		b + `:1:7: recipe name "shared-name" is also used by ` + c + `:2:7; recipe names must be unique: rename one`,
		c + `:2:7: recipe name "shared-name" is also used by ` + b + `:1:7; recipe names must be unique: rename one`,
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics differ\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func TestLoadDirReportsAMissingDirectory(t *testing.T) {
	_, errs := LoadDir(filepath.Join("testdata", "nope"), Options{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "cannot read the recipe directory") {
		t.Errorf("errs = %v, want one that says the directory cannot be read", errs)
	}
}

func recipeNames(rs []*Recipe) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}
