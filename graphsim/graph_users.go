package graphsim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Directory: GET /users and GET /users/{id | userPrincipalName}.

// userDefaultProps are the properties GET /users returns without $select,
// in the order Microsoft's examples show them (api/user-list.md).
var userDefaultProps = []string{
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}

// userSelectableProps are the user properties $select accepts. Properties
// the simulator has no data for come back null, as on a sparse real tenant.
var userSelectableProps = append(append([]string(nil), userDefaultProps...),
	"accountEnabled", "ageGroup", "city", "companyName", "country", "createdDateTime", "department",
	"employeeId", "employeeType", "faxNumber", "identities", "imAddresses", "mailNickname",
	"onPremisesSyncEnabled", "otherMails", "postalCode", "proxyAddresses", "state", "streetAddress",
	"usageLocation", "userType",
)

const (
	usersDefaultPage = 100
	usersMaxPage     = 999
)

// canonicalProps maps $select names (case-insensitive) to canonical names;
// bad reports the first unknown one.
func canonicalProps(selects, known []string) (props []string, bad string) {
	for _, s := range selects {
		found := ""
		for _, k := range known {
			if strings.EqualFold(s, k) {
				found = k
				break
			}
		}
		if found == "" {
			return nil, s
		}
		dup := false
		for _, p := range props {
			if p == found {
				dup = true
			}
		}
		if !dup {
			props = append(props, found)
		}
	}
	return props, ""
}

func userValue(t *tenant, u *user, prop string) any {
	nilIfEmpty := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch prop {
	case "id":
		return u.id
	case "businessPhones":
		return []string{}
	case "displayName":
		return nilIfEmpty(u.displayName)
	case "givenName":
		return nilIfEmpty(u.givenName)
	case "jobTitle":
		return nilIfEmpty(u.jobTitle)
	case "mail":
		return nilIfEmpty(u.mail)
	case "surname":
		return nilIfEmpty(u.surname)
	case "userPrincipalName":
		return nilIfEmpty(u.upn)
	case "department":
		return nilIfEmpty(u.department)
	case "preferredLanguage":
		return "en-US"
	case "accountEnabled":
		return true
	case "userType":
		return "Member"
	case "usageLocation":
		return "US"
	case "companyName":
		return nilIfEmpty(t.displayName)
	case "mailNickname":
		nick, _, _ := strings.Cut(u.upn, "@")
		return nilIfEmpty(nick)
	case "createdDateTime":
		return time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
	case "proxyAddresses":
		if u.mail == "" {
			return []string{}
		}
		return []string{"SMTP:" + u.mail}
	case "imAddresses":
		if u.mail == "" {
			return []string{}
		}
		return []string{u.mail}
	case "otherMails":
		return []string{}
	case "identities":
		return []object{{{"signInType", "userPrincipalName"}, {"issuer", t.domain}, {"issuerAssignedId", u.upn}}}
	}
	return nil
}

func userJSON(t *tenant, u *user, props []string) object {
	if len(props) == 0 {
		props = userDefaultProps
	}
	o := make(object, 0, len(props))
	for _, p := range props {
		o = append(o, kv{p, userValue(t, u, p)})
	}
	return o
}

// listUsers is GET /users: default page 100, $top 1-999, $skiptoken paging,
// $select (S39, S15).
func (s *Server) listUsers(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	if !g.p.canReadUsers(false) {
		errDirectoryDenied(w, r)
		return
	}
	switch {
	case q.filter != "":
		errNotSimulated(w, r, "$filter on /users")
		return
	case q.search != "", q.orderBy != "", q.count != "":
		errNotSimulated(w, r, "$search, $orderby and $count on /users")
		return
	case q.hasSkip:
		errBadRequest(w, r, "Request_BadRequest", "'$skip' is not supported by the service.")
		return
	}
	top := usersDefaultPage
	if q.hasTop {
		if q.top < 1 || q.top > usersMaxPage {
			errBadRequest(w, r, "Request_UnsupportedQuery",
				fmt.Sprintf("Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.top))
			return
		}
		top = q.top
	}
	props, bad := canonicalProps(q.selects, userSelectableProps)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", bad))
		return
	}
	me, ok := parseManagerExpand(g)
	if !ok {
		return
	}
	after := ""
	if q.skipToken != "" {
		var ok bool
		if after, ok = decodeUsersSkipToken(q.skipToken); !ok {
			errBadRequest(w, r, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
	}

	s.mu.Lock()
	t := g.p.tenant
	users := t.users
	start := sort.Search(len(users), func(i int) bool { return users[i].id > after })
	end := min(start+top, len(users))
	page := make([]object, 0, end-start)
	for _, u := range users[start:end] {
		page = append(page, withManager(t, u, userJSON(t, u, props), me))
	}
	more := end < len(users)
	lastID := ""
	if end > start {
		lastID = users[end-1].id
	}
	s.mu.Unlock()

	body := object{{"@odata.context", contextURL(r, "users"+selectSuffix(props))}}
	if more {
		body = append(body, kv{"@odata.nextLink", nextLinkURL(r, [][2]string{{"$skiptoken", encodeUsersSkipToken(lastID)}})})
	}
	body = append(body, kv{"value", page})
	w.Header().Set("x-ms-resource-unit", "1")
	writeGraphJSON(w, r, http.StatusOK, body)
}

// Directory skip tokens are opaque to clients; the simulator's carries the
// last user ID returned, so paging is stable while users are added.
const usersSkipTokenPrefix = "RFNwdAIA"

func encodeUsersSkipToken(lastID string) string {
	return usersSkipTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte("graphsim:"+lastID))
}

func decodeUsersSkipToken(tok string) (string, bool) {
	rest, ok := strings.CutPrefix(tok, usersSkipTokenPrefix)
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(b), "graphsim:")
	return id, ok && id != ""
}

// getUser is GET /users/{id | userPrincipalName} and GET /me.
func (s *Server) getUser(g *graphRequest) {
	w, r, q := g.w, g.r, g.q
	key := g.userKey()
	self := g.p.delegated && strings.EqualFold(key, g.p.oid)
	s.mu.Lock()
	u := g.p.tenant.lookupUser(key)
	if u != nil && g.p.delegated && strings.EqualFold(u.id, g.p.oid) {
		self = true
	}
	s.mu.Unlock()
	if !g.p.canReadUsers(self) {
		errDirectoryDenied(w, r)
		return
	}
	props, bad := canonicalProps(q.selects, userSelectableProps)
	if bad != "" {
		errBadRequest(w, r, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", bad))
		return
	}
	me, ok := parseManagerExpand(g)
	if !ok {
		return
	}
	if u == nil {
		errNotFoundDirectory(w, r, key)
		return
	}
	s.mu.Lock()
	entity := withManager(g.p.tenant, u, userJSON(g.p.tenant, u, props), me)
	s.mu.Unlock()
	body := append(object{{"@odata.context", contextURL(r, "users"+selectSuffix(props)+"/$entity")}}, entity...)
	w.Header().Set("x-ms-resource-unit", "1")
	writeGraphJSON(w, r, http.StatusOK, body)
}
