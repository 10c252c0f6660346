package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/outlookflow/outlookflow/config"
	_ "modernc.org/sqlite" // the pure-Go driver the store uses too
)

// naiveEngine is the loop a script author writes with msgraph-sdk-go: list
// the users, then for each mailbox in turn page through
// /users/{id}/messages with the SDK's PageIterator at the default page size
// (10), decoding kiota models, and INSERT each message into a SQLite table
// on its own (one autocommitted statement per item). No cursors: every run
// lists everything again, which is how such a script stays correct. It
// selects the same metadata fields as the sync, and its SQLite file uses
// the store's pragmas (WAL, synchronous=NORMAL), so the difference is the
// pattern, not the durability settings.
type naiveEngine struct {
	spec    childSpec
	client  *msgraphsdk.GraphServiceClient
	adapter *msgraphsdk.GraphRequestAdapter
	db      *sql.DB
}

// naiveMessageFields are the fields the sync selects.
var naiveMessageFields = []string{"id", "parentFolderId", "conversationId", "internetMessageId", "from", "sender", "toRecipients",
	"ccRecipients", "bccRecipients", "subject", "receivedDateTime", "sentDateTime", "importance", "isRead", "isDraft", "flag",
	"categories", "hasAttachments"}

const naiveSchema = `CREATE TABLE IF NOT EXISTS messages (
	mailbox TEXT NOT NULL, id TEXT NOT NULL, folder_id TEXT, conversation_id TEXT, subject TEXT, from_address TEXT,
	to_addresses TEXT, received TEXT, is_read INTEGER, importance TEXT, flag_status TEXT, has_attachments INTEGER,
	PRIMARY KEY (mailbox, id))`

const naiveUpsert = `INSERT INTO messages (mailbox, id, folder_id, conversation_id, subject, from_address, to_addresses, received, is_read, importance, flag_status, has_attachments)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (mailbox, id) DO UPDATE SET folder_id = excluded.folder_id, conversation_id = excluded.conversation_id,
	subject = excluded.subject, from_address = excluded.from_address, to_addresses = excluded.to_addresses, received = excluded.received,
	is_read = excluded.is_read, importance = excluded.importance, flag_status = excluded.flag_status, has_attachments = excluded.has_attachments`

// openNaiveDB opens (creating) the naive loop's SQLite file.
func openNaiveDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(naiveSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("naive db %s: %w", path, err)
	}
	return db, nil
}

func newNaive(_ context.Context, spec childSpec, cfg *config.Config) (engine, error) {
	creds, err := tenantCredentials(cfg, spec.TenantKey)
	if err != nil {
		return nil, err
	}
	// The settings a national-cloud user changes: authority host, Graph
	// base URL, allowed hosts, and here the simulator's CA.
	pem, err := os.ReadFile(cfg.Cloud.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	cred, err := azidentity.NewClientSecretCredential(creds.TenantID, creds.ClientID, creds.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.Cloud.AuthorityHost}, Transport: &http.Client{Transport: transport}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, err
	}
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{cfg.Cloud.GraphScope}, cfg.Cloud.AllowedGraphHosts)
	if err != nil {
		return nil, err
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	httpClient := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(transport, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, err
	}
	adapter.SetBaseUrl(strings.TrimSuffix(cfg.Cloud.GraphBaseURL, "/"))
	db, err := openNaiveDB(spec.NaiveDB)
	if err != nil {
		return nil, err
	}
	return &naiveEngine{spec: spec, client: msgraphsdk.NewGraphServiceClient(adapter), adapter: adapter, db: db}, nil
}

// appCredentials are what the script's client-credentials flow needs.
type appCredentials struct {
	TenantID, ClientID, ClientSecret string
}

// tenantCredentials resolves a configured tenant's app credentials.
func tenantCredentials(cfg *config.Config, key string) (appCredentials, error) {
	for _, t := range cfg.Tenants {
		if t.Key != key {
			continue
		}
		secret, err := config.ResolveSecret(t.Secret, os.LookupEnv)
		if err != nil {
			return appCredentials{}, err
		}
		return appCredentials{TenantID: t.TenantID, ClientID: t.ClientID, ClientSecret: secret}, nil
	}
	return appCredentials{}, fmt.Errorf("tenant %q is not configured", key)
}

func (e *naiveEngine) close() { _ = e.db.Close() }

func (e *naiveEngine) sync(ctx context.Context) (childResult, error) {
	var res childResult
	resp, err := e.client.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id", "userPrincipalName"}},
	})
	if err != nil {
		return res, fmt.Errorf("listing users: %w", err)
	}
	var ids []string
	it, err := msgraphcore.NewPageIterator[models.Userable](resp, e.adapter, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return res, err
	}
	if err := it.Iterate(ctx, func(u models.Userable) bool {
		ids = append(ids, deref(u.GetId()))
		return true
	}); err != nil {
		return res, fmt.Errorf("listing users: %w", err)
	}
	res.Pages++
	if e.spec.NaiveSample > 0 && e.spec.NaiveSample < len(ids) {
		ids = ids[:e.spec.NaiveSample]
	}
	for _, id := range ids {
		n, err := e.mailbox(ctx, id)
		res.Changed += n
		if err != nil {
			return res, fmt.Errorf("mailbox %s: %w", id, err)
		}
		res.Mailboxes++
	}
	res.Sampled = len(ids)
	return res, nil
}

func (e *naiveEngine) mailbox(ctx context.Context, id string) (int, error) {
	resp, err := e.client.Users().ByUserId(id).Messages().Get(ctx, &users.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMessagesRequestBuilderGetQueryParameters{Select: naiveMessageFields},
	})
	if err != nil {
		return 0, err
	}
	it, err := msgraphcore.NewPageIterator[models.Messageable](resp, e.adapter, models.CreateMessageCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return 0, err
	}
	n := 0
	var insertErr error
	err = it.Iterate(ctx, func(m models.Messageable) bool {
		if insertErr = e.insert(ctx, id, m); insertErr != nil {
			return false
		}
		n++
		return true
	})
	if insertErr != nil {
		return n, insertErr
	}
	return n, err
}

func (e *naiveEngine) insert(ctx context.Context, mailbox string, m models.Messageable) error {
	var from string
	if r := m.GetFrom(); r != nil && r.GetEmailAddress() != nil {
		from = deref(r.GetEmailAddress().GetAddress())
	}
	var to []string
	for _, r := range m.GetToRecipients() {
		if r.GetEmailAddress() != nil {
			to = append(to, deref(r.GetEmailAddress().GetAddress()))
		}
	}
	var received string
	if t := m.GetReceivedDateTime(); t != nil {
		received = t.UTC().Format(time.RFC3339)
	}
	var importance, flag string
	if i := m.GetImportance(); i != nil {
		importance = i.String()
	}
	if f := m.GetFlag(); f != nil && f.GetFlagStatus() != nil {
		flag = f.GetFlagStatus().String()
	}
	_, err := e.db.ExecContext(ctx, naiveUpsert, mailbox, deref(m.GetId()), deref(m.GetParentFolderId()), deref(m.GetConversationId()),
		deref(m.GetSubject()), from, strings.Join(to, ";"), received, derefBool(m.GetIsRead()), importance, flag, derefBool(m.GetHasAttachments()))
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefBool(b *bool) bool { return b != nil && *b }
