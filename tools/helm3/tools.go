//go:build tools

// The helm command built from helm.sh/helm/v3, imported so that `go mod tidy` keeps what it needs.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
