package graphsim

import (
	"net/http"
)

// Control API for Teams and online meetings:
//
//	POST /_sim/v1/tenants/{tid}/teams                                   TeamSeed -> {"ok","id","channels":[{id,displayName}]}
//	POST /_sim/v1/tenants/{tid}/teams/{teamId}/channels                 ChannelSeed -> {"ok","id"}
//	GET  /_sim/v1/tenants/{tid}/teams/{teamId}/channels/{channel}/messages   {"value":[ChannelMessage...]}, newest first
//	GET  /_sim/v1/tenants/{tid}/users/{user}/online-meetings            {"value":[OnlineMeeting...]}
//	POST /_sim/v1/tenants/{tid}/apps/{cid}/online-meeting-policy        {"user":"upn"} grant ("" or absent: tenant-wide)
//	POST /_sim/v1/tenants/{tid}/apps/{cid}/online-meeting-policy/revoke {"user":"upn"}
//
// {channel} is a channel id (URL-encoded) or display name.

// controlMeetingPolicy handles the online-meeting-policy app actions.
func (s *Server) controlMeetingPolicy(r *http.Request, tenantID, clientID string, grant bool) error {
	var body struct {
		User string `json:"user"`
	}
	if r.ContentLength != 0 {
		if err := decodeControl(r, &body); err != nil {
			return err
		}
	}
	if grant {
		return s.GrantOnlineMeetingPolicy(tenantID, clientID, body.User)
	}
	return s.RevokeOnlineMeetingPolicy(tenantID, clientID, body.User)
}

// serveControlCollab handles the Teams and online meeting control routes.
// It reports whether it answered.
func (s *Server) serveControlCollab(w http.ResponseWriter, r *http.Request, parts []string) bool {
	if len(parts) < 3 || parts[0] != "tenants" {
		return false
	}
	ok := func(v any) { writeJSON(w, http.StatusOK, contentTypeJSON, v) }
	tid, m := parts[1], r.Method
	switch {
	case m == http.MethodPost && len(parts) == 3 && parts[2] == "teams":
		var ts TeamSeed
		if err := decodeControl(r, &ts); err != nil {
			controlError(w, err)
			return true
		}
		info, err := s.CreateTeam(tid, ts)
		if err != nil {
			controlError(w, err)
			return true
		}
		ok(object{{"ok", true}, {"id", info.ID}, {"channels", info.Channels}})
	case m == http.MethodPost && len(parts) == 5 && parts[2] == "teams" && parts[4] == "channels":
		var cs ChannelSeed
		if err := decodeControl(r, &cs); err != nil {
			controlError(w, err)
			return true
		}
		id, err := s.AddChannel(tid, parts[3], cs)
		if err != nil {
			controlError(w, err)
			return true
		}
		ok(object{{"ok", true}, {"id", id}})
	case m == http.MethodGet && len(parts) == 7 && parts[2] == "teams" && parts[4] == "channels" && parts[6] == "messages":
		msgs, err := s.ChannelMessages(tid, parts[3], parts[5])
		if err != nil {
			controlError(w, err)
			return true
		}
		ok(object{{"value", msgs}})
	case m == http.MethodGet && len(parts) == 5 && parts[2] == "users" && parts[4] == "online-meetings":
		ms, err := s.OnlineMeetings(tid, parts[3])
		if err != nil {
			controlError(w, err)
			return true
		}
		if ms == nil {
			ms = []OnlineMeeting{}
		}
		ok(object{{"value", ms}})
	default:
		return false
	}
	return true
}
