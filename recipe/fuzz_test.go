package recipe

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it returns
// either a recipe or diagnostics, never both or neither.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	extra, _ := filepath.Glob(filepath.Join("testdata", "extra", "*.yaml"))
	files = append(files, extra...)
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(head + "trigger:\n  schedule: {cron: \"0 9 * * 1-5\"}\nsteps:\n  - id: g\n    graphRequest: {method: GET, path: /me}\n"))
	opts := Options{Tenants: map[string]Grant{"contoso": {Delegated: true, Permissions: []string{}}}, Summarizers: []string{"local"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, diags := Parse("f.yaml", data, opts)
		if (r == nil) == (len(diags) == 0) {
			t.Fatalf("Parse returned recipe=%v with %d diagnostics", r != nil, len(diags))
		}
		for _, d := range diags {
			if d.Line < 1 || d.Col < 1 {
				t.Fatalf("diagnostic without a position: %s", d)
			}
		}
	})
}
