package graphsim

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Contact writes and single-value extended properties
// (api/user-post-contacts.md, api/contactfolder-post-contacts.md,
// api/contact-update.md, api/contact-delete.md,
// api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties.md,
// api/singlevaluelegacyextendedproperty-get.md):
//
//	POST   /users/{id}/contacts                       201 contact (also /contactFolders/{id}/contacts)
//	PATCH  /users/{id}/contacts/{id}                  200 contact
//	DELETE /users/{id}/contacts/{id}                  204
//	GET    /users/{id}/contacts?$filter=singleValueExtendedProperties/any(ep: ep/id eq '{id}' and ep/value eq '{v}')
//	GET    /users/{id}/contacts[/{id}]?$expand=singleValueExtendedProperties($filter=id eq '{id}')
//
// Writes need Contacts.ReadWrite (§8), else 403 ErrorAccessDenied. POST and
// PATCH take the writable contact properties; singleValueExtendedProperties
// entries ({id, value}) are created or, on PATCH, replaced by id; the
// responses never include them ("the response includes only the new or
// existing instance"). The $filter matches the id's name case-sensitively
// and the value case-insensitively (eq, ne, contains, startswith), returns
// matching contacts without the property; $expand with an id filter adds
// "singleValueExtendedProperties":[{id,value}] to contacts holding it.
// Creates, updates and deletes show on contacts delta links.
// multiValueExtendedProperties, photos, extensions and other $filter or
// $expand forms answer 501.

var permContactsWrite = []string{"Contacts.ReadWrite"}

type extProp struct {
	id, value string
}

// extPropPattern matches the documented id formats: "{type} {guid} Name
// {name}", "{type} {guid} Id {hex}" and "{type} {hex tag}".
var (
	extPropNamed = regexp.MustCompile(`^(?i:(binary|boolean|clsid|currency|double|integer|long|object|short|string|systemtime|applicationtime))\s+\{([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})\}\s+(?i:(name|id))\s+(.+)$`)
	extPropTag   = regexp.MustCompile(`^(?i:(binary|boolean|clsid|currency|double|integer|long|object|short|string|systemtime|applicationtime))\s+(0x[0-9A-Fa-f]{1,4})$`)
)

// extPropKey canonicalizes an extended property id for matching: the type,
// GUID and tag are case-insensitive, a name is not.
func extPropKey(id string) (string, bool) {
	id = strings.TrimSpace(id)
	if m := extPropNamed.FindStringSubmatch(id); m != nil {
		key := strings.ToLower(m[1]) + " {" + strings.ToLower(m[2]) + "} " + strings.ToLower(m[3]) + " "
		if strings.EqualFold(m[3], "id") {
			return key + strings.ToLower(m[4]), true
		}
		return key + m[4], true
	}
	if m := extPropTag.FindStringSubmatch(id); m != nil {
		n, err := strconv.ParseUint(m[2][2:], 16, 16)
		if err != nil {
			return "", false
		}
		return strings.ToLower(m[1]) + " 0x" + strconv.FormatUint(n, 16), true
	}
	return "", false
}

func (c *contact) extProp(key string) *extProp {
	for i := range c.extProps {
		if k, _ := extPropKey(c.extProps[i].id); k == key {
			return &c.extProps[i]
		}
	}
	return nil
}

// extPropFilter is singleValueExtendedProperties/any(ep: ep/id eq '...' [and <value test>]).
type extPropFilter struct {
	key   string
	op    string // "", eq, ne, contains, startswith
	value string
}

func (f extPropFilter) match(c *contact) bool {
	p := c.extProp(f.key)
	if p == nil {
		return false
	}
	v, want := strings.ToLower(p.value), strings.ToLower(f.value)
	switch f.op {
	case "eq":
		return v == want
	case "ne":
		return v != want
	case "contains":
		return strings.Contains(v, want)
	case "startswith":
		return strings.HasPrefix(v, want)
	}
	return true
}

var (
	anyPrefix   = regexp.MustCompile(`^(?i)singleValueExtendedProperties/any\(\s*([A-Za-z_]\w*)\s*:\s*(.*)\)$`)
	andSplit    = regexp.MustCompile(`(?i)\s+and\s+`)
	quotedTail  = `'((?:[^']|'')*)'`
	clauseCmp   = regexp.MustCompile(`^(?i)([A-Za-z_]\w*)/(id|value)\s+(eq|ne)\s+` + quotedTail + `$`)
	clauseFunc  = regexp.MustCompile(`^(?i)(contains|startswith)\(\s*([A-Za-z_]\w*)/value\s*,\s*` + quotedTail + `\s*\)$`)
	unquoteLite = strings.NewReplacer("''", "'")
)

