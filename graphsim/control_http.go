package graphsim

import (
	"net/http"
	"strings"
)

// serveControlWorld handles the control routes that change folders,
// messages in place, groups and events. It reports whether it answered.
func (s *Server) serveControlWorld(w http.ResponseWriter, r *http.Request, parts []string) bool {
	ok := func(v any) { writeJSON(w, http.StatusOK, contentTypeJSON, v) }
	reply := func(id string, err error) {
		if err != nil {
			controlError(w, err)
			return
		}
		if id == "" {
			ok(object{{"ok", true}})
			return
		}
		ok(object{{"ok", true}, {"id", id}})
	}
	decode := func(v any) bool {
		if err := decodeControl(r, v); err != nil {
			controlError(w, err)
			return false
		}
		return true
	}
	if len(parts) < 3 || parts[0] != "tenants" {
		return false
	}
	tid, m := parts[1], r.Method
	route := strings.Join(parts[2:], "/")
	seg := func(i int) string { return parts[i] }
	switch {
	// Messages updated in place.
	case m == http.MethodPatch && len(parts) == 6 && parts[2] == "users" && parts[4] == "messages":
		var up MessageUpdate
		if decode(&up) {
			reply("", s.UpdateMessage(tid, seg(3), seg(5), up))
		}
	// Mail folders.
	case m == http.MethodPost && len(parts) == 5 && parts[2] == "users" && parts[4] == "folders":
		var body struct {
			Parent      string `json:"parent"`
			DisplayName string `json:"displayName"`
			Hidden      bool   `json:"hidden"`
		}
		if decode(&body) {
			reply(s.CreateFolder(tid, seg(3), body.Parent, body.DisplayName, body.Hidden))
		}
	case m == http.MethodPatch && len(parts) == 6 && parts[2] == "users" && parts[4] == "folders":
		var body struct {
			DisplayName string `json:"displayName"`
		}
		if decode(&body) {
			reply("", s.RenameFolder(tid, seg(3), seg(5), body.DisplayName))
		}
	case m == http.MethodPost && len(parts) == 7 && parts[2] == "users" && parts[4] == "folders" && parts[6] == "move":
		var body struct {
			Parent string `json:"parent"`
		}
		if decode(&body) {
			reply("", s.MoveFolder(tid, seg(3), seg(5), body.Parent))
		}
	case m == http.MethodDelete && len(parts) == 6 && parts[2] == "users" && parts[4] == "folders":
		reply("", s.DeleteFolder(tid, seg(3), seg(5)))
	// Mailbox settings and contacts.
	case (m == http.MethodPut || m == http.MethodPost) && len(parts) == 5 && parts[2] == "users" && parts[4] == "mailbox-settings":
		var ms MailboxSettings
		if decode(&ms) {
			reply("", s.SetMailboxSettings(tid, seg(3), ms))
		}
	case m == http.MethodGet && len(parts) == 5 && parts[2] == "users" && parts[4] == "mailbox-settings":
		ms, err := s.GetMailboxSettings(tid, seg(3))
		if err != nil {
			controlError(w, err)
		} else {
			ok(ms)
		}
	case m == http.MethodPost && len(parts) == 5 && parts[2] == "users" && parts[4] == "contacts":
		var cs ContactSeed
		if decode(&cs) {
			reply(s.CreateContact(tid, seg(3), cs))
		}
	case m == http.MethodPatch && len(parts) == 6 && parts[2] == "users" && parts[4] == "contacts":
		var up ContactUpdate
		if decode(&up) {
			reply("", s.UpdateContact(tid, seg(3), seg(5), up))
		}
	case m == http.MethodDelete && len(parts) == 6 && parts[2] == "users" && parts[4] == "contacts":
		reply("", s.DeleteContact(tid, seg(3), seg(5)))
	case m == http.MethodPost && len(parts) == 5 && parts[2] == "users" && parts[4] == "contact-folders":
		var body struct {
			DisplayName string `json:"displayName"`
		}
		if decode(&body) {
			reply(s.CreateContactFolder(tid, seg(3), body.DisplayName))
		}
	// Groups.
	case m == http.MethodPost && route == "groups":
		var gs GroupSeed
		if decode(&gs) {
			reply(s.UpsertGroup(tid, gs))
		}
	case m == http.MethodDelete && len(parts) == 4 && parts[2] == "groups":
		reply("", s.DeleteGroup(tid, seg(3)))
	case len(parts) == 6 && parts[2] == "groups" && parts[4] == "members" && (m == http.MethodPost || m == http.MethodDelete):
		if m == http.MethodPost {
			reply("", s.AddGroupMember(tid, seg(3), seg(5)))
		} else {
			reply("", s.RemoveGroupMember(tid, seg(3), seg(5)))
		}
	// Events.
	case m == http.MethodPost && route == "events":
		var es EventSeed
		if decode(&es) {
			reply(s.CreateEvent(tid, es))
		}
	case m == http.MethodPatch && len(parts) == 6 && parts[2] == "users" && parts[4] == "events":
		var up EventUpdate
		if decode(&up) {
			reply("", s.UpdateEvent(tid, seg(3), seg(5), up))
		}
	case m == http.MethodPost && len(parts) == 7 && parts[2] == "users" && parts[4] == "events" && parts[6] == "cancel":
		reply("", s.CancelEvent(tid, seg(3), seg(5)))
	case m == http.MethodPost && len(parts) == 7 && parts[2] == "users" && parts[4] == "events" && parts[6] == "response":
		var body struct {
			Response string `json:"response"`
		}
		if decode(&body) {
			reply("", s.SetEventResponse(tid, seg(3), seg(5), body.Response))
		}
	case m == http.MethodDelete && len(parts) == 6 && parts[2] == "users" && parts[4] == "events":
		reply("", s.DeleteEvent(tid, seg(3), seg(5)))
	default:
		return false
	}
	return true
}
