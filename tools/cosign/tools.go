//go:build tools

// The cosign command built from github.com/sigstore/cosign/v3, imported so that `go mod tidy` keeps
// what it needs. scripts/release.sh signs the release's SHA256SUMS with it, offline, with a local key.
package tools

import (
	_ "github.com/sigstore/cosign/v3/cmd/cosign"
)