// splitAnd splits on " and " outside single quotes.
func splitAnd(s string) []string {
	var out []string
	start := 0
	for _, loc := range andSplit.FindAllStringIndex(s, -1) {
		if strings.Count(s[:loc[0]], "'")%2 == 0 && loc[0] >= start {
			out = append(out, s[start:loc[0]])
			start = loc[1]
		}
	}
	return append(out, s[start:])
}

// parseExtPropFilter parses the documented extended-property $filter.
func parseExtPropFilter(v string) (extPropFilter, bool) {
	var f extPropFilter
	m := anyPrefix.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return f, false
	}
	varName := m[1]
	clauses := splitAnd(strings.TrimSpace(m[2]))
	if len(clauses) > 2 {
		return f, false
	}
	idSeen := false
	for _, cl := range clauses {
		cl = strings.TrimSpace(cl)
		if c := clauseCmp.FindStringSubmatch(cl); c != nil && c[1] == varName {
			lit := unquoteLite.Replace(c[4])
			if strings.EqualFold(c[2], "id") {
				if idSeen || !strings.EqualFold(c[3], "eq") {
					return f, false
				}
				key, ok := extPropKey(lit)
				if !ok {
					return f, false
				}
				f.key, idSeen = key, true
				continue
			}
			if f.op != "" {
				return f, false
			}
			f.op, f.value = strings.ToLower(c[3]), lit
			continue
		}
		if c := clauseFunc.FindStringSubmatch(cl); c != nil && c[2] == varName && f.op == "" {
			f.op, f.value = strings.ToLower(c[1]), unquoteLite.Replace(c[3])
			continue
		}
		return f, false
	}
	return f, idSeen
}

// parseExtPropExpand reads $expand=singleValueExtendedProperties($filter=id
// eq '...'); nil without $expand. Errors are written.
func parseExtPropExpand(g *graphRequest) (*string, bool) {
	items := g.q.expandItems
	if len(items) == 0 {
		return nil, true
	}
	if len(items) == 1 && strings.EqualFold(items[0].name, "singleValueExtendedProperties") && len(items[0].options) == 1 {
		if sf, ok := parseSimpleFilter(items[0].options["$filter"]); ok && strings.EqualFold(sf.prop, "id") && sf.op == "eq" && sf.kind == 's' {
			key, ok := extPropKey(sf.str)
			if !ok {
				errBadRequest(g.w, g.r, "ErrorInvalidProperty", fmt.Sprintf("The extended property id '%s' is not valid.", sf.str))
				return nil, false
			}
			return &key, true
		}
	}
	errNotSimulated(g.w, g.r, "$expand other than singleValueExtendedProperties($filter=id eq '...') on contacts")
	return nil, false
}

// withExtProps adds the expanded extended property, when the contact has it.
func withExtProps(o object, c *contact, key *string) object {
	if key == nil {
		return o
	}
	p := c.extProp(*key)
	if p == nil {
		return o
	}
	return append(o, kv{"singleValueExtendedProperties", []object{{{"id", p.id}, {"value", p.value}}}})
}

// contactInput is a parsed contact body: changes to apply in order.
type contactInput struct {
	changes  []func(c *contact)
	extProps []extProp
	hasName  bool // displayName given
}

var (
	contactStringProps = []string{
		"assistantName", "birthday", "businessHomePage", "companyName", "department", "displayName", "fileAs",
		"generation", "givenName", "initials", "jobTitle", "manager", "middleName", "mobilePhone", "nickName",
		"officeLocation", "personalNotes", "profession", "spouseName", "surname", "title", "yomiCompanyName",
		"yomiGivenName", "yomiSurname",
	}
	contactListProps    = []string{"businessPhones", "homePhones", "categories", "children", "imAddresses"}
	contactAddressProps = []string{"businessAddress", "homeAddress", "otherAddress"}
	contactAddressKeys  = []string{"street", "city", "state", "countryOrRegion", "postalCode"}
	contactUnsupported  = []string{"multiValueExtendedProperties", "photo", "extensions"}
)

