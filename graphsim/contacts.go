package graphsim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Personal contacts (api/user-list-contacts.md, api/contact-get.md,
// api/user-list-contactfolders.md, api/contact-delta.md; permissions
// Contacts.Read or Contacts.ReadWrite, §8, else 403 ErrorAccessDenied):
//
//	GET /users/{id}/contacts[/{id}]                    the default Contacts folder
//	GET /users/{id}/contactFolders[/{id}]              folders under the default one; {id} may be the default folder's
//	GET /users/{id}/contactFolders/{id}/contacts[/{id}]
//	GET /users/{id}/contactFolders/{id}/contacts/delta (documented; also delta())
//	GET /users/{id}/contacts/delta                     (undocumented, but msgraph-sdk-go has a builder for it
//	                                                    and the service answers it: the default folder)
//
// Lists are 10 a page by default, $top 1-1000, $skip nextLinks, $select
// (plus id and @odata.etag). Delta works as the message delta does (S19-S22):
// Prefer: odata.maxpagesize pages (default 10), $select from the first call
// kept in the links, @removed for contacts deleted after a deltaLink, and
// SyncStateNotFound for unknown, expired or completed-round tokens.
// Writes and the singleValueExtendedProperties $filter and $expand forms
// are in contacts_write.go; other $filter forms (such as the doc's
// emailAddresses/any), $orderby, $search, other $expand and $count answer
// 501, as do childFolders and contactFolders/delta.

var permContactsRead = []string{"Contacts.Read", "Contacts.ReadWrite"}

type contact struct {
	id, folderID                                           string
	givenName, surname, displayName, companyName, jobTitle string
	department, mobilePhone, officeLocation, personalNotes string
	emails                                                 []recipient
	businessPhones, homePhones, categories                 []string
	createdAt, modifiedAt                                  time.Time
	changeVersion                                          int
	createdSeq, changedSeq                                 int

	extra    map[string]any // other writable properties set over Graph (contacts_write.go)
	extProps []extProp      // singleValueExtendedProperties
}

type contactFolder struct {
	id, parentID, display string
	createdSeq            int
}

// ContactSeed is a personal contact. Folder is "" (the default Contacts
// folder), a contact folder id, or a custom contact folder's display name.
type ContactSeed struct {
	ID             string   `json:"id,omitempty"` // derived deterministically when empty
	Folder         string   `json:"folder,omitempty"`
	GivenName      string   `json:"givenName,omitempty"`
	Surname        string   `json:"surname,omitempty"`
	DisplayName    string   `json:"displayName,omitempty"` // default "GivenName Surname"
	Emails         []string `json:"emails,omitempty"`
	CompanyName    string   `json:"companyName,omitempty"`
	JobTitle       string   `json:"jobTitle,omitempty"`
	Department     string   `json:"department,omitempty"`
	OfficeLocation string   `json:"officeLocation,omitempty"`
	MobilePhone    string   `json:"mobilePhone,omitempty"`
	BusinessPhones []string `json:"businessPhones,omitempty"`
	HomePhones     []string `json:"homePhones,omitempty"`
	Categories     []string `json:"categories,omitempty"`
	PersonalNotes  string   `json:"personalNotes,omitempty"`
}

// ContactUpdate changes a contact in place; nil fields stay.
type ContactUpdate struct {
	GivenName      *string   `json:"givenName,omitempty"`
	Surname        *string   `json:"surname,omitempty"`
	DisplayName    *string   `json:"displayName,omitempty"`
	Emails         *[]string `json:"emails,omitempty"`
	CompanyName    *string   `json:"companyName,omitempty"`
	JobTitle       *string   `json:"jobTitle,omitempty"`
	MobilePhone    *string   `json:"mobilePhone,omitempty"`
	BusinessPhones *[]string `json:"businessPhones,omitempty"`
	Categories     *[]string `json:"categories,omitempty"`
}

func (u *user) contactFolderByKey(key string) *contactFolder {
	if key == "" || key == u.contactFolderID {
		return &contactFolder{id: u.contactFolderID, display: "Contacts", parentID: u.rootID}
	}
	for _, f := range u.contactFolders {
		if f.id == key {
			return f
		}
	}
	return nil
}

func (u *user) contactFolderBySeedKey(key string) *contactFolder {
	if f := u.contactFolderByKey(key); f != nil {
		return f
	}
	if strings.EqualFold(key, "contacts") {
		return u.contactFolderByKey("")
	}
	for _, f := range u.contactFolders {
		if strings.EqualFold(f.display, key) {
			return f
		}
	}
	return nil
}

func (u *user) contactByID(id string) *contact {
	for _, c := range u.contacts {
		if c.id == id {
			return c
		}
	}
	return nil
}

// addContactFolder creates a custom contact folder under the default one.
func (t *tenant) addContactFolder(u *user, name string, seq int) (*contactFolder, error) {
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("contact folder without a display name")
	}
	for _, f := range u.contactFolders {
		if strings.EqualFold(f.display, name) {
			return nil, fmt.Errorf("contact folder %q already exists", name)
		}
	}
	f := &contactFolder{id: outlookID("contactfolder", t.id, u.id, "custom", strings.ToLower(name)), parentID: u.contactFolderID, display: name, createdSeq: seq}
	u.contactFolders = append(u.contactFolders, f)
	return f, nil
}

