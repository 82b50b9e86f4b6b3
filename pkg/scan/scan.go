// Package scan is the one plan behind every front end that judges objects
// (scan, fix, and the admission webhook and in-cluster scanner to come):
// the configuration (.rampart.yaml), the checks it selects, the suppressions
// (annotations, exceptions, a baseline), the sources (files, folders, stdin,
// Helm charts, kustomizations, a live cluster, context paths), the engine
// and the summary. Front ends parse their flags into Options, call New and
// Run, and pick a reporter; nothing here prints.
package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/config"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/fix"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/source"
	"github.com/rampart-k8s/rampart/pkg/suppress"
)

// Options are what a front end asks for.
type Options struct {
	// Paths are files, folders, charts, kustomizations, or "-" for Stdin.
	Paths []string
	Stdin io.Reader
	// ContextPaths are read for context only: their objects are not judged.
	ContextPaths []string
	Helm         source.HelmOptions
	// Cluster reads the live cluster instead of Paths.
	Cluster        bool
	ClusterOptions source.ClusterOptions
	// ConfigFile is the configuration; "" looks for .rampart.yaml walking
	// up from the first path.
	ConfigFile string
	// Disable and Enable are check IDs, categories or "all", after the
	// configuration's.
	Disable, Enable []string
	// PSS is the level and version where no Namespace label says otherwise.
	PSS api.LevelVersion
	// FailOn is the lowest severity that fails the run; nil never fails.
	FailOn *check.Severity
	// Baseline is a baseline file: its findings are suppressed.
	Baseline string
	// Fixes computes the findings' fixes and, for plain manifest files,
	// their text edits (what SARIF's fixes hold).
	Fixes bool
	// AllowEmpty accepts input that holds no Kubernetes object.
	AllowEmpty bool
	// KeepObjects keeps the objects read in Plan.Objects (for analyses
	// beside the checks: the CIS benchmark's RBAC questions).
	KeepObjects bool
	// Images scans the images the judged objects run.
	Images ImageOptions
}

// Plan is a scan ready to run: the configuration read, the checks chosen,
// the engine's options set.
type Plan struct {
	Options
	Registry *check.Registry
	Config   *config.Config
	// ConfigPath is the configuration file read, or "".
	ConfigPath string
	Checks     []check.Check
	Engine     engine.Options
	// Objects are the objects Run read, with KeepObjects.
	Objects []*manifest.Object
}

// New reads the configuration and the baseline and selects the checks. Its
// errors are the user's to fix in the invocation or the configuration.
func New(o Options) (*Plan, error) {
	if o.Cluster && len(o.Paths) > 0 {
		return nil, errors.New("--cluster scans the cluster; do not give paths too")
	}
	if o.Cluster && len(o.ContextPaths) > 0 {
		return nil, errors.New("--context-path goes with files; a cluster scan has the whole cluster as context")
	}
	if len(o.Paths) == 0 && !o.Cluster {
		o.Paths = []string{"."}
	}
	reg, err := checks.Registry()
	if err != nil {
		return nil, err
	}
	p := &Plan{Options: o, Registry: reg, Config: &config.Config{}}
	p.ConfigPath = o.ConfigFile
	if p.ConfigPath == "" {
		start := "."
		if len(o.Paths) > 0 && o.Paths[0] != "-" {
			start = o.Paths[0]
		}
		p.ConfigPath = config.Find(start)
	}
	if p.ConfigPath != "" {
		if p.Config, err = config.Load(p.ConfigPath, reg); err != nil {
			return nil, fmt.Errorf("invalid configuration:\n%w", err)
		}
		slog.Debug("configuration", "file", p.ConfigPath)
	}
	for _, n := range append(append([]string{}, o.Disable...), o.Enable...) {
		if !config.KnownName(reg, n) {
			return nil, fmt.Errorf("unknown check or category %q (see `rampart checks`)", n)
		}
	}
	p.Config.Checks.Disable = append(p.Config.Checks.Disable, o.Disable...)
	p.Config.Checks.Enable = append(p.Config.Checks.Enable, o.Enable...)
	p.Checks = p.Config.Select(reg.Checks())
	rules := &suppress.Rules{Exceptions: p.Config.SuppressionExceptions(), Now: time.Now()}
	if o.Baseline != "" {
		if rules.Baseline, err = suppress.LoadBaseline(o.Baseline); err != nil {
			return nil, fmt.Errorf("--baseline: %w", err)
		}
	}
	p.Engine = engine.Options{
		PSS:               o.PSS,
		FailOn:            o.FailOn,
		AllowedRegistries: p.Config.Images.AllowedRegistries,
		KnownCheck:        func(id string) bool { _, ok := reg.Get(id); return ok },
		Suppress:          rules,
		Fixes:             o.Fixes,
	}
	if o.Fixes {
		// A value fix cannot read gives no resource fix here; `rampart fix`
		// reports it.
		p.Engine.Resources, _ = fix.ParseResources(p.Config.Fix.DefaultResources)
	}
	return p, nil
}

