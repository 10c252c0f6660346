// Package integration holds end-to-end tests on real parts: a Temporal dev
// server, the outlookflow worker, and the Graph simulator over HTTPS driven
// by the unmodified msgraph-sdk-go and azidentity clients.
package integration
