package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Mailbox settings (S42; api/user-get-mailboxsettings.md,
// resources/mailboxsettings.md):
//
//	GET /users/{id|upn}/mailboxSettings[?$select=a,b]
//	GET /users/{id|upn}/mailboxSettings/{automaticRepliesSetting|dateFormat|
//	    delegateMeetingMessageDeliveryOptions|language|timeFormat|timeZone|
//	    workingHours|userPurpose|archiveFolder}
//
// The whole object comes back with @odata.context ".../mailboxSettings";
// an object sub-path returns the bare sub-object (S42) and a string one
// {"@odata.context","value"}, as in the doc's userPurpose example.
// MailboxSettings.Read or .ReadWrite is needed (§8), else 403
// ErrorAccessDenied (S11); a user without a mailbox gets 404
// MailboxNotEnabledForRESTAPI (§7 Outlook-specific codes).
//
// Enum casing: the doc's first example shows "Scheduled" and "All", its
// second "alwaysEnabled" and "None"; the spec (§5) and the v1.0 schema use
// camelCase (disabled|alwaysEnabled|scheduled, none|contactsOnly|all), and
// msgraph-sdk-go's enum parsers match only those exact strings, so the
// simulator follows the spec. userPurpose: the doc example shows
// {"value":"user"} (as does §5, copied from it), but in v1.0's schema it is
// an enum and msgraph-sdk-go fails to parse the whole object when it is
// not a string, so it is sent as the string "user".

var permMailboxSettingsRead = []string{"MailboxSettings.Read", "MailboxSettings.ReadWrite"}

// MailboxSettings is a user's mailbox settings, as the control API sets
// them. Empty fields take the defaults Exchange gives a new mailbox.
type MailboxSettings struct {
	TimeZone   string `json:"timeZone"`   // Windows (default) or IANA name; default "UTC"
	Language   string `json:"language"`   // locale, default "en-US"
	DateFormat string `json:"dateFormat"` // default "MM/dd/yyyy"
	TimeFormat string `json:"timeFormat"` // default "hh:mm tt"
	// DelegateMeetingMessageDeliveryOptions: sendToDelegateOnly (default),
	// sendToDelegateAndInformationToPrincipal, sendToDelegateAndPrincipal.
	DelegateMeetingMessageDeliveryOptions string       `json:"delegateMeetingMessageDeliveryOptions"`
	WorkingHours                          WorkingHours `json:"workingHours"`
	AutomaticReplies                      AutoReplies  `json:"automaticReplies"`
}

// WorkingHours are the days and hours a user works.
type WorkingHours struct {
	DaysOfWeek []string `json:"daysOfWeek"` // lower-case day names; default monday-friday
	StartTime  string   `json:"startTime"`  // "08:00" or "08:00:00"; default 08:00
	EndTime    string   `json:"endTime"`    // default 17:00
	TimeZone   string   `json:"timeZone"`   // default: the mailbox time zone
}

// AutoReplies is the automatic-replies (out of office) setting.
type AutoReplies struct {
	Status               string    `json:"status"`           // disabled (default) | alwaysEnabled | scheduled
	ExternalAudience     string    `json:"externalAudience"` // none | contactsOnly | all (default)
	ScheduledStart       time.Time `json:"scheduledStart"`   // zero: Exchange's default (now, rounded to the hour)
	ScheduledEnd         time.Time `json:"scheduledEnd"`     // zero: start + 1 day
	InternalReplyMessage string    `json:"internalReplyMessage"`
	ExternalReplyMessage string    `json:"externalReplyMessage"`
}

// localeNames are displayName values for localeInfo.
var localeNames = map[string]string{
	"en-us": "English (United States)", "en-gb": "English (United Kingdom)", "de-de": "German (Germany)",
	"fr-fr": "French (France)", "es-es": "Spanish (Spain)", "ja-jp": "Japanese (Japan)", "pt-br": "Portuguese (Brazil)",
	"it-it": "Italian (Italy)", "nl-nl": "Dutch (Netherlands)", "en-in": "English (India)", "en-au": "English (Australia)",
}

// normalized fills defaults and checks enum values.
func (ms MailboxSettings) normalized() (MailboxSettings, error) {
	def := func(p *string, v string) {
		if strings.TrimSpace(*p) == "" {
			*p = v
		}
	}
	def(&ms.TimeZone, "UTC")
	def(&ms.Language, "en-US")
	def(&ms.DateFormat, "MM/dd/yyyy")
	def(&ms.TimeFormat, "hh:mm tt")
	def(&ms.DelegateMeetingMessageDeliveryOptions, "sendToDelegateOnly")
	wh := &ms.WorkingHours
	if len(wh.DaysOfWeek) == 0 {
		wh.DaysOfWeek = []string{"monday", "tuesday", "wednesday", "thursday", "friday"}
	} else {
		wh.DaysOfWeek = append([]string(nil), wh.DaysOfWeek...)
	}
	for i, d := range wh.DaysOfWeek {
		wh.DaysOfWeek[i] = strings.ToLower(d)
		if !isWeekdayName(wh.DaysOfWeek[i]) {
			return ms, fmt.Errorf("graphsim: working day %q is not a day of the week", d)
		}
	}
	def(&wh.StartTime, "08:00")
	def(&wh.EndTime, "17:00")
	def(&wh.TimeZone, ms.TimeZone)
	for _, p := range []*string{&wh.StartTime, &wh.EndTime} {
		t, ok := parseClock(*p)
		if !ok {
			return ms, fmt.Errorf("graphsim: working hours time %q is not HH:MM[:SS]", *p)
		}
		*p = t
	}
	ar := &ms.AutomaticReplies
	def(&ar.Status, "disabled")
	def(&ar.ExternalAudience, "all")
	switch ar.Status {
	case "disabled", "alwaysEnabled", "scheduled":
	default:
		return ms, fmt.Errorf("graphsim: automatic replies status %q must be disabled, alwaysEnabled or scheduled", ar.Status)
	}
	switch ar.ExternalAudience {
	case "none", "contactsOnly", "all":
	default:
		return ms, fmt.Errorf("graphsim: externalAudience %q must be none, contactsOnly or all", ar.ExternalAudience)
	}
	if ar.ScheduledStart.IsZero() {
		ar.ScheduledStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if ar.ScheduledEnd.IsZero() {
		ar.ScheduledEnd = ar.ScheduledStart.Add(24 * time.Hour)
	}
	ar.ScheduledStart, ar.ScheduledEnd = ar.ScheduledStart.UTC().Truncate(time.Second), ar.ScheduledEnd.UTC().Truncate(time.Second)
	return ms, nil
}

func isWeekdayName(d string) bool {
	for i := time.Sunday; i <= time.Saturday; i++ {
		if strings.ToLower(i.String()) == d {
			return true
		}
	}
	return false
}

// parseClock reads "HH:MM" or "HH:MM:SS[.fffffff]" into Graph's
// "HH:MM:SS.0000000" timeOfDay form.
func parseClock(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '.'); i > 0 {
		v = v[:i]
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Format("15:04:05") + ".0000000", true
		}
	}
	return "", false
}

