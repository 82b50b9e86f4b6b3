// Package deploy carries the deployment assets in the binary: the admission
// webhook's Helm chart and the audit receiver's, which `rampart webhook
// manifests` and `rampart audit manifests` render for clusters installed
// without Helm.
package deploy

import "embed"

// Chart is the webhook's chart, under charts/rampart.
//
//go:embed all:charts/rampart
var Chart embed.FS

// AuditChart is the audit receiver's chart, under charts/rampart-audit.
//
//go:embed all:charts/rampart-audit
var AuditChart embed.FS
