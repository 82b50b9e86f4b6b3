package cli

import (
	"fmt"
	"io"
	"path/filepath"

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

// withContext adds the objects of the context paths to the targets: the
// result is every object once (a target also met in the context is kept as
// the target), the context's input problems as notices (the context is read
// for what it can tell; only the targets are judged), and the Target
// function that tells the engine which objects to judge.
func withContext(targets []*manifest.Object, contextPaths []string, h source.HelmOptions) ([]*manifest.Object, []manifest.InputError, func(*manifest.Object) bool) {
	key := func(o *manifest.Object) string {
		file := o.File
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		return fmt.Sprint(file, "|", o.Doc, "|", o.Item, "|", o.Kind, "|", o.Namespace, "|", o.Name)
	}
	isTarget := make(map[*manifest.Object]bool, len(targets))
	seen := make(map[string]bool, len(targets))
	for _, o := range targets {
		isTarget[o] = true
		seen[key(o)] = true
	}
	ctx := source.Load(contextPaths, manifest.Options{}, h)
	all := append([]*manifest.Object{}, targets...)
	for _, o := range ctx.Objects {
		if !seen[key(o)] {
			all = append(all, o)
		}
	}
	var notices []manifest.InputError
	for _, e := range append(ctx.Errors, ctx.Notices...) {
		e.Message = "context: " + e.Message
		notices = append(notices, e)
	}
	return all, notices, func(o *manifest.Object) bool { return isTarget[o] }
}