// mailboxSettingsProps are the properties in the order of the doc's example.
var mailboxSettingsProps = []string{
	"archiveFolder", "timeZone", "automaticRepliesSetting", "language", "workingHours",
	"userPurpose", "dateFormat", "timeFormat", "delegateMeetingMessageDeliveryOptions",
}

// mailboxSettingsOf returns u's settings (defaults when never set).
func (u *user) mailboxSettingsOf() MailboxSettings {
	if u.settings != nil {
		return *u.settings
	}
	ms, _ := MailboxSettings{}.normalized()
	return ms
}

func mailboxSettingValue(u *user, ms MailboxSettings, prop string) any {
	switch prop {
	case "archiveFolder":
		if f := u.folderByKey("archive"); f != nil {
			return f.id
		}
		return nil
	case "timeZone":
		return ms.TimeZone
	case "automaticRepliesSetting":
		ar := ms.AutomaticReplies
		return object{
			{"status", ar.Status}, {"externalAudience", ar.ExternalAudience},
			{"scheduledStartDateTime", dateTimeTimeZone(ar.ScheduledStart, time.UTC, "UTC")},
			{"scheduledEndDateTime", dateTimeTimeZone(ar.ScheduledEnd, time.UTC, "UTC")},
			{"internalReplyMessage", ar.InternalReplyMessage}, {"externalReplyMessage", ar.ExternalReplyMessage},
		}
	case "language":
		name := localeNames[strings.ToLower(ms.Language)]
		if name == "" {
			name = ms.Language
		}
		return object{{"locale", ms.Language}, {"displayName", name}}
	case "workingHours":
		wh := ms.WorkingHours
		return object{{"daysOfWeek", wh.DaysOfWeek}, {"startTime", wh.StartTime}, {"endTime", wh.EndTime},
			{"timeZone", object{{"name", wh.TimeZone}}}}
	case "userPurpose":
		return "user"
	case "dateFormat":
		return ms.DateFormat
	case "timeFormat":
		return ms.TimeFormat
	case "delegateMeetingMessageDeliveryOptions":
		return ms.DelegateMeetingMessageDeliveryOptions
	}
	return nil
}

