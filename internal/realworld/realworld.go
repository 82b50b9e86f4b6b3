// Package realworld is a corpus of public Kubernetes material nobody here
// wrote: Helm charts, kustomize trees and install bundles of well-known
// projects, as they ship in their Go module zips. The modules are pinned and
// fetched through the Go module proxy into the Go module cache (which is
// what caches them between runs); nothing of them is committed.
package realworld

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// Kind is how an input is read.
type Kind string

// Input kinds.
const (
	Chart  Kind = "chart"  // a Helm chart folder, default values
	Tree   Kind = "tree"   // a folder with kustomizations (and maybe plain files)
	Bundle Kind = "bundle" // a plain YAML install bundle
)

// Input is one chart, kustomize tree or bundle inside a module.
type Input struct {
	Kind Kind
	Path string // inside the module
	// Why says what the input covers (subcharts, a library chart, range
	// loops, bases shared by overlays, size).
	Why string
	// Live applies the input to the test API server in the cluster tests.
	Live bool
	// Root is the folder a test copies with the input (its kustomizations
	// read sibling folders); the input itself when empty.
	Root string
}

// Module is a pinned public Go module and the inputs taken from it.
type Module struct {
	Path, Version string
	Inputs        []Input
}

// Corpus is the real-world corpus. Versions are pinned: the figures in
// docs/corpus.md are for these.
var Corpus = []Module{
	{"github.com/cert-manager/cert-manager", "v1.21.2", []Input{
		{Chart, "deploy/charts/cert-manager", "49 templates, range-generated extra objects", false, ""},
	}},
	{"github.com/dapr/dapr", "v1.14.0", []Input{
		{Chart, "charts/dapr", "7 vendored subcharts", false, ""},
	}},
	{"github.com/elastic/cloud-on-k8s/v3", "v3.5.0", []Input{
		{Chart, "deploy/eck-operator", "a vendored CRD subchart", false, ""},
		{Chart, "deploy/eck-stack", "10 vendored subcharts, range-generated objects", false, ""},
		{Bundle, "config/crds/v1/all-crds.yaml", "CRDs only, 13k lines", false, ""},
	}},
	{"github.com/kyverno/kyverno", "v1.19.1", []Input{
		{Chart, "charts/kyverno", "dependencies not vendored: an input error, as helm template says", false, ""},
		{Chart, "charts/kyverno-policies", "39 templates, range over custom policies", false, ""},
		{Bundle, "config/install-latest-testing.yaml", "91k lines", false, ""},
	}},
	{"github.com/open-policy-agent/gatekeeper/v3", "v3.23.1", []Input{
		{Chart, "charts/gatekeeper", "range in hooks", false, ""},
		{Kind: Tree, Path: "config/default", Why: "six components in one kustomization", Root: "config"},
	}},
	{"istio.io/istio", "v0.0.0-20260827124520-eed52ebb66ad", []Input{
		{Chart, "manifests/charts/base", "CRDs rendered as templates", false, ""},
		{Chart, "manifests/charts/istio-control/istio-discovery", "range-generated revision tags and gateway classes", false, ""},
		{Chart, "manifests/charts/gateway", "", false, ""},
		{Chart, "manifests/charts/istio-cni", "", false, ""},
	}},
	{"sigs.k8s.io/metrics-server", "v0.9.0", []Input{
		{Chart, "charts/metrics-server", "", false, ""},
		{Tree, "manifests", "one base shared by five overlays, with components", true, ""},
	}},
	{"github.com/argoproj/argo-cd/v3", "v3.5.7", []Input{
		{Tree, "manifests", "99 kustomizations, bases shared by install variants, plain bundles beside them", false, ""},
		{Bundle, "manifests/install.yaml", "34k lines", true, ""},
		{Bundle, "manifests/ha/install.yaml", "35k lines", false, ""},
	}},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", []Input{
		{Bundle, "bundle.yaml", "72k lines, mostly CRDs", false, ""},
	}},
	{"github.com/argoproj/argo-rollouts", "v1.10.1", []Input{
		{Bundle, "manifests/install.yaml", "40k lines", false, ""},
		{Tree, "manifests", "a base shared by cluster and namespace installs (bases: and resources:)", false, ""},
	}},
	{"sigs.k8s.io/kustomize", "v2.0.3+incompatible", []Input{
		{Tree, "examples/ldap", "a base shared by staging and production overlays", false, ""},
		{Tree, "examples/multibases", "a base shared by three overlays and an aggregate", false, ""},
		{Tree, "examples/wordpress", "two services, one naming the other through kustomize vars (WORDPRESS_DB_HOST)", false, ""},
	}},
	{"helm.sh/helm/v4", "v4.3.2", []Input{
		{Chart, "pkg/cmd/testdata/testcharts/chart-with-template-lib-dep", "a library chart (type: library) as a vendored dependency", false, ""},
	}},
	{"k8s.io/ingress-nginx", "v0.0.0-20240708192948-52c50467d67d", []Input{
		{Chart, "charts/ingress-nginx", "50 templates", false, ""},
		{Tree, "deploy/static/provider", "ten kustomization roots, one nested root no parent lists", false, ""},
	}},
}

var (
	fetchMu sync.Mutex
	fetched = map[string]string{}
)

// Fetch returns the folder of a module in the Go module cache, downloading
// it through the Go module proxy the first time (`go mod download`).
func Fetch(m Module) (string, error) {
	fetchMu.Lock()
	defer fetchMu.Unlock()
	key := m.Path + "@" + m.Version
	if dir, ok := fetched[key]; ok {
		return dir, nil
	}
	cmd := exec.Command("go", "mod", "download", "-json", key)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	cmd.Dir = os.TempDir() // outside this module: nothing here is changed
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s %s", key, runErr, info.Error, errb.String(), err)
	}
	if _, err := os.Stat(info.Dir); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", key, err)
	}
	fetched[key] = info.Dir
	return info.Dir, nil
}

// Path returns the absolute path of an input of a fetched module.
func Path(dir string, in Input) string { return filepath.Join(dir, filepath.FromSlash(in.Path)) }
