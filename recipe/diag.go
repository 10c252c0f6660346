package recipe

import (
	"fmt"
	"sort"
	"strings"

	"github.com/outlookflow/outlookflow/internal/suggest"
)

// Pos is a position in a recipe file: 1-based line and column, as editors
// count them (columns count characters, not bytes).
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Diagnostic is one problem found in a recipe file. Msg says what is wrong
// and, after a semicolon, how to fix it.
type Diagnostic struct {
	Pos
	Msg string
}

// Error formats the diagnostic as "file:line:col: message", the form editors
// and CI logs link to.
func (d Diagnostic) Error() string { return d.Pos.String() + ": " + d.Msg }

func (d Diagnostic) String() string { return d.Error() }

// Diagnostics is a list of problems; as an error it prints one per line.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// sortDiagnostics orders diagnostics by file, line and column, so output is
// stable whatever order the checks ran in.
func sortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// nearest returns the candidate closest to s by edit distance (case
// ignored), or "" when none is close enough to be a plausible typo. A
// candidate that s starts with ("sendMial" for "send") counts as close.
func nearest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := suggest.Distance(ls, lc)
		if len(lc) >= 3 && strings.HasPrefix(ls, lc) {
			d = min(d, 1)
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len([]rune(s)) > 5 {
		limit = 3
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// didYouMean is the fix part of an "unknown X" message: the nearest known
// name, or the list of known names when nothing is close.
func didYouMean(s string, known []string) string {
	if n := nearest(s, known); n != "" {
		return fmt.Sprintf("did you mean %q?", n)
	}
	return "known: " + strings.Join(known, ", ")
}