// getMailboxSettings serves GET .../mailboxSettings and its sub-paths.
func (s *Server) getMailboxSettings(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	sub := g.segs[3:]
	if len(sub) > 1 {
		errBadRequest(w, r, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", sub[1]))
		return
	}
	if r.Method == http.MethodPatch {
		if len(sub) > 0 {
			errNotSimulated(w, r, "PATCH on a mailboxSettings property path")
			return
		}
		s.patchMailboxSettings(g)
		return
	}
	if !g.method(http.MethodGet) {
		return
	}
	prop := ""
	if len(sub) == 1 {
		var bad bool
		if prop, bad = canonicalProp(sub[0], mailboxSettingsProps); bad {
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", sub[0]))
			return
		}
	}
	if q.filter != "" || q.expand != "" || q.orderBy != "" || q.search != "" || q.count != "" || q.hasTop || q.hasSkip {
		errNotSimulated(w, r, "$filter, $expand, $orderby, $search, $count, $top and $skip on mailboxSettings")
		return
	}
	if prop != "" && q.hasSelect {
		errNotSimulated(w, r, "$select on a mailboxSettings property")
		return
	}
	props, bad := canonicalProps(q.selects, mailboxSettingsProps)
	if bad != "" {
		errBadRequest(w, r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.mailboxSettings'.", bad))
		return
	}
	if !g.p.has(permMailboxSettingsRead...) {
		errMailDenied(w, r)
		return
	}
	u, _, ok := s.lockMailbox(g, "")
	if !ok {
		return
	}
	ms := u.mailboxSettingsOf()
	var body object
	ctx := fmt.Sprintf("users('%s')/mailboxSettings", g.userKey())
	switch v := mailboxSettingValue(u, ms, prop); {
	case prop == "":
		body = object{{"@odata.context", contextURL(r, ctx+selectSuffix(props))}}
		for _, p := range mailboxSettingsProps {
			if len(props) == 0 || containsString(props, p) {
				body = append(body, kv{p, mailboxSettingValue(u, ms, p)})
			}
		}
	case isObject(v):
		body = append(object{{"@odata.context", contextURL(r, ctx+"/"+prop)}}, v.(object)...)
	default:
		body = object{{"@odata.context", contextURL(r, ctx+"/"+prop)}, {"value", v}}
	}
	s.mu.Unlock()
	writeGraphJSON(w, r, http.StatusOK, body)
}

func isObject(v any) bool {
	_, ok := v.(object)
	return ok
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// canonicalProp matches one property name case-insensitively; bad is true
// when it is unknown.
func canonicalProp(name string, known []string) (string, bool) {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k, false
		}
	}
	return "", true
}

// SetMailboxSettings replaces a user's mailbox settings (empty fields take
// their defaults). It fails for a user without a mailbox.
func (s *Server) SetMailboxSettings(tenantID, userIDOrUPN string, ms MailboxSettings) error {
	n, err := ms.normalized()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return err
	}
	if u.mail == "" {
		return fmt.Errorf("graphsim: user %q has no mailbox", userIDOrUPN)
	}
	u.settings = &n
	return nil
}

// GetMailboxSettings returns a user's mailbox settings with defaults filled.
func (s *Server) GetMailboxSettings(tenantID, userIDOrUPN string) (MailboxSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return MailboxSettings{}, err
	}
	return u.mailboxSettingsOf(), nil
}
