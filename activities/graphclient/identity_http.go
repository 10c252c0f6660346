package graphclient

import "net/http"

// IdentityHTTPClient reaches the identity platform over the same TLS
// settings as the credentials (the extra CA), for the delegated flows that
// drive MSAL directly.
func (c *Client) IdentityHTTPClient() *http.Client {
	return &http.Client{Transport: c.transport}
}
