// Package deploy carries the deployment assets in the binary: the admission
// webhook's Helm chart, which `rampart webhook manifests` renders for
// clusters installed without Helm.
package deploy

import "embed"

// Chart is the webhook's chart, under charts/rampart.
//
//go:embed all:charts/rampart
var Chart embed.FS
