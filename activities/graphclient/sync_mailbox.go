package graphclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// --- contacts --------------------------------------------------------------

const contactSelect = "displayName,emailAddresses,companyName,jobTitle,businessPhones,homePhones,mobilePhone"

type graphContact struct {
	itemMeta
	DisplayName    string `json:"displayName"`
	EmailAddresses []struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddresses"`
	CompanyName    string   `json:"companyName"`
	JobTitle       string   `json:"jobTitle"`
	BusinessPhones []string `json:"businessPhones"`
	HomePhones     []string `json:"homePhones"`
	MobilePhone    string   `json:"mobilePhone"`
}

func (ct *graphContact) domain(mailbox string) domain.Contact {
	out := domain.Contact{ID: ct.ID, Mailbox: mailbox, DisplayName: ct.DisplayName, CompanyName: ct.CompanyName, JobTitle: ct.JobTitle}
	for _, e := range ct.EmailAddresses {
		out.EmailAddresses = append(out.EmailAddresses, domain.EmailAddress{Name: e.Name, Address: e.Address})
	}
	for _, n := range ct.BusinessPhones {
		out.Phones = append(out.Phones, domain.Phone{Type: domain.PhoneBusiness, Number: n})
	}
	for _, n := range ct.HomePhones {
		out.Phones = append(out.Phones, domain.Phone{Type: domain.PhoneHome, Number: n})
	}
	if ct.MobilePhone != "" {
		out.Phones = append(out.Phones, domain.Phone{Type: domain.PhoneMobile, Number: ct.MobilePhone})
	}
	return out
}

// contactsDeltaURL starts the delta of a mailbox's default contact folder.
func (c *Client) contactsDeltaURL(root string) string {
	return c.graphURL(root+"/contacts/delta", url.Values{"$select": {contactSelect}})
}

func decodeContacts(body []byte, mailbox string) (activities.ContactsDeltaPage, error) {
	return decodeDelta(body, "contacts delta of mailbox "+mailbox, []string{"#microsoft.graph.contact"}, func(_ int, ct *graphContact) (domain.Contact, error) {
		return ct.domain(mailbox), nil
	})
}

// --- mailbox settings ------------------------------------------------------

// The reply texts of automaticRepliesSetting are content the store does not
// keep, but Graph has no finer $select than the whole setting.
const mailboxSettingsSelect = "timeZone,workingHours,automaticRepliesSetting"

type graphMailboxSettings struct {
	TimeZone     string `json:"timeZone"`
	WorkingHours *struct {
		DaysOfWeek []string `json:"daysOfWeek"`
		StartTime  string   `json:"startTime"`
		EndTime    string   `json:"endTime"`
		TimeZone   *struct {
			Name string `json:"name"`
		} `json:"timeZone"`
	} `json:"workingHours"`
	AutomaticReplies *struct {
		Status           string                 `json:"status"`
		ExternalAudience string                 `json:"externalAudience"`
		ScheduledStart   *graphDateTimeTimeZone `json:"scheduledStartDateTime"`
		ScheduledEnd     *graphDateTimeTimeZone `json:"scheduledEndDateTime"`
	} `json:"automaticRepliesSetting"`
}

// MailboxSettings reads a mailbox's time zone, working hours and
// automatic-reply state. Graph has no delta for them: one GET per round.
func (c *Client) MailboxSettings(ctx context.Context, creds activities.Credentials, mailbox string) (domain.MailboxSettings, error) {
	s, err := c.session(creds)
	if err != nil {
		return domain.MailboxSettings{}, err
	}
	body, err := s.getJSON(ctx, mailbox, c.graphURL(mailboxRoot(creds, mailbox)+"/mailboxSettings", url.Values{"$select": {mailboxSettingsSelect}}))
	if err != nil {
		return domain.MailboxSettings{}, err
	}
	var g graphMailboxSettings
	if err := json.Unmarshal(body, &g); err != nil {
		return domain.MailboxSettings{}, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("mailbox settings of mailbox %s: not valid JSON: %v", mailbox, err)}
	}
	out := domain.MailboxSettings{Mailbox: mailbox, TimeZone: g.TimeZone}
	if wh := g.WorkingHours; wh != nil {
		out.WorkingHours = domain.WorkingHours{Days: wh.DaysOfWeek, StartTime: timeOfDay(wh.StartTime), EndTime: timeOfDay(wh.EndTime)}
		if wh.TimeZone != nil {
			out.WorkingHours.TimeZone = wh.TimeZone.Name
		}
	}
	if ar := g.AutomaticReplies; ar != nil {
		out.AutomaticReplies = domain.AutomaticReplies{Status: domain.AutomaticRepliesStatus(ar.Status), ExternalAudience: ar.ExternalAudience}
		// The scheduled times are only meaningful for a scheduled status;
		// Graph reports stale ones otherwise.
		if out.AutomaticReplies.Status == domain.AutoRepliesScheduled {
			out.AutomaticReplies.ScheduledStart = ar.ScheduledStart.time()
			out.AutomaticReplies.ScheduledEnd = ar.ScheduledEnd.time()
		}
	}
	return out, nil
}

// timeOfDay trims Graph's "08:00:00.0000000" to "08:00:00".
func timeOfDay(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return s[:i]
	}
	return s
}
