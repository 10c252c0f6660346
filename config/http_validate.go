package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ListenIsLoopback reports whether a host:port listen address binds only the
// loopback interface: localhost, 127.0.0.0/8 or ::1. An empty host, 0.0.0.0,
// :: and any other name or address are not loopback.
func ListenIsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	return err == nil && isLoopback(host)
}

// CheckCodecExposure returns an error naming http.codecAuth when the codec
// server would listen beyond loopback without verifying access tokens. The
// worker calls it before it listens; [Config.Validate] reports the same.
func (h HTTP) CheckCodecExposure() error {
	if h.CodecAuth.IsSet() || ListenIsLoopback(h.Listen) {
		return nil
	}
	return fmt.Errorf("http.codecAuth: %s", codecAuthRequiredMessage(h.Listen))
}

func codecAuthRequiredMessage(listen string) string {
	return fmt.Sprintf("is not set, but http.listen %q is not a loopback address and the codec endpoint decrypts payloads for whoever can call it; "+
		"set http.codecAuth.issuer and http.codecAuth.audience (env %sHTTP_CODECAUTH_ISSUER, %sHTTP_CODECAUTH_AUDIENCE) to the OIDC issuer and access-token audience "+
		"the Temporal Web UI signs in with, and turn on the UI's codec passAccessToken (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true); or listen on 127.0.0.1",
		listen, EnvPrefix, EnvPrefix)
}

// validateCodecAuth checks http.codecAuth and the rule that a codec server
// reachable beyond loopback verifies access tokens.
func (h HTTP) validateCodecAuth(v *validator) {
	a := h.CodecAuth
	if !a.IsSet() {
		if _, _, err := net.SplitHostPort(h.Listen); err == nil && !ListenIsLoopback(h.Listen) {
			v.add("http.codecAuth", "%s", codecAuthRequiredMessage(h.Listen))
		}
		return
	}
	if strings.TrimSpace(a.Issuer) == "" {
		v.add("http.codecAuth.issuer", "is empty; set it to the OIDC issuer exactly as the access token's iss claim carries it, e.g. https://login.microsoftonline.com/TENANT-ID/v2.0")
	} else if err := checkIssuerURL(a.Issuer); err != nil {
		v.add("http.codecAuth.issuer", "%q %v; set it to the OIDC issuer exactly as the access token's iss claim carries it, e.g. https://login.microsoftonline.com/TENANT-ID/v2.0 (http only to localhost)", a.Issuer, err)
	}
	switch {
	case strings.TrimSpace(a.Audience) == "":
		v.add("http.codecAuth.audience", "is empty; set it to the audience (aud) of the access token the Web UI sends, e.g. the API's application ID URI api://CLIENT-ID or the client ID")
	case strings.ContainsAny(a.Audience, " \t\r\n,"):
		v.add("http.codecAuth.audience", "%q holds whitespace or a comma; give exactly one audience value", a.Audience)
	}
	if a.JWKSURL != "" {
		if err := checkIssuerURL(a.JWKSURL); err != nil {
			v.add("http.codecAuth.jwksURL", "%q %v; set it to the issuer's JWKS URL (its jwks_uri), or remove it to use discovery", a.JWKSURL, err)
		}
	}
	if a.CAFile != "" {
		checkPEMFile(v, "http.codecAuth.caFile", a.CAFile, "the CA certificate(s) that signed the issuer's TLS certificate")
	}
}

// checkIssuerURL wants an absolute https URL, or http to a loopback host,
// without user info, query or fragment.
func checkIssuerURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Hostname() == "":
		return fmt.Errorf("is not an absolute URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("must not carry user info, query or fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("is plain http to another machine; use https")
	default:
		return fmt.Errorf("is not an https URL")
	}
}
