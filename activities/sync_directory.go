package activities

import (
	"context"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/store"
)

// SyncDirectoryInput asks for one directory round of a tenant: users, and
// groups with their members when the tenant's features include groups.
type SyncDirectoryInput struct {
	TenantKey         string
	CredentialVersion string
}

// SyncDirectoryResult counts what the round changed and how many mailboxes
// the tenant has; the workflow plans batches from the count, so no list of
// mailboxes ever travels in a payload.
type SyncDirectoryResult struct {
	Pages         int
	Changed       int // inserted + updated + deleted users
	GroupsChanged int // inserted + updated + deleted groups and memberships
	Mailboxes     int
}

// SyncDirectory runs users delta, then groups delta, from the saved cursors
// to the end of their rounds, saving each page with its cursor.
func (a *Sync) SyncDirectory(ctx context.Context, in SyncDirectoryInput) (SyncDirectoryResult, error) {
	if settings, ok := a.Tenants.Tenant(in.TenantKey); ok && settings.AuthMode == AuthDelegated {
		defer KeepAlive(ctx)()
		return a.syncDelegatedDirectory(ctx, in, settings)
	}
	creds, settings, err := a.credentials(in.TenantKey, in.CredentialVersion)
	if err != nil {
		return SyncDirectoryResult{}, err
	}
	defer KeepAlive(ctx)()
	var res SyncDirectoryResult
	users, err := a.syncUsers(ctx, creds, in.TenantKey)
	res.Pages += users.Pages
	res.Changed = users.changed()
	if err != nil {
		return res, ToTemporal(err)
	}
	if settings.Has(permissions.FeatureGroups) {
		groups, err := a.syncGroups(ctx, creds, in.TenantKey)
		res.Pages += groups.Pages
		res.GroupsChanged = groups.changed()
		if err != nil {
			return res, ToTemporal(err)
		}
	}
	n, err := a.mailboxCount(ctx, in.TenantKey)
	if err != nil {
		return res, err
	}
	res.Mailboxes = n
	return res, nil
}

// syncUsers runs a users-delta round. Graph reports a manager link only
// when it changes (manager@delta), so the stored links carry over.
func (a *Sync) syncUsers(ctx context.Context, creds Credentials, tenant string) (roundResult, error) {
	stored, err := a.Store.Users(ctx, tenant)
	if err != nil {
		return roundResult{}, retryable("reading users", err)
	}
	managers := make(map[string]string, len(stored))
	for _, u := range stored {
		managers[u.ID] = u.ManagerID
	}
	var seen map[string]bool
	return follow(ctx, a.Store, deltaRound[UsersDeltaPage]{
		key:   domain.CursorKey{Tenant: tenant, Kind: domain.CursorUsers},
		fetch: func(link string) (UsersDeltaPage, error) { return a.Graph.UsersDelta(ctx, creds, link) },
		begin: func() { seen = map[string]bool{} },
		save: func(page UsersDeltaPage, fromScratch bool) (store.Counts, error) {
			for id, m := range page.Managers {
				managers[id] = m
			}
			for i := range page.Users {
				page.Users[i].ManagerID = managers[page.Users[i].ID]
				if fromScratch {
					seen[page.Users[i].ID] = true
				}
			}
			return a.Store.ApplyUsers(ctx, store.UsersPage{Tenant: tenant, Upserts: page.Users, Removed: page.Removed, Next: page.next()})
		},
		sweep: func(deltaLink string) (store.Counts, error) {
			stored, err := a.Store.Users(ctx, tenant)
			if err != nil {
				return store.Counts{}, err
			}
			gone := unseen(stored, func(u domain.User) string { return u.ID }, seen)
			if len(gone) == 0 {
				return store.Counts{}, nil
			}
			return a.Store.ApplyUsers(ctx, store.UsersPage{Tenant: tenant, Removed: gone, Next: store.Next{Token: deltaLink, Complete: true}})
		},
	})
}

// syncGroups runs a groups-delta round. A from-scratch round lists every
// group with all its members, so its sweep drops groups and memberships it
// did not list.
func (a *Sync) syncGroups(ctx context.Context, creds Credentials, tenant string) (roundResult, error) {
	var seenGroups, seenMembers map[string]bool
	memberKey := func(m domain.GroupMember) string { return m.GroupID + "\x00" + m.MemberID }
	return follow(ctx, a.Store, deltaRound[GroupsDeltaPage]{
		key:   domain.CursorKey{Tenant: tenant, Kind: domain.CursorGroups},
		fetch: func(link string) (GroupsDeltaPage, error) { return a.Graph.GroupsDelta(ctx, creds, link) },
		begin: func() { seenGroups, seenMembers = map[string]bool{}, map[string]bool{} },
		save: func(page GroupsDeltaPage, fromScratch bool) (store.Counts, error) {
			if fromScratch {
				for _, g := range page.Groups {
					seenGroups[g.ID] = true
				}
				for _, m := range page.MembersAdded {
					seenMembers[memberKey(m)] = true
				}
			}
			return a.Store.ApplyGroups(ctx, store.GroupsPage{Tenant: tenant, Upserts: page.Groups, Removed: page.Removed,
				MembersAdded: page.MembersAdded, MembersRemoved: page.MembersRemoved, Next: page.next()})
		},
		sweep: func(deltaLink string) (store.Counts, error) {
			groups, err := a.Store.Groups(ctx, tenant)
			if err != nil {
				return store.Counts{}, err
			}
			members, err := a.Store.GroupMembers(ctx, tenant)
			if err != nil {
				return store.Counts{}, err
			}
			page := store.GroupsPage{Tenant: tenant, Next: store.Next{Token: deltaLink, Complete: true}}
			page.Removed = unseen(groups, func(g domain.Group) string { return g.ID }, seenGroups)
			for _, m := range members {
				if seenGroups[m.GroupID] && !seenMembers[memberKey(m)] {
					page.MembersRemoved = append(page.MembersRemoved, m)
				}
			}
			if len(page.Removed) == 0 && len(page.MembersRemoved) == 0 {
				return store.Counts{}, nil
			}
			return a.Store.ApplyGroups(ctx, page)
		},
	})
}