// Run reads the sources and judges their objects: input errors are in the
// result (the rest of the input is judged); the error is for what stops the
// scan as a whole (a cluster that cannot be reached).
func (p *Plan) Run(ctx context.Context) (*engine.Result, error) {
	start := time.Now()
	var res *engine.Result
	if p.Cluster {
		cfg, ns, err := source.Config(p.ClusterOptions)
		if err != nil {
			return nil, err
		}
		read, err := source.ReadCluster(ctx, cfg, ns, p.ClusterOptions)
		if err != nil {
			return nil, err
		}
		slog.Debug("cluster read", "server", read.Server, "namespace", ns, "objects", len(read.Objects), "not evaluated", len(read.NotEvaluated))
		res = engine.ScanObjects(read.Objects, read.Errors, p.Checks, p.Engine)
		if p.KeepObjects {
			p.Objects = read.Objects
		}
		if p.Images.Enabled {
			p.scanImages(ctx, read.Objects, res)
		}
		for _, n := range read.NotEvaluated {
			res.NotEvaluated = append(res.NotEvaluated, engine.NotEvaluated(n))
		}
	} else {
		loaded := source.Load(p.Paths, manifest.Options{Stdin: p.Stdin}, p.Helm)
		slog.Debug("loaded", "objects", len(loaded.Objects), "charts and kustomizations", len(loaded.Claimed), "elapsed", time.Since(start))
		objs, notices := loaded.Objects, loaded.Notices
		eopts := p.Engine
		if len(p.ContextPaths) > 0 {
			var ctxNotices []manifest.InputError
			objs, ctxNotices, eopts.Target = WithContext(loaded.Objects, p.ContextPaths, p.Helm)
			notices = append(notices, ctxNotices...)
		}
		res = engine.ScanObjects(objs, loaded.Errors, p.Checks, eopts)
		if p.KeepObjects {
			p.Objects = objs
		}
		if p.Images.Enabled {
			p.scanImages(ctx, objs, res)
		}
		res.Notices = notices
		res.Summary.Files = loaded.Files
		if p.Fixes {
			fix.TextEdits(res.Findings, rendered(p.Paths, loaded.Claimed), fix.Resolver(p.Checks, eopts))
		}
	}
	if res.Summary.Objects == 0 && !p.AllowEmpty {
		// A scan that evaluated nothing must not pass silently.
		where := "the cluster"
		if !p.Cluster {
			where = strings.Join(p.Paths, ", ")
		}
		res.Errors = append(res.Errors, manifest.InputError{File: where, Message: "no Kubernetes object found; nothing was evaluated (use --allow-empty if that is expected)"})
	}
	res.Summarize(p.FailOn)
	slog.Debug("scan done", "files", res.Summary.Files, "objects", res.Summary.Objects, "findings", len(res.Findings), "elapsed", time.Since(start))
	return res, nil
}

// Known are the findings a baseline written now records: those reported
// and those an earlier baseline already held.
func Known(res *engine.Result) []check.Finding {
	known := append([]check.Finding{}, res.Findings...)
	for _, sf := range res.Suppressed {
		if sf.Baseline {
			known = append(known, sf.Finding)
		}
	}
	return known
}

// rendered reports the files whose objects a scan of paths reads through a
// chart or a kustomization (their templates, the resources a kustomization
// reads, bases outside the paths included): text edits there would be made
// against the object as rendered, not as written (fix writes values and
// patches instead).
func rendered(paths, claimed []string) func(string) bool {
	plan := source.PlanFor(paths)
	under := underAny(append(append([]string{}, claimed...), plan.Roots...))
	return func(file string) bool { return plan.Skip(file) || under(file) }
}

// underAny reports files inside any of roots.
func underAny(roots []string) func(string) bool {
	abs := make([]string, 0, len(roots))
	for _, r := range roots {
		if a, err := filepath.Abs(r); err == nil {
			abs = append(abs, a+string(filepath.Separator))
		}
	}
	return func(file string) bool {
		a, err := filepath.Abs(file)
		if err != nil {
			return true
		}
		for _, r := range abs {
			if strings.HasPrefix(a, r) {
				return true
			}
		}
		return false
	}
}

// WithContext adds the objects of the context paths to the targets: the
// result is every object once (a target also met in the context is kept as
// the target), the context's input problems as notices (the context is read
// for what it can tell; only the targets are judged), and the Target
// function that tells the engine which objects to judge.
func WithContext(targets []*manifest.Object, contextPaths []string, h source.HelmOptions) ([]*manifest.Object, []manifest.InputError, func(*manifest.Object) bool) {
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
