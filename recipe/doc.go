// Package recipe is outlookflow's recipe engine core: the recipe file
// format, its validation with file:line:col diagnostics, conditions and
// templates (expr expressions, type-checked when the file is loaded),
// trigger matching, run IDs and the Graph permissions a recipe needs. It is
// pure code: no Temporal, no Graph SDK, no store, no I/O except LoadDir
// reading the recipe directory.
//
// # A recipe file
//
// One recipe per YAML file:
//
//	name: vip-escalate              # slug: lower-case letters, digits, dashes; unique
//	tenant: contoso                 # tenant key from the configuration
//	description: Acknowledge VIP mail, escalate if unanswered
//	enabled: true                   # default true
//	mailboxes:                      # exactly one of:
//	  users: [alice@contoso.com]    #   listed users (UPN or object ID)
//	  # group: team@contoso.com     #   a group's members (mail or object ID)
//	  # all: true                   #   every synced mailbox
//	trigger:                        # exactly one trigger kind, with its filters
//	  newMail:
//	    from: [ceo@contoso.com]
//	condition: mail.importance == "high" || "VIP" in mail.categories
//	steps:
//	  - id: ack                     # unique in the recipe: letters, digits, _
//	    reply:
//	      body: "Thanks {{ mail.fromName }}, we have your message."
//	  - id: waitReply
//	    wait: {for: 2d, untilReplyInConversation: true}
//	  - id: check
//	    if: "!steps.waitReply.replied"
//	    then:
//	      - id: escalate
//	        forward: {to: manager@contoso.com}
//
// Unknown keys are errors, with the nearest known key suggested. Lists of
// one may be written as a single value (to: a@contoso.com).
//
// mailboxes is required for the mail and event triggers, not allowed for
// sharedMailboxNewMail (its mailbox field names the mailbox) and optional
// for schedule and manual, which run once per listed mailbox, or once
// without a mailbox when none are listed (steps must then say whose
// mailbox they act in with from or mailbox).
//
// # Triggers
//
//	newMail               a message arrives. Filters: folder (default inbox;
//	                      "*" for any; a well-known name, display name or ID),
//	                      from, to, cc, toOrCc (addresses; any listed matches),
//	                      subjectContains (any of the strings, case-insensitive),
//	                      importance (low|normal|high), hasAttachments (bool),
//	                      categories (the message has any of them).
//	mailFlagged           a message becomes flagged. Same filters; folder
//	                      defaults to any.
//	mailMentionsMe        a message arrives that @-mentions the mailbox owner.
//	                      Same filters; folder defaults to any. The signal is
//	                      Graph's message mentionsPreview.isMentioned, which
//	                      Graph documents on its beta endpoint only (subject
//	                      to change there) and as relative to the signed-in
//	                      user. For new mail of a mailbox such a recipe
//	                      watches, the dispatch asks once per chunk
//	                      GET /beta/users/{id}/messages?$filter=
//	                      mentionsPreview/isMentioned eq true and
//	                      receivedDateTime ge <oldest new message - 1m>, and
//	                      passes each new message true (listed) or false in
//	                      Input.Mentioned. That with app-only auth it means
//	                      the mailbox's owner is unverified against real
//	                      Graph. If Graph refuses the query (403, 400), the
//	                      messages are recorded as not fired, with Graph's
//	                      answer as the reason.
//	sharedMailboxNewMail  a message arrives in a shared mailbox. mailbox:
//	                      <shared mailbox address> plus the newMail filters.
//	eventChanged          an event is created, updated or deleted.
//	                      changeTypes: [created, updated, deleted] (default
//	                      all), subjectContains, organizer, isOnlineMeeting.
//	upcomingEvent         leadTime (e.g. 15m) before an event starts; re-armed
//	                      when the event moves, dropped when it is cancelled.
//	                      A reminder skipped because its event had moved away
//	                      is armed again if the event comes back to that
//	                      start (at once when inside the lead time).
//	                      Filters: subjectContains, organizer, isOnlineMeeting.
//	schedule              every: <duration> (at least 1m) or cron: "<minute
//	                      hour day-of-month month day-of-week>" (or @hourly,
//	                      @daily, @weekly, @monthly, @yearly) with timeZone:
//	                      <IANA name> (default UTC; cron only).
//	manual                fired by `starter recipes run`; its payload is `input`.
//
// A mail trigger fires once per message. Graph gives a message moved or
// copied to another folder a new ID, and lists it there as created; a
// recipe that already fired for the same message (the same
// internetMessageId in the same mailbox) does not fire for it again, and
// `starter recipes why` on the new ID names the earlier run. So a newMail
// recipe on folder "*" does not run again when its mail is filed, nor a
// mailFlagged one for a message moved while flagged; clearing the flag and
// setting it again is a new run. A manual run (`recipes run --item`) is
// not held back.
//
// Durations are Go durations with days allowed in front: 90s, 15m, 1h30m,
// 2d, 1d12h.
//
// # Expressions and templates
//
// condition and if are expr expressions (https://expr-lang.org) giving
// true or false. Text parameters (subject, body, comment, ids, times,
// recipients…) are templates: literal text with {{ expression }}
// placeholders. Both are compiled and type-checked when the recipe is
// validated, so a misspelt field is a file:line:col error, not a failed
// run. In scope:
//
//	mail     (mail triggers) id, mailbox, subject, from, fromName, sender,
//	         to, cc, importance, isRead, isDraft, hasAttachments,
//	         categories, flagStatus, receivedAt, sentAt, folder,
//	         conversationId, internetMessageId, isMentioned
//	event    (event triggers) id, mailbox, subject, organizer,
//	         organizerName, start, end, timeZone, isAllDay, attendees,
//	         location, isOnlineMeeting, joinUrl, isCancelled, type,
//	         seriesMasterId, changeType
//	input    (manual) the run's payload; not type-checked
//	trigger  kind, mailbox, changeType
//	recipe   name, tenant
//	now      the run's time (fixed for the run; the now() builtin is off)
//	steps    steps.<id>.<output> of the steps before this point
//
// Addresses are lower-case. Only expr's built-in functions may be called
// (len, lower, upper, trim, hasPrefix, duration, date, filter, any…);
// method calls on values and now(), toJSON, fromJSON, toBase64,
// fromBase64 are refused. A placeholder must give text, a number, a
// boolean, a time (printed RFC 3339), a duration or a list of those
// (printed comma-separated; a recipient list rendering "a, b" is two
// recipients); whole records such as {{ mail }} are refused. In a body
// with bodyType: html every placeholder's value is HTML-escaped; text
// bodies and other fields are not escaped.
//
// # Steps
//
// A step has an id and exactly one of: an action, wait, or if (with then
// and an optional else, each a list of steps). Steps after an if see the
// outputs of the steps inside it; a step in a branch that did not run has
// zero outputs (empty text, false, 0).
//
//	wait  for: <duration> and/or untilReplyInConversation: true (whichever
//	      comes first); conversationId: <template> when the trigger is not
//	      mail. Outputs: replied, timedOut, replyMessageId, repliedAt.
//
// Actions, their parameters (* required) and outputs. Mail actions act on
// the triggering message unless messageId is set; event actions on the
// triggering event unless eventId is set; mailbox defaults to the run's
// mailbox.
//
//	send                from, to*, cc, bcc, replyTo, subject*, body,
//	                    bodyType (text|html), importance → messageId, conversationId
//	reply, replyAll     mailbox, messageId, body, bodyType → messageId, conversationId
//	forward             mailbox, messageId, to*, cc, body, bodyType → messageId, conversationId
//	createDraft         as send, nothing required → messageId, conversationId
//	move, copy          mailbox, messageId, folder* → messageId (the new ID)
//	markRead, markUnread, unflag, delete   mailbox, messageId
//	flag                mailbox, messageId, dueIn
//	setCategories       mailbox, messageId, categories*, mode (add|remove|replace)
//	createFolder        mailbox, name*, parent → folderId
//	createEvent         mailbox, subject*, start*, end or duration*, timeZone,
//	                    attendees, optionalAttendees, location,
//	                    isOnlineMeeting (a Teams meeting), body, bodyType → eventId, joinUrl
//	updateEvent         mailbox, eventId, subject, start, end, timeZone,
//	                    attendees, location, isOnlineMeeting, body, bodyType → eventId, joinUrl
//	cancelEvent         mailbox, eventId, comment
//	respondToEvent      mailbox, eventId, response* (accept|tentative|decline),
//	                    comment, sendResponse
//	findMeetingTimes    mailbox, attendees*, duration*, within (from now;
//	                    default Graph's own window), timeZone (of the
//	                    outputs) → found, start, end, suggestions
//	                    (Graph's order: confidence, then time); delegated
//	                    connections only
//	createOnlineMeeting mailbox, subject*, start*, end or duration*, attendees
//	                    → meetingId, joinUrl
//	createContact       mailbox, displayName, givenName, surname, emails,
//	                    companyName, jobTitle, mobilePhone, businessPhones
//	                    (one of the first four*) → contactId
//	updateContact       mailbox, contactId*, the same fields (one*) → contactId
//	setAutomaticReplies mailbox, status* (disabled|alwaysEnabled|scheduled),
//	                    externalAudience (none|contactsOnly|all),
//	                    internalMessage, externalMessage, start, end
//	                    (start and end required when scheduled)
//	postChannelMessage  team*, channel*, subject, body*, bodyType → messageId, webUrl
//	summarize           mailbox, of* (threads|events); threads: since
//	                    (default 24h), folder, unansweredOnly (the last
//	                    message is not the owner's), includeBodies (message
//	                    texts go to the summarizer; without it only
//	                    subjects, people and times do); events: within
//	                    (default 24h ahead); maxItems (1 to 100, default
//	                    20), summarizer (builtin, the default offline
//	                    extractive one, or the name of an OpenAI-compatible
//	                    endpoint in recipes.summarizers) → summary, count.
//	                    It reads the synced store, newest threads or
//	                    earliest events first.
//	graphRequest        method* (GET|POST|PATCH|PUT|DELETE), path* (from
//	                    the version on, e.g. /users/{{ trigger.mailbox }}/…),
//	                    body, permissions* {application: [...], delegated: [...]}
//	                    → status, body
//
// start and end take RFC 3339 (2025-03-01T09:00:00Z), a local time read
// in timeZone (2025-03-01T09:00) or a template giving one.
//
// # Permissions
//
// Every trigger and action declares the Graph permissions it needs,
// application and delegated, least privileged first (graph-behavior.md
// §8): mail triggers Mail.ReadBasic.All / Mail.ReadBasic; event triggers
// Calendars.Read; mailboxes.group GroupMember.Read.All; send, reply,
// replyAll, forward Mail.Send and Mail.ReadWrite (each goes through a
// draft tagged with the step's key; delegated sends with from also
// Mail.Send.Shared and Mail.ReadWrite.Shared); the other mail actions
// Mail.ReadWrite; event
// actions Calendars.ReadWrite; findMeetingTimes Calendars.Read, delegated
// only; createOnlineMeeting OnlineMeetings.ReadWrite.All plus an
// application access policy / OnlineMeetings.ReadWrite; contacts
// Contacts.ReadWrite; setAutomaticReplies MailboxSettings.ReadWrite;
// postChannelMessage ChannelMessage.Send, delegated only; summarize the
// read permission of what it summarizes (Mail.Read with includeBodies);
// graphRequest what the step declares. Permissions gives a recipe's
// minimal set; Needs explains each entry. With Options.Tenants, a step
// the tenant's grant or auth mode cannot run is a validation error at
// the step.
//
// # Matching and run IDs
//
// Match(recipe, Input) is pure: given what happened (an item change with
// its data, a reminder, a schedule tick, a manual run) it says whether the
// trigger kind matched, each filter's outcome, the condition's value and
// the run's ID. RunID derives the workflow ID from (tenant, recipe, item,
// change) by hashing, so replays start no second run and IDs carry no
// personal data.
package recipe
