package recipe

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseDuration reads a duration as Go writes it ("90s", "15m", "1h30m"),
// with days allowed in front ("2d", "1d12h"), since waits are often days.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad number of days %q", s[:i])
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return days + d, nil
}

// timeLayouts are the literal date-time forms a time parameter accepts:
// RFC 3339 with an offset, or a local time read in the step's timeZone.
var timeLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"}

func parseTimeLiteral(s string) error {
	for _, l := range timeLayouts {
		if _, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("not a date-time")
}

// loadZone checks an IANA time zone name. The tz database is embedded
// (time/tzdata) so validation gives the same answer on every machine.
func loadZone(name string) error {
	if name == "" || name == "Local" {
		return fmt.Errorf("empty or Local")
	}
	_, err := time.LoadLocation(name)
	return err
}

var (
	reSlug   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	reStepID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)
)

// cronField is one field of a five-field cron spec.
type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var cronFields = []cronField{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{name: "day of week", min: 0, max: 7, names: map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

var cronMacros = map[string]bool{"@yearly": true, "@annually": true, "@monthly": true, "@weekly": true, "@daily": true, "@midnight": true, "@hourly": true}

// checkCron validates a five-field cron spec (minute hour day-of-month
// month day-of-week, with *, lists, ranges, steps and month/day names) or
// one of the @hourly/@daily/@weekly/@monthly/@yearly macros, the subset
// Temporal Schedules and every cron reader agree on.
func checkCron(spec string) error {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "@") {
		if cronMacros[strings.ToLower(spec)] {
			return nil
		}
		return fmt.Errorf("unknown macro %s (use @hourly, @daily, @weekly, @monthly or @yearly)", spec)
	}
	if strings.HasPrefix(strings.ToUpper(spec), "CRON_TZ=") || strings.HasPrefix(strings.ToUpper(spec), "TZ=") {
		return fmt.Errorf("a time zone prefix is not allowed here (set timeZone instead)")
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return fmt.Errorf("it has %d fields, not 5", len(fields))
	}
	for i, f := range fields {
		if err := checkCronField(f, cronFields[i]); err != nil {
			return err
		}
	}
	return nil
}

func checkCronField(s string, f cronField) error {
	for _, part := range strings.Split(s, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n <= 0 {
				return fmt.Errorf("%s step %q is not a positive number", f.name, step)
			}
		}
		if rng == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(rng, "-")
		a, err := cronValue(lo, f)
		if err != nil {
			return err
		}
		if isRange {
			b, err := cronValue(hi, f)
			if err != nil {
				return err
			}
			if b < a {
				return fmt.Errorf("%s range %s is backwards", f.name, rng)
			}
		}
	}
	return nil
}

func cronValue(s string, f cronField) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", f.name, s)
	}
	if n < f.min || n > f.max {
		return 0, fmt.Errorf("%s %d is out of range %d-%d", f.name, n, f.min, f.max)
	}
	return n, nil
}