// addContact adds a contact; key derives its id when cs.ID is empty.
func (t *tenant) addContact(u *user, cs ContactSeed, key string, seq int) (*contact, error) {
	f := u.contactFolderBySeedKey(cs.Folder)
	if f == nil {
		return nil, fmt.Errorf("unknown contact folder %q", cs.Folder)
	}
	id := cs.ID
	if id == "" {
		id = outlookID("contact", t.id, u.id, key)
	}
	if u.contactByID(id) != nil {
		return nil, fmt.Errorf("duplicate contact id %q", id)
	}
	now := timeNow()
	if seq == 0 {
		now = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	}
	c := &contact{
		id: id, folderID: f.id, givenName: cs.GivenName, surname: cs.Surname, displayName: cs.DisplayName,
		companyName: cs.CompanyName, jobTitle: cs.JobTitle, department: cs.Department, officeLocation: cs.OfficeLocation,
		mobilePhone: cs.MobilePhone, personalNotes: cs.PersonalNotes,
		businessPhones: append([]string{}, cs.BusinessPhones...), homePhones: append([]string{}, cs.HomePhones...),
		categories: append([]string{}, cs.Categories...), createdAt: now, modifiedAt: now, createdSeq: seq,
	}
	if c.displayName == "" {
		c.displayName = strings.TrimSpace(cs.GivenName + " " + cs.Surname)
	}
	for _, e := range cs.Emails {
		c.emails = append(c.emails, recipient{Name: c.displayName, Address: e})
	}
	u.contacts = append(u.contacts, c)
	return c, nil
}

// contactProps is the contact property order of api/contact-get.md.
var contactProps = []string{
	"createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "parentFolderId", "birthday", "fileAs",
	"displayName", "givenName", "initials", "middleName", "nickName", "surname", "title", "yomiGivenName",
	"yomiSurname", "yomiCompanyName", "generation", "imAddresses", "jobTitle", "companyName", "department",
	"officeLocation", "profession", "businessHomePage", "assistantName", "manager", "homePhones", "mobilePhone",
	"businessPhones", "spouseName", "personalNotes", "children", "emailAddresses", "homeAddress",
	"businessAddress", "otherAddress",
}

var contactSelectable = append(append([]string(nil), contactProps...), "id")

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (c *contact) changeKey() string {
	return (&message{id: c.id, changeVersion: c.changeVersion}).changeKey()
}

