package graphclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"errors"
	"fmt"
	gojson "github.com/goccy/go-json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

// The sync's reads go through the SDK's own pipeline — azidentity's token
// provider, kiota's retry/Retry-After and compression middleware, the
// allowed-hosts check — but come back as raw JSON that is decoded into lean
// types here: kiota's model parsing of a 1,000-message page costs ~97 ms and
// ~35 MB, five times a lean decode (DESIGN.md, "Where sync's CPU goes").

// maxPageSize is what the sync asks for with Prefer: odata.maxpagesize; Graph
// caps message delta pages below it on its own terms.
const maxPageSize = 1000

// session is one tenant's Graph connection for sync: one credential whose
// token cache every call shares, one request adapter.
type session struct {
	tenant  string
	user    string // a delegated session's signed-in user (object ID)
	adapter *msgraphsdk.GraphRequestAdapter
	limits  *mailboxLimits
}

// root is a mailbox's path in this session: /me for the signed-in user's.
func (s *session) root(mailbox string) string {
	return mailboxRoot(activities.Credentials{User: s.user}, mailbox)
}

// sessions caches a session per tenant credential. A rotated secret or
// certificate gets a new key (its hash is part of it), so the old session
// is simply not used again.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func (c *Client) session(creds activities.Credentials) (*session, error) {
	h := sha256.New()
	h.Write([]byte(creds.ClientSecret))
	// A replaced certificate file (or its password) is a new session too.
	h.Write([]byte{0})
	h.Write(creds.Certificate)
	h.Write([]byte{0})
	h.Write([]byte(creds.CertificatePassword))
	if creds.SendCertificateChain {
		h.Write([]byte{1})
	}
	key := creds.TenantID + "\x00" + creds.ClientID + "\x00" + hex.EncodeToString(h.Sum(nil)[:8])
	if creds.Token != nil {
		// A delegated user's session: one per credential the user
		// directory hands out (it keeps one per user and sign-in).
		key += fmt.Sprintf("\x00%s\x00%p", creds.User, creds.Token)
	}
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	if s, ok := c.sessions.m[key]; ok {
		return s, nil
	}
	cred, err := c.credential(creds)
	if err != nil {
		return nil, err
	}
	adapter, err := c.adapter(cred)
	if err != nil {
		return nil, err
	}
	if c.sessions.m == nil {
		c.sessions.m = map[string]*session{}
	}
	s := &session{tenant: creds.TenantID, user: creds.User, adapter: adapter, limits: &c.limits}
	c.sessions.m[key] = s
	return s, nil
}

// adapter builds a request adapter that authenticates with cred.
func (c *Client) adapter(cred azcore.TokenCredential) (*msgraphsdk.GraphRequestAdapter, error) {
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{c.cloud.GraphScope}, c.cloud.AllowedHosts)
	if err != nil {
		return nil, fmt.Errorf("graph client: auth provider: %w", err)
	}
	// Our own JSON parse-node registry: the package-wide default is only
	// filled by NewGraphServiceClient (racily, see graphService), and error
	// bodies must parse into ODataError whether or not one was built.
	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = jsonserialization.NewJsonParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonserialization.NewJsonSerializationWriterFactory()
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, parsers, writers, c.graphHTTP)
	if err != nil {
		return nil, fmt.Errorf("graph client: request adapter: %w", err)
	}
	// Must precede a service client, which copies the base URL.
	adapter.SetBaseUrl(strings.TrimSuffix(c.cloud.GraphBaseURL, "/"))
	return adapter, nil
}

func (s *session) limitKey(mailbox string) string {
	if mailbox == "" {
		return ""
	}
	return s.tenant + "/" + strings.ToLower(mailbox)
}

var _ activities.SyncGraph = (*Client)(nil)

var errorMapping = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// getJSON GETs an absolute Graph URL (a first-call URL, or a next/delta link
// replayed as given) and returns the body. mailbox names the mailbox the
// request counts against ("" for tenant-wide resources such as users).
func (s *session) getJSON(ctx context.Context, mailbox, rawURL string) ([]byte, error) {
	return s.sendJSON(ctx, mailbox, 1, abstractions.GET, rawURL, nil)
}

// sendJSON sends a request that is safe to repeat (a GET, or a $batch of
// GETs) and returns the body. requests is how many Graph requests it
// carries (a $batch's items) for the mailbox's limits.
func (s *session) sendJSON(ctx context.Context, mailbox string, requests int, method abstractions.HttpMethod, rawURL string, body []byte) ([]byte, error) {
	// kiota retries 429 and 5xx itself; a dropped connection it does not.
	// These requests are safe to repeat, so a few quick retries here save
	// the whole batch a Temporal retry for one reset.
	for attempt := 0; ; attempt++ {
		out, err := s.sendOnce(ctx, mailbox, requests, method, rawURL, body)
		var ge *activities.GraphError
		if err == nil || attempt == networkRetries || !errors.As(err, &ge) || ge.Kind != activities.KindUnavailable || ge.Status != 0 {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
		}
	}
}

