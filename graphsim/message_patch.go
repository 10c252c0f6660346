package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Message PATCH parsing (api/message-update.md).

// messageWritable maps each writable message property to whether it is
// updatable only on drafts.
var messageWritable = map[string]bool{
	"categories": false, "flag": false, "importance": false, "inferenceClassification": false, "isRead": false,
	"bccRecipients": true, "body": true, "ccRecipients": true, "from": true, "internetMessageId": true,
	"isDeliveryReceiptRequested": true, "isReadReceiptRequested": true, "replyTo": true, "sender": true,
	"subject": true, "toRecipients": true,
	// Creating or updating extended properties is a PATCH (or create) of
	// the message, on any message
	// (api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties.md).
	"singleValueExtendedProperties": false,
}

// messageReadOnly are message properties PATCH cannot set.
var messageReadOnly = map[string]bool{
	"id": true, "createdDateTime": true, "lastModifiedDateTime": true, "changeKey": true, "receivedDateTime": true,
	"sentDateTime": true, "hasAttachments": true, "bodyPreview": true, "parentFolderId": true, "conversationId": true,
	"conversationIndex": true, "isDraft": true, "webLink": true, "uniqueBody": true, "internetMessageHeaders": true,
}

type messageChange func(m *message)

// parseMessagePatch validates a PATCH body. draftOnly names the first
// property that may be set on drafts only ("" if none).
func parseMessagePatch(w http.ResponseWriter, r *http.Request, in map[string]any) (changes []messageChange, draftOnly string, ok bool) {
	bad := func(code, msg string) ([]messageChange, string, bool) {
		errBadRequest(w, r, code, msg)
		return nil, "", false
	}
	for rawKey, v := range in {
		if strings.HasPrefix(rawKey, "@") {
			continue // annotations such as @odata.type and @odata.etag
		}
		if strings.EqualFold(rawKey, "multiValueExtendedProperties") {
			errNotSimulated(w, r, "multiValueExtendedProperties")
			return nil, "", false
		}
		key := ""
		for k := range messageWritable {
			if strings.EqualFold(k, rawKey) {
				key = k
			}
		}
		if key == "" {
			for k := range messageReadOnly {
				if strings.EqualFold(k, rawKey) {
					return bad("ErrorInvalidPropertySet", fmt.Sprintf("The property '%s' is read-only and cannot be set.", k))
				}
			}
			return bad("RequestBodyRead", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.message'. Make sure to only use property names that are defined by the type or mark the type as open type.", rawKey))
		}
		if messageWritable[key] && draftOnly == "" {
			draftOnly = key
		}
		switch key {
		case "isRead", "isDeliveryReceiptRequested", "isReadReceiptRequested":
			b, err := ciBool(map[string]any{key: v}, key, false)
			if err != nil || v == nil {
				return bad("ErrorInvalidRequest", fmt.Sprintf("Invalid value for property '%s'.", key))
			}
			switch key {
			case "isRead":
				changes = append(changes, func(m *message) { m.isRead = b })
			case "isDeliveryReceiptRequested":
				changes = append(changes, func(m *message) { m.deliveryReceipt = b })
			default:
				changes = append(changes, func(m *message) { m.readReceipt = b })
			}
		case "importance":
			imp, _ := v.(string)
			imp = strings.ToLower(imp)
			if imp != "low" && imp != "normal" && imp != "high" {
				return bad("ErrorInvalidRequest", "Invalid value for property 'importance'.")
			}
			changes = append(changes, func(m *message) { m.importance = imp })
		case "inferenceClassification":
			ic, _ := v.(string)
			ic = strings.ToLower(ic)
			if ic != "focused" && ic != "other" {
				return bad("ErrorInvalidRequest", "Invalid value for property 'inferenceClassification'.")
			}
			changes = append(changes, func(m *message) { m.inferenceClass = ic })
		case "singleValueExtendedProperties":
			props, ok := parseMsgExtProps(w, r, v)
			if !ok {
				return nil, "", false
			}
			changes = append(changes, func(m *message) { m.extProps = mergeMsgExtProps(m.extProps, props) })
		case "categories":
			arr, isArr := v.([]any)
			if !isArr && v != nil {
				return bad("ErrorInvalidRequest", "Invalid value for property 'categories'.")
			}
			cats := []string{}
			for _, c := range arr {
				cs, ok := c.(string)
				if !ok {
					return bad("ErrorInvalidRequest", "Invalid value for property 'categories'.")
				}
				cats = append(cats, cs)
			}
			changes = append(changes, func(m *message) { m.categories = cats })
		case "flag":
			fl, isObj := v.(map[string]any)
			if !isObj {
				return bad("ErrorInvalidRequest", "Invalid value for property 'flag'.")
			}
			c, ok := parseFlagPatch(w, r, fl)
			if !ok {
				return nil, "", false
			}
			changes = append(changes, c)
		case "subject":
			subj, _ := v.(string)
			changes = append(changes, func(m *message) { m.subject = subj })
		case "internetMessageId":
			imid, _ := v.(string)
			changes = append(changes, func(m *message) { m.internetMsgID = imid })
		case "body":
			b, _ := v.(map[string]any)
			content, typ := ciString(b, "content"), "text"
			if strings.EqualFold(ciString(b, "contentType"), "html") {
				typ = "html"
			}
			changes = append(changes, func(m *message) { m.bodyContent, m.bodyType = content, typ })
		case "toRecipients", "ccRecipients", "bccRecipients", "replyTo":
			rs, ok := parseRecipients(v)
			if !ok {
				return bad("ErrorInvalidRequest", fmt.Sprintf("Invalid value for property '%s'.", key))
			}
			switch key {
			case "toRecipients":
				changes = append(changes, func(m *message) { m.to = rs })
			case "ccRecipients":
				changes = append(changes, func(m *message) { m.cc = rs })
			case "bccRecipients":
				changes = append(changes, func(m *message) { m.bcc = rs })
			default:
				changes = append(changes, func(m *message) { m.replyTo = rs })
			}
		case "from", "sender":
			rs, ok := parseRecipients([]any{v})
			if !ok || len(rs) != 1 {
				return bad("ErrorInvalidRequest", fmt.Sprintf("Invalid value for property '%s'.", key))
			}
			changes = append(changes, func(m *message) { m.from = rs[0] })
		}
	}
	return changes, draftOnly, true
}

func parseRecipients(v any) ([]recipient, bool) {
	arr, ok := v.([]any)
	if !ok && v != nil {
		return nil, false
	}
	var out []recipient
	for _, item := range arr {
		o, _ := item.(map[string]any)
		ea := ciObject(o, "emailAddress")
		if ea == nil {
			return nil, false
		}
		out = append(out, recipient{Name: ciString(ea, "name"), Address: ciString(ea, "address")})
	}
	return out, true
}

// parseFlagPatch reads a followupFlag: flagStatus (notFlagged, flagged,
// complete) and startDateTime, dueDateTime, completedDateTime as
// dateTimeTimeZone objects.
func parseFlagPatch(w http.ResponseWriter, r *http.Request, fl map[string]any) (messageChange, bool) {
	status := ciString(fl, "flagStatus")
	switch strings.ToLower(status) {
	case "":
	case "notflagged":
		status = "notFlagged"
	case "flagged":
		status = "flagged"
	case "complete":
		status = "complete"
	default:
		errBadRequest(w, r, "ErrorInvalidRequest", "Invalid value for property 'flagStatus'.")
		return nil, false
	}
	times := map[string]*time.Time{}
	for _, k := range []string{"startDateTime", "dueDateTime", "completedDateTime"} {
		v, has := ciGet(fl, k)
		if !has {
			continue
		}
		if v == nil {
			times[k] = &time.Time{}
			continue
		}
		o, _ := v.(map[string]any)
		t, err := parseDateTimeTimeZone(ciString(o, "dateTime"), ciString(o, "timeZone"))
		if err != nil {
			errBadRequest(w, r, "ErrorInvalidRequest", fmt.Sprintf("Invalid value for property '%s'.", k))
			return nil, false
		}
		times[k] = &t
	}
	return func(m *message) {
		if status != "" {
			m.flagStatus = status
		}
		if t := times["startDateTime"]; t != nil {
			m.flagStart = *t
		}
		if t := times["dueDateTime"]; t != nil {
			m.flagDue = *t
		}
		if t := times["completedDateTime"]; t != nil {
			m.flagCompleted = *t
		}
	}, true
}

// flagJSON renders a message's followupFlag.
func flagJSON(m *message) object {
	o := object{{"flagStatus", m.flagStatus}}
	for _, x := range []struct {
		k string
		t time.Time
	}{{"startDateTime", m.flagStart}, {"dueDateTime", m.flagDue}, {"completedDateTime", m.flagCompleted}} {
		if !x.t.IsZero() {
			o = append(o, kv{x.k, dateTimeTimeZone(x.t, time.UTC, "UTC")})
		}
	}
	return o
}
