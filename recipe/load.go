package recipe

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadDir parses every *.yaml and *.yml file directly in dir. Valid
// recipes are returned (in file-name order) and invalid files reported,
// so a caller such as the worker keeps serving the valid ones. Two files
// with the same recipe name are both rejected, each diagnostic naming the
// other file.
func LoadDir(dir string, opts Options) (valid []*Recipe, errs []Diagnostic) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []Diagnostic{{Pos: Pos{File: dir, Line: 1, Col: 1}, Msg: "cannot read the recipe directory: " + err.Error() + "; check the path and its permissions"}}
	}
	var names []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var parsed []*Recipe
	for _, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, Diagnostic{Pos: Pos{File: path, Line: 1, Col: 1}, Msg: "cannot read the file: " + err.Error()})
			continue
		}
		r, ds := Parse(path, data, opts)
		errs = append(errs, ds...)
		if r != nil {
			parsed = append(parsed, r)
		}
	}
	byName := map[string][]*Recipe{}
	for _, r := range parsed {
		byName[r.Name] = append(byName[r.Name], r)
	}
	for _, r := range parsed {
		same := byName[r.Name]
		if len(same) == 1 {
			valid = append(valid, r)
			continue
		}
		var others []string
		for _, o := range same {
			if o != r {
				others = append(others, o.NamePos.String())
			}
		}
		errs = append(errs, Diagnostic{Pos: r.NamePos, Msg: "recipe name " + quote(r.Name) + " is also used by " +
			strings.Join(others, ", ") + "; recipe names must be unique: rename one"})
	}
	return valid, errs
}

func quote(s string) string { return `"` + s + `"` }