// networkRetries is how often a request that lost its connection is repeated.
const networkRetries = 3

func (s *session) sendOnce(ctx context.Context, mailbox string, requests int, method abstractions.HttpMethod, rawURL string, body []byte) ([]byte, error) {
	release, err := s.limits.acquire(ctx, s.limitKey(mailbox), requests)
	if err != nil {
		return nil, err
	}
	defer release()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &activities.GraphError{Kind: activities.KindBadRequest, Message: "malformed link: " + err.Error()}
	}
	ri := abstractions.NewRequestInformation()
	ri.Method = method
	ri.SetUri(*u)
	ri.Headers.Add("Accept", "application/json")
	if body != nil {
		ri.SetStreamContentAndContentType(body, "application/json")
	} else {
		ri.Headers.Add("Prefer", "odata.maxpagesize="+strconv.Itoa(maxPageSize))
	}
	out, err := s.adapter.SendPrimitive(ctx, ri, "[]byte", errorMapping)
	if err != nil {
		return nil, Classify(err)
	}
	b, _ := out.([]byte)
	return b, nil
}

// page is the envelope of every Graph collection and delta page.
type page[T any] struct {
	Value     []T    `json:"value"`
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
}

func decodePage[T any](body []byte, what string) (page[T], error) {
	var p page[T]
	if err := gojson.Unmarshal(body, &p); err != nil {
		return p, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s: the page is not valid JSON: %v", what, err)}
	}
	if p.NextLink == "" && p.DeltaLink == "" && p.Value == nil {
		return p, &activities.GraphError{Kind: activities.KindMalformed, Message: what + ": the page has neither value nor a next or delta link"}
	}
	return p, nil
}

type removed struct {
	Reason string `json:"reason"`
}

// itemMeta is what every collection and delta item carries besides its
// properties.
type itemMeta struct {
	ODataType string   `json:"@odata.type"`
	ID        string   `json:"id"`
	Removed   *removed `json:"@removed"`
}

func (m *itemMeta) meta() *itemMeta { return m }

// decodeDelta decodes a delta page of items of one kind: every item must
// have an id and one of types (or no type); removals are collected, the
// rest converted (convert may refuse an item, naming it by index).
func decodeDelta[G any, PG interface {
	*G
	meta() *itemMeta
}, D any](body []byte, what string, types []string, convert func(i int, g *G) (D, error)) (activities.DeltaPage[D], error) {
	p, err := decodePage[G](body, what)
	if err != nil {
		return activities.DeltaPage[D]{}, err
	}
	out := activities.DeltaPage[D]{NextLink: p.NextLink, DeltaLink: p.DeltaLink}
	for i := range p.Value {
		m := PG(&p.Value[i]).meta()
		if m.ID == "" {
			return out, malformedItem(what, i, "has no id")
		}
		if err := checkType(m.ODataType, types, what, i); err != nil {
			return out, err
		}
		if m.Removed != nil {
			out.Removed = append(out.Removed, m.ID)
			continue
		}
		d, err := convert(i, &p.Value[i])
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, d)
	}
	return out, nil
}

