package cli

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/source"
)

// addHelmFlags registers the Helm rendering flags every command that reads
// manifests shares (-n is registered by each command: it also means the
// namespace of unnamespaced objects).
func addHelmFlags(f *pflag.FlagSet, h *source.HelmOptions) {
	f.StringArrayVarP(&h.ValueFiles, "values", "f", nil, "Helm charts: a values file (repeatable; later files win)")
	f.StringArrayVar(&h.Set, "set", nil, "Helm charts: set a value, key=value (repeatable)")
	f.StringVar(&h.ReleaseName, "release-name", "release", "Helm charts: the release name to render with")
	f.StringVar(&h.KubeVersion, "kube-version", "", "Helm charts: the Kubernetes version for .Capabilities (default: Helm's)")
	f.BoolVar(&h.IncludeTests, "include-tests", false, "Helm charts: also read chart tests (helm.sh/hook: test)")
}

// loadInput reads paths as scan does (files, folders, stdin, charts,
// kustomizations); objects without a namespace land in namespace.
func loadInput(s *streams, paths []string, namespace string, h source.HelmOptions) *manifest.Result {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	h.Namespace = namespace
	return source.Load(paths, manifest.Options{Stdin: s.in}, h)
}

// reportInputProblems prints input errors and notices for the analyzers
// that have no report of their own for them; it returns the exit error to
// give once the answer is printed, or nil.
func reportInputProblems(w io.Writer, res *manifest.Result) error {
	manifest.SortErrors(res.Notices)
	for _, n := range res.Notices {
		fmt.Fprintf(w, "notice: %s\n", n.Error())
	}
	if len(res.Errors) == 0 {
		return nil
	}
	manifest.SortErrors(res.Errors)
	for _, e := range res.Errors {
		fmt.Fprintf(w, "error: %s\n", e.Error())
	}
	return &exitError{code: ExitError, err: fmt.Errorf("%d input errors; the rest of the input was analysed", len(res.Errors))}
}