// parseContactInput validates a contact body; errors are written.
func parseContactInput(g *graphRequest, m map[string]any) (*contactInput, bool) {
	w, r := g.w, g.r
	in := &contactInput{}
	conv := func(v any, typ string) (*contactInput, bool) {
		errBadRequest(w, r, "RequestBodyRead", fmt.Sprintf("Cannot convert the literal '%v' to the expected type '%s'.", v, typ))
		return nil, false
	}
	for rawKey, v := range m {
		if strings.HasPrefix(rawKey, "@") {
			continue
		}
		if key, unknown := canonicalProp(rawKey, contactStringProps); !unknown {
			sv, isStr := v.(string)
			if v != nil && !isStr {
				return conv(v, "Edm.String")
			}
			if key == "birthday" && sv != "" {
				if _, ok := parseOffsetTime(sv); !ok {
					return conv(v, "Edm.DateTimeOffset")
				}
			}
			if key == "displayName" {
				in.hasName = true
			}
			in.changes = append(in.changes, func(c *contact) { setContactString(c, key, sv) })
			continue
		}
		if key, unknown := canonicalProp(rawKey, contactListProps); !unknown {
			a, isArr := v.([]any)
			if v != nil && !isArr {
				return conv(v, "Collection(Edm.String)")
			}
			list := []string{}
			for _, x := range a {
				sx, isStr := x.(string)
				if !isStr {
					return conv(x, "Edm.String")
				}
				list = append(list, sx)
			}
			in.changes = append(in.changes, func(c *contact) {
				switch key {
				case "businessPhones":
					c.businessPhones = list
				case "homePhones":
					c.homePhones = list
				case "categories":
					c.categories = list
				default:
					setExtra(c, key, list)
				}
			})
			continue
		}
		if key, unknown := canonicalProp(rawKey, contactAddressProps); !unknown {
			o, isObj := v.(map[string]any)
			if v != nil && !isObj {
				return conv(v, "microsoft.graph.physicalAddress")
			}
			addr := object{}
			for _, k := range contactAddressKeys {
				if x, ok := ciGet(o, k); ok {
					addr = append(addr, kv{k, x})
				}
			}
			in.changes = append(in.changes, func(c *contact) { setExtra(c, key, addr) })
			continue
		}
		if strings.EqualFold(rawKey, "emailAddresses") {
			a, isArr := v.([]any)
			if v != nil && !isArr {
				return conv(v, "Collection(microsoft.graph.emailAddress)")
			}
			var list []recipient
			for _, x := range a {
				o, _ := x.(map[string]any)
				addr := strings.TrimSpace(ciString(o, "address"))
				name := ciString(o, "name")
				if name == "" {
					name = addr
				}
				list = append(list, recipient{Name: name, Address: addr})
			}
			in.changes = append(in.changes, func(c *contact) { c.emails = list })
			continue
		}
		if strings.EqualFold(rawKey, "singleValueExtendedProperties") {
			a, isArr := v.([]any)
			if !isArr {
				return conv(v, "Collection(microsoft.graph.singleValueLegacyExtendedProperty)")
			}
			for _, x := range a {
				o, _ := x.(map[string]any)
				id := ciString(o, "id")
				if _, ok := extPropKey(id); !ok {
					errBadRequest(w, r, "ErrorInvalidProperty", fmt.Sprintf("The extended property id '%s' is not valid.", id))
					return nil, false
				}
				val, present := ciGet(o, "value")
				sv, isStr := val.(string)
				if !present || !isStr {
					return conv(val, "Edm.String")
				}
				in.extProps = append(in.extProps, extProp{id: id, value: sv})
			}
			continue
		}
		if k, unknown := canonicalProp(rawKey, contactUnsupported); !unknown {
			errNotSimulated(w, r, k+" on contacts")
			return nil, false
		}
		if k, unknown := canonicalProp(rawKey, contactSelectable); !unknown {
			errBadRequest(w, r, "ErrorInvalidPropertySet", fmt.Sprintf("The property '%s' is read-only and cannot be set.", k))
			return nil, false
		}
		errBadRequest(w, r, "RequestBodyRead", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.contact'. Make sure to only use property names that are defined by the type or mark the type as open type.", rawKey))
		return nil, false
	}
	return in, true
}

func setExtra(c *contact, key string, v any) {
	if c.extra == nil {
		c.extra = map[string]any{}
	}
	c.extra[key] = v
}

func setContactString(c *contact, key, v string) {
	switch key {
	case "givenName":
		c.givenName = v
	case "surname":
		c.surname = v
	case "displayName":
		c.displayName = v
	case "companyName":
		c.companyName = v
	case "jobTitle":
		c.jobTitle = v
	case "department":
		c.department = v
	case "mobilePhone":
		c.mobilePhone = v
	case "officeLocation":
		c.officeLocation = v
	case "personalNotes":
		c.personalNotes = v
	default:
		if v == "" {
			setExtra(c, key, nil)
			return
		}
		setExtra(c, key, v)
	}
}

// apply sets the input's properties and extended properties on c.
func (in *contactInput) apply(c *contact) {
	for _, ch := range in.changes {
		ch(c)
	}
	for _, p := range in.extProps {
		key, _ := extPropKey(p.id)
		if x := c.extProp(key); x != nil {
			x.value = p.value
			continue
		}
		c.extProps = append(c.extProps, p)
	}
}

// lockContactsWrite checks Contacts.ReadWrite and resolves the mailbox and
// folder; on success s.mu is held.
func (s *Server) lockContactsWrite(g *graphRequest, folderKey string) (*user, *contactFolder, bool) {
	if !g.p.has(permContactsWrite...) {
		errMailDenied(g.w, g.r)
		return nil, nil, false
	}
	return s.lockContacts(g, folderKey)
}

func contactEntityContext(g *graphRequest, folderKey string) string {
	ctx := fmt.Sprintf("users('%s')", g.userKey())
	if folderKey != "" {
		ctx += fmt.Sprintf("/contactFolders('%s')", folderKey)
	}
	return contextURL(g.r, ctx+"/contacts/$entity")
}

// readContactInput reads and validates a contact create or update body
// (before any lock is taken, as create and PATCH both do).
func readContactInput(g *graphRequest) (*contactInput, bool) {
	m, ok := readJSONBody(g, true)
	if !ok {
		return nil, false
	}
	return parseContactInput(g, m)
}

func (s *Server) createContactGraph(g *graphRequest, folderKey string) {
	in, ok := readContactInput(g)
	if !ok {
		return
	}
	u, f, ok := s.lockContactsWrite(g, folderKey)
	if !ok {
		return
	}
	t := g.p.tenant
	t.seq++
	c, err := t.addContact(u, ContactSeed{Folder: f.id}, "graph-"+strconv.Itoa(t.seq)+"-"+randomGUID(), t.nextChange())
	if err != nil {
		s.mu.Unlock()
		errBadRequest(g.w, g.r, "ErrorInvalidRequest", err.Error())
		return
	}
	c.createdAt, c.modifiedAt = timeNow(), timeNow()
	in.apply(c)
	if !in.hasName {
		c.displayName = strings.TrimSpace(c.givenName + " " + c.surname)
	}
	entity := contactJSON(c, nil)
	s.mu.Unlock()
	writeGraphJSON(g.w, g.r, http.StatusCreated, append(object{{"@odata.context", contactEntityContext(g, folderKey)}}, entity...))
}

func (s *Server) patchContactGraph(g *graphRequest, folderKey, id string) {
	in, ok := readContactInput(g)
	if !ok {
		return
	}
	c, ok := s.lockContact(g, folderKey, id, s.lockContactsWrite)
	if !ok {
		return
	}
	in.apply(c)
	c.changeVersion++
	c.modifiedAt = time.Now().UTC().Truncate(time.Second)
	c.changedSeq = g.p.tenant.nextChange()
	entity := contactJSON(c, nil)
	s.mu.Unlock()
	writeGraphJSON(g.w, g.r, http.StatusOK, append(object{{"@odata.context", contactEntityContext(g, folderKey)}}, entity...))
}

func (s *Server) deleteContactGraph(g *graphRequest, folderKey, id string) {
	u, f, ok := s.lockContactsWrite(g, folderKey)
	if !ok {
		return
	}
	t := g.p.tenant
	for i, c := range u.contacts {
		if c.id == id && (folderKey == "" || c.folderID == f.id) {
			u.contacts = append(u.contacts[:i], u.contacts[i+1:]...)
			u.contactTombs = append(u.contactTombs, tombstone{id: c.id, folderID: c.folderID, seq: t.nextChange(), addedSeq: c.createdSeq})
			s.mu.Unlock()
			respondEmpty(g.w, g.r, http.StatusNoContent)
			return
		}
	}
	s.mu.Unlock()
	errItemNotFoundOrMalformed(g, id)
}