type graphEmail struct {
	EmailAddress struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

func (r *graphEmail) domain() domain.EmailAddress {
	if r == nil {
		return domain.EmailAddress{}
	}
	return domain.EmailAddress{Name: r.EmailAddress.Name, Address: r.EmailAddress.Address}
}

func emails(rs []graphEmail) []domain.EmailAddress {
	if len(rs) == 0 {
		return nil
	}
	out := make([]domain.EmailAddress, len(rs))
	for i := range rs {
		out[i] = rs[i].domain()
	}
	return out
}

// --- users -----------------------------------------------------------------

// Selecting manager makes users delta report manager@delta: the manager
// chain arrives with the users, without a request per user.
const userSelect = "id,displayName,mail,userPrincipalName,accountEnabled,jobTitle,department,manager"

type graphUser struct {
	itemMeta
	DisplayName       string `json:"displayName"`
	Mail              string `json:"mail"`
	UserPrincipalName string `json:"userPrincipalName"`
	AccountEnabled    *bool  `json:"accountEnabled"`
	JobTitle          string `json:"jobTitle"`
	Department        string `json:"department"`
	// ManagerDelta is present only when the manager link is reported:
	// one entry with the manager's id, "@removed" when it was unset.
	ManagerDelta []struct {
		ID      string   `json:"id"`
		Removed *removed `json:"@removed"`
	} `json:"manager@delta"`
}

// UsersDelta reads one page of users delta: link is the saved next or delta
// link, "" to start a full round.
func (c *Client) UsersDelta(ctx context.Context, creds activities.Credentials, link string) (activities.UsersDeltaPage, error) {
	s, err := c.session(creds)
	if err != nil {
		return activities.UsersDeltaPage{}, err
	}
	if link == "" {
		link = c.graphURL("/users/delta", url.Values{"$select": {userSelect}})
	}
	body, err := s.getJSON(ctx, "", link)
	if err != nil {
		return activities.UsersDeltaPage{}, err
	}
	p, err := decodePage[graphUser](body, "users delta")
	if err != nil {
		return activities.UsersDeltaPage{}, err
	}
	out := activities.UsersDeltaPage{NextLink: p.NextLink, DeltaLink: p.DeltaLink, Managers: map[string]string{}}
	for i, u := range p.Value {
		if u.ID == "" {
			return out, malformedItem("users delta", i, "has no id")
		}
		if err := checkType(u.ODataType, []string{"#microsoft.graph.user"}, "users delta", i); err != nil {
			return out, err
		}
		if u.Removed != nil {
			out.Removed = append(out.Removed, u.ID)
			continue
		}
		for _, m := range u.ManagerDelta {
			if m.Removed != nil {
				out.Managers[u.ID] = ""
			} else {
				out.Managers[u.ID] = m.ID
			}
		}
		enabled := u.AccountEnabled == nil || *u.AccountEnabled
		out.Users = append(out.Users, domain.User{
			ID: u.ID, UserPrincipalName: u.UserPrincipalName, Mail: u.Mail, DisplayName: u.DisplayName,
			JobTitle: u.JobTitle, Department: u.Department, AccountEnabled: enabled,
			// A user without a mail address has no Exchange mailbox to sync.
			HasMailbox: u.Mail != "",
		})
	}
	return out, nil
}

// --- mail folders ----------------------------------------------------------

// wellKnownName is not a v1.0 mailFolder property (only beta has it);
// WellKnownFolders resolves the names instead.
const folderSelect = "id,displayName,parentFolderId,totalItemCount,unreadItemCount"

type graphFolder struct {
	itemMeta
	DisplayName     string `json:"displayName"`
	ParentFolderID  string `json:"parentFolderId"`
	TotalItemCount  int    `json:"totalItemCount"`
	UnreadItemCount int    `json:"unreadItemCount"`
}

// --- messages --------------------------------------------------------------

const messageMetadata = "id,parentFolderId,conversationId,internetMessageId,from,sender,toRecipients,ccRecipients,bccRecipients," +
	"subject,receivedDateTime,sentDateTime,importance,isRead,isDraft,flag,categories,hasAttachments"

type graphDateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

func (d *graphDateTimeTimeZone) time() time.Time {
	if d == nil || d.DateTime == "" {
		return time.Time{}
	}
	loc := time.UTC
	if d.TimeZone != "" && d.TimeZone != "UTC" {
		if l, err := time.LoadLocation(d.TimeZone); err == nil {
			loc = l
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.9999999", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, d.DateTime, loc); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

type graphMessage struct {
	itemMeta
	ParentFolderID    string        `json:"parentFolderId"`
	ConversationID    string        `json:"conversationId"`
	InternetMessageID string        `json:"internetMessageId"`
	From              *graphEmail   `json:"from"`
	Sender            *graphEmail   `json:"sender"`
	To                []graphEmail  `json:"toRecipients"`
	Cc                []graphEmail  `json:"ccRecipients"`
	Bcc               []graphEmail  `json:"bccRecipients"`
	Subject           *string       `json:"subject"`
	ReceivedDateTime  *time.Time    `json:"receivedDateTime"`
	SentDateTime      *time.Time    `json:"sentDateTime"`
	Importance        string        `json:"importance"`
	IsRead            *bool         `json:"isRead"`
	IsDraft           bool          `json:"isDraft"`
	Flag              *graphFlag    `json:"flag"`
	Categories        []string      `json:"categories"`
	HasAttachments    bool          `json:"hasAttachments"`
	Body              *graphMsgBody `json:"body"`
}

type graphFlag struct {
	FlagStatus        string                 `json:"flagStatus"`
	DueDateTime       *graphDateTimeTimeZone `json:"dueDateTime"`
	CompletedDateTime *graphDateTimeTimeZone `json:"completedDateTime"`
}

type graphMsgBody struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

// complete reports whether an item carries what the store keeps. Graph may
// send an update with only the changed properties; such an item is fetched
// whole rather than stored half empty.
func (m *graphMessage) complete() bool {
	return m.Subject != nil && m.ReceivedDateTime != nil && m.IsRead != nil && m.Flag != nil
}

func (m *graphMessage) domain(mailbox, folderID string) domain.Message {
	out := domain.Message{
		ID: m.ID, Mailbox: mailbox, FolderID: folderID, ConversationID: m.ConversationID, InternetMessageID: m.InternetMessageID,
		From: m.From.domain(), Sender: m.Sender.domain(), To: emails(m.To), Cc: emails(m.Cc), Bcc: emails(m.Bcc),
		Importance: domain.Importance(m.Importance), IsDraft: m.IsDraft, Categories: m.Categories, HasAttachments: m.HasAttachments,
	}
	if m.Subject != nil {
		out.Subject = *m.Subject
	}
	if m.ReceivedDateTime != nil {
		out.ReceivedAt = m.ReceivedDateTime.UTC()
	}
	if m.SentDateTime != nil {
		out.SentAt = m.SentDateTime.UTC()
	}
	if m.IsRead != nil {
		out.IsRead = *m.IsRead
	}
	if m.Flag != nil {
		out.Flag = domain.Flag{Status: domain.FlagStatus(m.Flag.FlagStatus), DueAt: m.Flag.DueDateTime.time(), CompletedAt: m.Flag.CompletedDateTime.time()}
	}
	if m.Body != nil {
		out.Body = &domain.MessageBody{ContentType: m.Body.ContentType, Content: m.Body.Content}
	}
	return out
}

// messagesDeltaURL starts a folder's message delta. With bodies, the body
// is requested too (it needs Mail.Read; metadata alone works with
// Mail.ReadBasic.All).
func (c *Client) messagesDeltaURL(root, folderID string, bodies bool) string {
	return c.graphURL(root+"/mailFolders/"+url.PathEscape(folderID)+"/messages/delta", url.Values{"$select": {messageSelect(bodies)}})
}

func messageSelect(bodies bool) string {
	if bodies {
		return messageMetadata + ",body"
	}
	return messageMetadata
}

// decodeMessages decodes a page of a folder's message delta. An item that
// came partial is fetched whole (with the body if the page carried bodies).
func (c *Client) decodeMessages(ctx context.Context, s *session, body []byte, mailbox, folderID string) (activities.MessagesDeltaPage, error) {
	what := fmt.Sprintf("message delta of mailbox %s folder %s", mailbox, folderID)
	return decodeDelta(body, what, messageTypes, func(_ int, m *graphMessage) (domain.Message, error) {
		if !m.complete() {
			full, err := c.message(ctx, s, mailbox, m.ID, messageSelect(m.Body != nil))
			if err != nil {
				return domain.Message{}, err
			}
			m = full
		}
		return m.domain(mailbox, folderID), nil
	})
}

// message fetches one message whole, for a delta item that came partial.
func (c *Client) message(ctx context.Context, s *session, mailbox, id, sel string) (*graphMessage, error) {
	body, err := s.getJSON(ctx, mailbox, c.graphURL(s.root(mailbox)+"/messages/"+url.PathEscape(id), url.Values{"$select": {sel}}))
	if err != nil {
		return nil, err
	}
	var m graphMessage
	if err := json.Unmarshal(body, &m); err != nil || m.ID == "" {
		return nil, &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("message %s of mailbox %s: not a message", id, mailbox)}
	}
	return &m, nil
}

// graphURL joins the configured Graph base URL, a path and query options.
func (c *Client) graphURL(path string, q url.Values) string {
	u := strings.TrimSuffix(c.cloud.GraphBaseURL, "/") + path
	if len(q) > 0 {
		// Graph wants $select, not %24select, in what it documents; both work.
		u += "?" + strings.ReplaceAll(q.Encode(), "%24", "$")
	}
	return u
}

func malformedItem(what string, i int, problem string) error {
	return &activities.GraphError{Kind: activities.KindMalformed, Message: fmt.Sprintf("%s: item %d %s", what, i, problem)}
}

// messageTypes are the types a mail folder holds: messages and their
// subtypes (meeting requests and responses, calendar sharing invitations).
var messageTypes = []string{
	"#microsoft.graph.message", "#microsoft.graph.eventMessage", "#microsoft.graph.eventMessageRequest",
	"#microsoft.graph.eventMessageResponse", "#microsoft.graph.calendarSharingMessage",
}

// checkType refuses items of a type the page cannot hold; an absent type is
// fine (Graph omits it outside delta).
func checkType(got string, want []string, what string, i int) error {
	if got == "" {
		return nil
	}
	for _, w := range want {
		if strings.EqualFold(got, w) {
			return nil
		}
	}
	return malformedItem(what, i, fmt.Sprintf("has @odata.type %q, want one of %v", got, want))
}