func contactValue(c *contact, p string) any {
	if v, ok := c.extra[p]; ok {
		return v
	}
	switch p {
	case "createdDateTime":
		return graphTime(c.createdAt)
	case "lastModifiedDateTime":
		return graphTime(c.modifiedAt)
	case "changeKey":
		return c.changeKey()
	case "categories":
		return nonNil(c.categories)
	case "parentFolderId":
		return c.folderID
	case "fileAs":
		if c.surname != "" && c.givenName != "" {
			return c.surname + ", " + c.givenName
		}
		return c.displayName
	case "displayName":
		return c.displayName
	case "givenName":
		return nullIfEmpty(c.givenName)
	case "surname":
		return nullIfEmpty(c.surname)
	case "jobTitle":
		return nullIfEmpty(c.jobTitle)
	case "companyName":
		return nullIfEmpty(c.companyName)
	case "department":
		return nullIfEmpty(c.department)
	case "officeLocation":
		return nullIfEmpty(c.officeLocation)
	case "mobilePhone":
		return nullIfEmpty(c.mobilePhone)
	case "personalNotes":
		return c.personalNotes
	case "imAddresses", "children":
		return []string{}
	case "homePhones":
		return nonNil(c.homePhones)
	case "businessPhones":
		return nonNil(c.businessPhones)
	case "emailAddresses":
		out := make([]object, 0, len(c.emails))
		for _, e := range c.emails {
			out = append(out, object{{"name", e.Name}, {"address", e.Address}})
		}
		return out
	case "homeAddress", "businessAddress", "otherAddress":
		return object{}
	}
	return nil // birthday, initials, middleName, nickName, title, yomi*, generation, profession, ...
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func contactJSON(c *contact, props []string) object {
	o := object{{"@odata.etag", `W/"` + c.changeKey() + `"`}, {"id", c.id}}
	for _, p := range contactProps {
		if len(props) > 0 && !containsString(props, p) {
			continue
		}
		o = append(o, kv{p, contactValue(c, p)})
	}
	return o
}

func contactFolderJSON(f *contactFolder) object {
	return object{{"id", f.id}, {"displayName", f.display}, {"parentFolderId", f.parentID}}
}

// routeContacts routes /users/{id}/contacts... and /users/{id}/contactFolders...
func (s *Server) routeContacts(g *graphRequest) {
	segs := g.segs[2:]
	if strings.EqualFold(segs[0], "contacts") {
		s.contactsUnder(g, "", segs[1:])
		return
	}
	rest := segs[1:]
	switch {
	case len(rest) == 0:
		if g.method(http.MethodGet) {
			s.listContactFolders(g)
		}
	case isDelta(rest[0]):
		errNotSimulated(g.w, g.r, "/users/{id}/contactFolders/delta")
	case len(rest) == 1:
		if g.method(http.MethodGet) {
			s.getContactFolder(g, rest[0])
		}
	case strings.EqualFold(rest[1], "contacts"):
		s.contactsUnder(g, rest[0], rest[2:])
	default:
		errNotSimulated(g.w, g.r, "/users/{id}/contactFolders/{id}/"+strings.Join(rest[1:], "/"))
	}
}

func (s *Server) contactsUnder(g *graphRequest, folderKey string, rest []string) {
	switch {
	case len(rest) == 0:
		if g.r.Method == http.MethodPost {
			s.createContactGraph(g, folderKey)
			return
		}
		if g.method(http.MethodGet) {
			s.listContacts(g, folderKey)
		}
	case len(rest) == 1 && isDelta(rest[0]):
		if g.method(http.MethodGet) {
			s.contactsDelta(g, folderKey)
		}
	case len(rest) == 1:
		switch g.r.Method {
		case http.MethodPatch:
			s.patchContactGraph(g, folderKey, rest[0])
		case http.MethodDelete:
			s.deleteContactGraph(g, folderKey, rest[0])
		default:
			if g.method(http.MethodGet) {
				s.getContact(g, folderKey, rest[0])
			}
		}
	default:
		errNotSimulated(g.w, g.r, graphRoute(g.segs))
	}
}

// lockContacts checks the permission and resolves the mailbox and contact
// folder ("" = default); on success s.mu is held.
func (s *Server) lockContacts(g *graphRequest, folderKey string) (*user, *contactFolder, bool) {
	if !g.p.has(permContactsRead...) {
		errMailDenied(g.w, g.r)
		return nil, nil, false
	}
	u, _, ok := s.lockMailbox(g, "")
	if !ok {
		return nil, nil, false
	}
	f := u.contactFolderByKey(folderKey)
	if f == nil {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, folderKey)
		return nil, nil, false
	}
	return u, f, true
}

// lockContact resolves the mailbox and folder with lock (lockContacts for a
// read, lockContactsWrite for a write) and then the contact id names, which
// must be in that folder when the path names one (folderKey != ""). On
// success s.mu is held; on failure it is released and the error written.
func (s *Server) lockContact(g *graphRequest, folderKey, id string, lock func(*graphRequest, string) (*user, *contactFolder, bool)) (*contact, bool) {
	u, f, ok := lock(g, folderKey)
	if !ok {
		return nil, false
	}
	c := u.contactByID(id)
	if c == nil || (folderKey != "" && c.folderID != f.id) {
		s.mu.Unlock()
		errItemNotFoundOrMalformed(g, id)
		return nil, false
	}
	return c, true
}

