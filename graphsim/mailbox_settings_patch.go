package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// PATCH /users/{id}/mailboxSettings (api/user-update-mailboxsettings.md,
// resources/automaticrepliessetting.md, resources/workinghours.md):
// automaticRepliesSetting (status disabled|alwaysEnabled|scheduled,
// externalAudience none|contactsOnly|all, scheduledStartDateTime and
// scheduledEndDateTime as dateTimeTimeZone, internalReplyMessage,
// externalReplyMessage; members left out keep their values), timeZone,
// language {locale}, dateFormat, timeFormat, workingHours {daysOfWeek,
// startTime, endTime, timeZone {name}} and
// delegateMeetingMessageDeliveryOptions. Enum values match
// case-insensitively (the doc's example sends "Scheduled") and come back in
// v1.0's camelCase. The answer is 200 with @odata.context and only the
// updated properties, as the doc's examples show; GET reflects them.
// Errors are the doc's: 400 RequestBodyRead for a bad time of day or enum,
// ErrorInvalidTimeSettings when working hours end before they start,
// InvalidArguments for an unknown day and InvalidTimeZone for an unknown
// zone; a scheduled window ending before it starts is 400
// ErrorInvalidScheduledOofDuration [unv]. archiveFolder and userPurpose are
// read-only (400 ErrorInvalidPropertySet); custom time zones answer 501.
// MailboxSettings.ReadWrite is needed (§8), else 403 ErrorAccessDenied.

var permMailboxSettingsWrite = []string{"MailboxSettings.ReadWrite"}

