// Package graphclient is outlookflow's only door to Microsoft Graph and the
// identity platform. It builds the unmodified azidentity and msgraph-sdk-go
// clients for any cloud — global, US Gov, China, or the Graph simulator —
// from four settings (authority host, Graph base URL, allowed hosts, extra CA),
// and maps every failure to the small vocabulary in package activities.
package graphclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/outlookflow/outlookflow/activities"
)

// Cloud are the endpoint settings that distinguish one Microsoft cloud (or the
// simulator) from another. Nothing else differs between them.
type Cloud struct {
	AuthorityHost string   // https://login.microsoftonline.com/
	GraphBaseURL  string   // https://graph.microsoft.com/v1.0
	GraphScope    string   // https://graph.microsoft.com/.default
	AllowedHosts  []string // Graph host names (no port) tokens may be sent to
	// ExtraCAFile is a PEM file trusted in addition to the system roots
	// (the simulator's CA, or a TLS-inspecting proxy's).
	ExtraCAFile string
	// PublicMicrosoftCloud keeps MSAL's instance discovery on; for any other
	// authority it must be off, or MSAL would call login.microsoftonline.com.
	PublicMicrosoftCloud bool
}

// Client builds Graph clients for tenants. One Client per worker process: it
// owns the TLS transport and the kiota middleware pipeline.
type Client struct {
	cloud     Cloud
	transport *http.Transport
	graphHTTP *http.Client // kiota middleware (retry, compression, telemetry) over transport
	sessions  sessions     // the sync's per-tenant credentials and adapters
	limits    mailboxLimits
}

var _ activities.GraphConnector = (*Client)(nil)

// New validates the cloud settings and builds the shared HTTP plumbing.
func New(c Cloud) (*Client, error) {
	if !strings.HasPrefix(c.AuthorityHost, "https://") {
		return nil, fmt.Errorf("graph client: authority host %q must be an https URL", c.AuthorityHost)
	}
	if _, err := url.Parse(c.GraphBaseURL); err != nil || !strings.HasPrefix(c.GraphBaseURL, "https://") {
		return nil, fmt.Errorf("graph client: Graph base URL %q must be an https URL", c.GraphBaseURL)
	}
	if len(c.AllowedHosts) == 0 {
		// Without allowed hosts the token provider silently sends no token
		// (graph-behavior.md §2), which would look like a Graph outage.
		return nil, errors.New("graph client: at least one allowed Graph host is required")
	}
	if c.GraphScope == "" {
		c.GraphScope = "https://graph.microsoft.com/.default"
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if c.ExtraCAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(c.ExtraCAFile)
		if err != nil {
			return nil, fmt.Errorf("graph client: reading CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("graph client: CA file %s holds no PEM certificate", c.ExtraCAFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	middleware := msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)
	return &Client{
		cloud:     c,
		transport: transport,
		graphHTTP: &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(transport, middleware...)},
	}, nil
}

// credential builds an azidentity credential for the cloud. Each credential
// has its own token cache.
func (c *Client) credential(creds activities.Credentials) (azcore.TokenCredential, error) {
	if creds.Token != nil {
		return creds.Token, nil
	}
	if creds.AuthMode == activities.AuthDelegated {
		return nil, &activities.GraphError{Kind: activities.KindMisconfigured, Message: "delegated authentication is not supported yet; use authMode app-only"}
	}
	if creds.UsesCertificate() {
		return c.certificateCredential(creds)
	}
	cred, err := azidentity.NewClientSecretCredential(creds.TenantID, creds.ClientID, creds.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            c.identityClientOptions(),
		DisableInstanceDiscovery: !c.cloud.PublicMicrosoftCloud,
	})
	if err != nil {
		return nil, &activities.GraphError{Kind: activities.KindMisconfigured, Message: "building credential: " + err.Error()}
	}
	return cred, nil
}

// identityClientOptions point azidentity at the cloud's authority through
// the shared transport (which trusts the extra CA).
func (c *Client) identityClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: c.cloud.AuthorityHost},
		Transport: &http.Client{Transport: c.transport},
	}
}

// graphService builds a Graph service client that authenticates with cred.
func (c *Client) graphService(cred azcore.TokenCredential) (*msgraphsdk.GraphServiceClient, error) {
	adapter, err := c.adapter(cred)
	if err != nil {
		return nil, err
	}
	// NewGraphServiceClient would re-assign the package-level
	// store.BackingStoreFactoryInstance (to its own value) on every call, a
	// data race with model constructors reading it on other goroutines.
	// A nil factory keeps the default already in place and writes nothing.
	return &msgraphsdk.GraphServiceClient{GraphBaseServiceClient: *msgraphsdk.NewGraphBaseServiceClient(adapter, nil)}, nil
}

// Verify acquires a fresh token with a new credential (so a cached token can't
// hide a revoked consent or a rotated secret), reads the granted permissions
// from it, and proves Graph accepts it with a one-user directory read.
func (c *Client) Verify(ctx context.Context, creds activities.Credentials) (activities.Verification, error) {
	cred, err := c.credential(creds)
	if err != nil {
		return activities.Verification{}, err
	}
	// EnableCAE matches what the kiota auth provider asks for, so the probe
	// below reuses this token from the credential's CAE cache.
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.cloud.GraphScope}, EnableCAE: true})
	if err != nil {
		return activities.Verification{}, Classify(err)
	}
	granted, err := grantedPermissions(tok.Token)
	if err != nil {
		return activities.Verification{}, &activities.GraphError{Kind: activities.KindUnauthenticated, Message: err.Error()}
	}
	svc, err := c.graphService(cred)
	if err != nil {
		return activities.Verification{}, err
	}
	top := int32(1)
	probeStatus := http.StatusOK
	_, err = svc.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id"}},
	})
	if err != nil {
		classified := Classify(err)
		var ge *activities.GraphError
		// A 403 proves the token is valid; it only lacks the directory
		// permission, which the permission comparison reports by name.
		if !errors.As(classified, &ge) || ge.Kind != activities.KindForbidden {
			return activities.Verification{}, classified
		}
		probeStatus = ge.Status
	}
	return activities.Verification{GrantedPermissions: granted, TokenExpiresAt: tok.ExpiresOn, ProbeStatus: probeStatus}, nil
}

// grantedPermissions reads roles (app-only) or scp (delegated) from an access
// token's payload. Clients never validate Graph tokens (their audience is
// Graph), so this only decodes.
func grantedPermissions(accessToken string) ([]string, error) {
	parts := strings.Split(accessToken, ".")
	if len(parts) < 2 {
		return nil, errors.New("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("access token payload is not base64url: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
		Scp   string   `json:"scp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("access token payload is not JSON: %w", err)
	}
	granted := append([]string(nil), claims.Roles...)
	granted = append(granted, strings.Fields(claims.Scp)...)
	sort.Strings(granted)
	return granted, nil
}
