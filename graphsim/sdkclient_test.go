package graphsim

// The one place tests build real SDK clients: the unmodified azidentity
// ClientSecretCredential and msgraph-sdk-go, configured only with the
// simulator's endpoints, CA and allowed host ("Client wiring" in
// graph-behavior.md).
//
// Tests that build a GraphServiceClient do not call t.Parallel:
// msgraph-sdk-go v1.89.0's NewGraphServiceClient writes a package-level
// backing-store factory (kiota EnableBackingStore) that every model
// constructor reads, so creating a client while another goroutine parses a
// response is a data race under -race. Parallel tests use raw HTTP or
// azidentity only, and Go runs them after the sequential ones.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

const graphScope = "https://graph.microsoft.com/.default"

// simEnv is a started simulator seeded with the demo tenant.
type simEnv struct {
	sim   *Server
	seed  TenantSeed
	creds DemoCredentials
}

func startDemoSim(t *testing.T) *simEnv {
	t.Helper()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := DemoTenant()
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatalf("SeedTenant(demo): %v", err)
	}
	return &simEnv{sim: sim, seed: seed, creds: creds}
}

// tlsClient is a plain HTTPS client that trusts only the simulator's CA.
func tlsClient(sim *Server) *http.Client {
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: sim.TLSClientConfig()},
		Timeout:   30 * time.Second,
	}
}

// newCredential builds an azidentity ClientSecretCredential pointed at the
// simulator, as a national-cloud user would configure it.
func newCredential(t *testing.T, sim *Server, tenantID, clientID, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: sim.AuthorityHost()},
			Transport: tlsClient(sim),
			// Keep token-side retries short so failure tests stay fast.
			Retry: policy.RetryOptions{MaxRetries: 1, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
		},
		DisableInstanceDiscovery: true, // else MSAL calls login.microsoftonline.com
	})
	if err != nil {
		t.Fatalf("NewClientSecretCredential: %v", err)
	}
	return cred
}

// newGraphClient builds a GraphServiceClient using cred, with allowedHosts
// as the token provider's valid hosts (nil: the simulator's hostname).
func newGraphClient(t *testing.T, sim *Server, cred azcore.TokenCredential, allowedHosts []string) *msgraphsdk.GraphServiceClient {
	t.Helper()
	if allowedHosts == nil {
		allowedHosts = []string{sim.Hostname()}
	}
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{graphScope}, allowedHosts)
	if err != nil {
		t.Fatalf("NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts: %v", err)
	}
	return newGraphClientWithAuth(t, sim, auth)
}

// newGraphClientWithAuth wires the default Graph middleware (telemetry,
// retry, redirect, compression, parameter decoding, ...) over a transport
// that trusts the simulator's CA.
func newGraphClientWithAuth(t *testing.T, sim *Server, auth absauth.AuthenticationProvider) *msgraphsdk.GraphServiceClient {
	t.Helper()
	opts := msgraphsdk.GetDefaultClientOptions()
	mw := msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)
	hc := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(&http.Transport{TLSClientConfig: sim.TLSClientConfig()}, mw...),
		Timeout:   60 * time.Second,
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		t.Fatalf("NewGraphRequestAdapter...: %v", err)
	}
	adapter.SetBaseUrl(sim.GraphBaseURL()) // before NewGraphServiceClient, which copies it
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// demoClient is the common case: the demo app's credential and client.
func (e *simEnv) demoClient(t *testing.T) (*msgraphsdk.GraphServiceClient, *azidentity.ClientSecretCredential) {
	t.Helper()
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	return newGraphClient(t, e.sim, cred, nil), cred
}

// staticTokenProvider hands kiota a fixed bearer token (used for delegated
// tokens, which no SDK credential can obtain from the simulator yet).
type staticTokenProvider struct {
	token string
	hosts *absauth.AllowedHostsValidator
}

func (p *staticTokenProvider) GetAuthorizationToken(_ context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !p.hosts.IsUrlHostValid(u) {
		return "", nil
	}
	return p.token, nil
}

func (p *staticTokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	return p.hosts
}

func newStaticTokenClient(t *testing.T, sim *Server, token string) *msgraphsdk.GraphServiceClient {
	t.Helper()
	v, err := absauth.NewAllowedHostsValidatorErrorCheck([]string{sim.Hostname()})
	if err != nil {
		t.Fatal(err)
	}
	return newGraphClientWithAuth(t, sim, absauth.NewBaseBearerTokenAuthenticationProvider(&staticTokenProvider{token: token, hosts: v}))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// odataError unwraps the SDK's ODataError, failing the test if err is not one.
func odataError(t *testing.T, err error) (status int, code, message string, oe *odataerrors.ODataError) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected an ODataError, got success")
	}
	if !errors.As(err, &oe) {
		t.Fatalf("expected *odataerrors.ODataError, got %T: %v", err, err)
	}
	main := oe.GetErrorEscaped()
	if main == nil {
		t.Fatalf("ODataError without error body: %v", err)
	}
	return oe.ResponseStatusCode, deref(main.GetCode()), deref(main.GetMessage()), oe
}

// authFailure unwraps azidentity's AuthenticationFailedError and returns the
// identity platform's status and body.
func authFailure(t *testing.T, err error) (int, string) {
	t.Helper()
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("expected *azidentity.AuthenticationFailedError, got %T: %v", err, err)
	}
	if afe.RawResponse == nil {
		t.Fatalf("AuthenticationFailedError without RawResponse: %v", err)
	}
	body, perr := runtime.Payload(afe.RawResponse)
	if perr != nil {
		t.Fatalf("read identity error body: %v", perr)
	}
	return afe.RawResponse.StatusCode, string(body)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