func (s *Server) patchMailboxSettings(g *graphRequest) {
	w, r := g.w, g.r
	if !g.p.has(permMailboxSettingsWrite...) {
		errMailDenied(w, r)
		return
	}
	m, ok := readJSONBody(g, true)
	if !ok {
		return
	}
	bad := func(code, msg string) {
		errBadRequest(w, r, code, msg)
	}
	conv := func(v any, typ string) {
		bad("RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%v' to the expected type '%s'.", v, typ))
	}
	enum := func(v any, allowed ...string) (string, bool) {
		sv, _ := v.(string)
		for _, a := range allowed {
			if strings.EqualFold(a, sv) {
				return a, true
			}
		}
		bad("RequestBodyRead", fmt.Sprintf("Requested value '%v' was not found.", v))
		return "", false
	}
	var changes []func(*MailboxSettings)
	updated := map[string]bool{}
	for rawKey, v := range m {
		if strings.HasPrefix(rawKey, "@") {
			continue
		}
		key, unknown := canonicalProp(rawKey, mailboxSettingsProps)
		if unknown {
			bad("RequestBodyRead", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.mailboxSettings'. Make sure to only use property names that are defined by the type or mark the type as open type.", rawKey))
			return
		}
		updated[key] = true
		switch key {
		case "archiveFolder", "userPurpose":
			bad("ErrorInvalidPropertySet", fmt.Sprintf("The property '%s' is read-only and cannot be set.", key))
			return
		case "timeZone":
			tz, _ := v.(string)
			if _, ok := loadZone(tz); !ok {
				bad("InvalidTimeZone", "Time Zone settings provided are invalid.")
				return
			}
			changes = append(changes, func(ms *MailboxSettings) { ms.TimeZone = tz })
		case "dateFormat", "timeFormat":
			sv, isStr := v.(string)
			if !isStr {
				conv(v, "Edm.String")
				return
			}
			changes = append(changes, func(ms *MailboxSettings) {
				if key == "dateFormat" {
					ms.DateFormat = sv
				} else {
					ms.TimeFormat = sv
				}
			})
		case "delegateMeetingMessageDeliveryOptions":
			opt, ok := enum(v, "sendToDelegateAndInformationToPrincipal", "sendToDelegateAndPrincipal", "sendToDelegateOnly")
			if !ok {
				return
			}
			changes = append(changes, func(ms *MailboxSettings) { ms.DelegateMeetingMessageDeliveryOptions = opt })
		case "language":
			o, isObj := v.(map[string]any)
			locale := ciString(o, "locale")
			if !isObj || locale == "" {
				conv(v, "microsoft.graph.localeInfo")
				return
			}
			changes = append(changes, func(ms *MailboxSettings) { ms.Language = locale })
		case "workingHours":
			o, isObj := v.(map[string]any)
			if !isObj {
				conv(v, "microsoft.graph.workingHours")
				return
			}
			var ch []func(*WorkingHours)
			if days, present := ciGet(o, "daysOfWeek"); present {
				a, _ := days.([]any)
				var list []string
				for _, d := range a {
					ds, _ := d.(string)
					if !isWeekdayName(strings.ToLower(ds)) {
						bad("InvalidArguments", fmt.Sprintf("Requested value '%v' was not found.", d))
						return
					}
					list = append(list, strings.ToLower(ds))
				}
				ch = append(ch, func(wh *WorkingHours) { wh.DaysOfWeek = list })
			}
			for _, k := range []string{"startTime", "endTime"} {
				if tv, present := ciGet(o, k); present {
					ts, _ := tv.(string)
					clock, ok := parseClock(ts)
					if !ok || len(strings.Split(ts, ":")) < 2 {
						conv(tv, "Edm.TimeOfDay")
						return
					}
					ch = append(ch, func(wh *WorkingHours) {
						if k == "startTime" {
							wh.StartTime = clock
						} else {
							wh.EndTime = clock
						}
					})
				}
			}
			if tzv, present := ciGet(o, "timeZone"); present {
				tzo, _ := tzv.(map[string]any)
				if odt := ciString(tzo, "@odata.type"); strings.Contains(strings.ToLower(odt), "customtimezone") {
					errNotSimulated(w, r, "custom time zones in workingHours")
					return
				}
				name := ciString(tzo, "name")
				if _, ok := loadZone(name); !ok {
					bad("InvalidTimeZone", "Time Zone settings provided are invalid.")
					return
				}
				ch = append(ch, func(wh *WorkingHours) { wh.TimeZone = name })
			}
			changes = append(changes, func(ms *MailboxSettings) {
				for _, c := range ch {
					c(&ms.WorkingHours)
				}
			})
		case "automaticRepliesSetting":
			o, isObj := v.(map[string]any)
			if !isObj {
				conv(v, "microsoft.graph.automaticRepliesSetting")
				return
			}
			var ch []func(*AutoReplies)
			for k, x := range o {
				switch strings.ToLower(k) {
				case "status":
					st, ok := enum(x, "disabled", "alwaysEnabled", "scheduled")
					if !ok {
						return
					}
					ch = append(ch, func(a *AutoReplies) { a.Status = st })
				case "externalaudience":
					ea, ok := enum(x, "none", "contactsOnly", "all")
					if !ok {
						return
					}
					ch = append(ch, func(a *AutoReplies) { a.ExternalAudience = ea })
				case "scheduledstartdatetime", "scheduledenddatetime":
					dto, _ := x.(map[string]any)
					tm, err := parseDateTimeTimeZone(ciString(dto, "dateTime"), ciString(dto, "timeZone"))
					if err != nil {
						if strings.Contains(err.Error(), "time zone") {
							bad("InvalidTimeZone", "Time Zone settings provided are invalid.")
						} else {
							conv(ciString(dto, "dateTime"), "Edm.DateTimeOffset")
						}
						return
					}
					start := strings.EqualFold(k, "scheduledStartDateTime")
					ch = append(ch, func(a *AutoReplies) {
						if start {
							a.ScheduledStart = tm
						} else {
							a.ScheduledEnd = tm
						}
					})
				case "internalreplymessage", "externalreplymessage":
					msg, isStr := x.(string)
					if x != nil && !isStr {
						conv(x, "Edm.String")
						return
					}
					internal := strings.EqualFold(k, "internalReplyMessage")
					ch = append(ch, func(a *AutoReplies) {
						if internal {
							a.InternalReplyMessage = msg
						} else {
							a.ExternalReplyMessage = msg
						}
					})
				default:
					if !strings.HasPrefix(k, "@") {
						bad("RequestBodyRead", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.automaticRepliesSetting'. Make sure to only use property names that are defined by the type or mark the type as open type.", k))
						return
					}
				}
			}
			changes = append(changes, func(ms *MailboxSettings) {
				for _, c := range ch {
					c(&ms.AutomaticReplies)
				}
			})
		}
	}
	s.mu.Lock()
	u, ok := s.mailboxFor(g)
	if !ok {
		s.mu.Unlock()
		return
	}
	ms := u.mailboxSettingsOf()
	ms.WorkingHours.DaysOfWeek = append([]string(nil), ms.WorkingHours.DaysOfWeek...)
	for _, c := range changes {
		c(&ms)
	}
	wh, ar := ms.WorkingHours, ms.AutomaticReplies
	switch {
	case wh.StartTime >= wh.EndTime:
		s.mu.Unlock()
		bad("ErrorInvalidTimeSettings", "Start Time should occur before End Time.")
		return
	case ar.Status == "scheduled" && !ar.ScheduledEnd.After(ar.ScheduledStart):
		s.mu.Unlock()
		bad("ErrorInvalidScheduledOofDuration", "The scheduled end time must be later than the scheduled start time.")
		return
	}
	ar.ScheduledStart, ar.ScheduledEnd = ar.ScheduledStart.UTC().Truncate(time.Second), ar.ScheduledEnd.UTC().Truncate(time.Second)
	ms.AutomaticReplies = ar
	u.settings = &ms
	body := object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/mailboxSettings", g.userKey()))}}
	for _, p := range mailboxSettingsProps {
		if updated[p] {
			body = append(body, kv{p, mailboxSettingValue(u, ms, p)})
		}
	}
	s.mu.Unlock()
	writeGraphJSON(w, r, http.StatusOK, body)
}
