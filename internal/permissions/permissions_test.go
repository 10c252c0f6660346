package permissions

import (
	"reflect"
	"testing"
)

func TestRequiredDeduplicatesAndSorts(t *testing.T) {
	reqs, unknown := Required([]string{"mail", "directory", "mail", "bogus"}, false)
	if got, want := Names(reqs), []string{"Mail.ReadBasic.All", "User.Read.All"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Required names = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(unknown, []string{"bogus"}) {
		t.Fatalf("unknown = %v, want [bogus]", unknown)
	}
}

func TestRequiredDelegatedUsesScopes(t *testing.T) {
	reqs, _ := Required([]string{"mail", "directory"}, true)
	if got, want := Names(reqs), []string{"Mail.ReadBasic", "User.ReadBasic.All"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("delegated names = %v, want %v", got, want)
	}
}

func TestMissingHonoursHigherPermissionsAndCase(t *testing.T) {
	reqs, _ := Required([]string{"directory", "mail", "mail-send", "calendar"}, false)
	got := Missing(reqs, []string{"directory.read.all", "Mail.ReadWrite"})
	want := []string{"Calendars.Read", "Mail.Send"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Missing = %v, want %v", got, want)
	}
	if m := Missing(reqs, []string{"User.Read.All", "Mail.ReadBasic.All", "Mail.Send", "Calendars.ReadWrite"}); len(m) != 0 {
		t.Fatalf("Missing with everything granted = %v, want none", m)
	}
}

func TestFeaturesAreExactlyTheTablesKeys(t *testing.T) {
	features := Features()
	for name, table := range map[string]map[string][]Requirement{"app-only": appOnly, "delegated": delegated} {
		if len(table) != len(features) {
			t.Errorf("%s table has %d features, Features() lists %d", name, len(table), len(features))
		}
		for _, f := range features {
			if _, ok := table[f]; !ok {
				t.Errorf("feature %q has no %s requirements", f, name)
			}
		}
	}
}