func selectContactProps(g *graphRequest) ([]string, bool) {
	props, bad := canonicalProps(g.q.selects, contactSelectable)
	if bad != "" {
		errBadRequest(g.w, g.r, "RequestBroker--ParseUri", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.contact'.", bad))
		return nil, false
	}
	return props, true
}

func (s *Server) listContacts(g *graphRequest, folderKey string) {
	w, r, q := g.w, g.r, g.q
	if q.orderBy != "" || q.search != "" || q.count != "" {
		errNotSimulated(w, r, "$orderby, $search and $count on contacts")
		return
	}
	var match func(*contact) bool
	if q.filter != "" {
		f, ok := parseExtPropFilter(q.filter)
		if !ok {
			errNotSimulated(w, r, "$filter other than singleValueExtendedProperties/any(ep: ep/id eq '...' [and ep/value eq|ne '...' | contains|startswith(ep/value, '...')]) on contacts")
			return
		}
		match = f.match
	}
	expand, ok := parseExtPropExpand(g)
	if !ok {
		return
	}
	top, ok := pageTop(g)
	if !ok {
		return
	}
	props, ok := selectContactProps(g)
	if !ok {
		return
	}
	u, f, ok := s.lockContacts(g, folderKey)
	if !ok {
		return
	}
	var all []*contact
	for _, c := range u.contacts {
		if c.folderID == f.id && (match == nil || match(c)) {
			all = append(all, c)
		}
	}
	start := min(q.skip, len(all))
	end := min(start+top, len(all))
	value := make([]object, 0, end-start)
	for _, c := range all[start:end] {
		value = append(value, withExtProps(contactJSON(c, props), c, expand))
	}
	s.mu.Unlock()
	ctx := fmt.Sprintf("users('%s')", g.userKey())
	if folderKey != "" {
		ctx += fmt.Sprintf("/contactFolders('%s')", folderKey)
	}
	body := object{{"@odata.context", contextURL(r, ctx+"/contacts"+selectSuffix(props))}, {"value", value}}
	if end < len(all) {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skip", strconv.Itoa(end)}})})
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

func (s *Server) getContact(g *graphRequest, folderKey, id string) {
	w, r := g.w, g.r
	expand, ok := parseExtPropExpand(g)
	if !ok {
		return
	}
	props, ok := selectContactProps(g)
	if !ok {
		return
	}
	c, ok := s.lockContact(g, folderKey, id, s.lockContacts)
	if !ok {
		return
	}
	entity := withExtProps(contactJSON(c, props), c, expand)
	s.mu.Unlock()
	ctx := fmt.Sprintf("users('%s')/contacts%s/$entity", g.userKey(), selectSuffix(props))
	writeGraphJSON(w, r, http.StatusOK, append(object{{"@odata.context", contextURL(r, ctx)}}, entity...))
}

func (s *Server) listContactFolders(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	if q.filter != "" || q.orderBy != "" || q.search != "" || q.expand != "" || q.count != "" || q.hasSelect {
		errNotSimulated(w, r, "query options on contactFolders")
		return
	}
	top, ok := pageTop(g)
	if !ok {
		return
	}
	u, _, ok := s.lockContacts(g, "")
	if !ok {
		return
	}
	all := u.contactFolders
	start := min(q.skip, len(all))
	end := min(start+top, len(all))
	value := make([]object, 0, end-start)
	for _, f := range all[start:end] {
		value = append(value, contactFolderJSON(f))
	}
	s.mu.Unlock()
	body := object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/contactFolders", g.userKey()))}, {"value", value}}
	if end < len(all) {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skip", strconv.Itoa(end)}})})
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

func (s *Server) getContactFolder(g *graphRequest, key string) {
	w, r, q := g.w, g.r, g.q
	if q.hasSelect || q.expand != "" {
		errNotSimulated(w, r, "$select and $expand on a contact folder")
		return
	}
	_, f, ok := s.lockContacts(g, key)
	if !ok {
		return
	}
	entity := contactFolderJSON(f)
	s.mu.Unlock()
	writeGraphJSON(w, r, http.StatusOK, append(object{{"@odata.context", contextURL(r, fmt.Sprintf("users('%s')/contactFolders/$entity", g.userKey()))}}, entity...))
}

func (s *Server) contactsDelta(g *graphRequest, folderKey string) {
	w, r, q := g.w, g.r, g.q
	first := deltaParams{kind: deltaContacts}
	if !q.hasSkipToken && !(q.hasDeltaToken && !strings.EqualFold(q.deltaToken, "latest")) {
		if q.filter != "" || q.orderBy != "" || q.search != "" || q.expand != "" || q.hasTop || q.hasSkip || q.count != "" {
			errNotSimulated(w, r, "$filter, $orderby, $search, $expand, $top, $skip and $count on contact delta")
			return
		}
		props, ok := selectContactProps(g)
		if !ok {
			return
		}
		first.props = props
	}
	pageSize, sizeApplied := preferredMaxPageSize(r)
	u, f, ok := s.lockContacts(g, folderKey)
	if !ok {
		return
	}
	first.userID, first.folderID = u.id, f.id
	round, offset, ok := s.deltaStart(g, first, func(p deltaParams, since int) []deltaEntry {
		return contactsChangedSince(u, f.id, since)
	})
	if !ok {
		s.mu.Unlock()
		return
	}
	page, skip, delta := s.deltaPage(g.p.tenant, round, offset, pageSize)
	value := make([]object, 0, len(page))
	for _, e := range page {
		c := u.contactByID(e.id)
		if e.removed || c == nil || c.folderID != f.id {
			value = append(value, object{{"@odata.type", "#microsoft.graph.contact"}, {"id", e.id}, {"@removed", object{{"reason", "deleted"}}}})
			continue
		}
		value = append(value, append(object{{"@odata.type", "#microsoft.graph.contact"}}, contactJSON(c, round.params.props)...))
	}
	s.mu.Unlock()
	base := "https://" + r.Host + "/v1.0/"
	if g.me {
		base += "me"
	} else {
		base += "users/" + url.PathEscape(g.userKey())
	}
	if folderKey != "" {
		base += "/contactFolders('" + url.PathEscape(folderKey) + "')"
	}
	base += "/contacts/delta"
	body := object{{"@odata.context", contextURL(r, "Collection(contact)")}}
	if skip != "" {
		body = append(body, kv{"@odata.nextLink", base + "?$skiptoken=" + skip})
	} else {
		body = append(body, kv{"@odata.deltaLink", base + "?$deltatoken=" + delta})
	}
	body = append(body, kv{"value", value})
	if sizeApplied {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	writeGraphJSON(w, r, http.StatusOK, body)
}

// contactsChangedSince lists a folder's contacts for a delta round: every
// current one (since < 0), or those created or changed after since and
// those deleted after since that existed at since.
func contactsChangedSince(u *user, folderID string, since int) []deltaEntry {
	var out []deltaEntry
	for _, c := range u.contacts {
		if c.folderID != folderID {
			continue
		}
		if since < 0 || c.createdSeq > since || c.changedSeq > since {
			out = append(out, deltaEntry{id: c.id})
		}
	}
	if since < 0 {
		return out
	}
	for _, tb := range u.contactTombs {
		if tb.folderID == folderID && tb.seq > since && tb.addedSeq <= since {
			out = append(out, deltaEntry{id: tb.id, removed: true})
		}
	}
	return out
}

// CreateContact adds a contact to a user's contacts; it returns its id.
func (s *Server) CreateContact(tenantID, userIDOrUPN string, cs ContactSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return "", err
	}
	t.seq++
	c, err := t.addContact(u, cs, "created-"+strconv.Itoa(t.seq), t.nextChange())
	if err != nil {
		return "", fmt.Errorf("graphsim: %w", err)
	}
	return c.id, nil
}

// UpdateContact changes a contact in place; delta links report it updated.
func (s *Server) UpdateContact(tenantID, userIDOrUPN, contactID string, up ContactUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return err
	}
	c := u.contactByID(contactID)
	if c == nil {
		return fmt.Errorf("%w: contact %q", ErrNotFound, contactID)
	}
	setIfGiven(&c.givenName, up.GivenName)
	setIfGiven(&c.surname, up.Surname)
	setIfGiven(&c.displayName, up.DisplayName)
	setIfGiven(&c.companyName, up.CompanyName)
	setIfGiven(&c.jobTitle, up.JobTitle)
	setIfGiven(&c.mobilePhone, up.MobilePhone)
	if up.Emails != nil {
		c.emails = nil
		for _, e := range *up.Emails {
			c.emails = append(c.emails, recipient{Name: c.displayName, Address: e})
		}
	}
	if up.BusinessPhones != nil {
		c.businessPhones = append([]string{}, *up.BusinessPhones...)
	}
	if up.Categories != nil {
		c.categories = append([]string{}, *up.Categories...)
	}
	c.changeVersion++
	c.modifiedAt = timeNow()
	c.changedSeq = t.nextChange()
	return nil
}

// DeleteContact removes a contact; delta links report it @removed.
func (s *Server) DeleteContact(tenantID, userIDOrUPN, contactID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return err
	}
	for i, c := range u.contacts {
		if c.id == contactID {
			u.contacts = append(u.contacts[:i], u.contacts[i+1:]...)
			u.contactTombs = append(u.contactTombs, tombstone{id: c.id, folderID: c.folderID, seq: t.nextChange(), addedSeq: c.createdSeq})
			return nil
		}
	}
	return fmt.Errorf("%w: contact %q", ErrNotFound, contactID)
}

// CreateContactFolder adds a contact folder under the default Contacts
// folder; it returns its id.
func (s *Server) CreateContactFolder(tenantID, userIDOrUPN, displayName string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return "", err
	}
	f, err := t.addContactFolder(u, displayName, t.nextChange())
	if err != nil {
		return "", fmt.Errorf("graphsim: %w", err)
	}
	return f.id, nil
}
