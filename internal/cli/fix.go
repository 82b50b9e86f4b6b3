package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/cis"
	"github.com/rampart-k8s/rampart/pkg/file"
	"github.com/rampart-k8s/rampart/pkg/fix"
	"github.com/rampart-k8s/rampart/pkg/report"
	"github.com/rampart-k8s/rampart/pkg/scan"
	"github.com/rampart-k8s/rampart/pkg/source"
)

type fixOptions struct {
	benchmark   string
	helm        source.HelmOptions
	interactive bool
	resources   string
	generated   string
	noGenerate  bool
	write       bool
	level       string
	breaking    bool
	only        []string
	skip        []string
}

func newFixCmd(s *streams) *cobra.Command {
	o := &fixOptions{}
	cmd := &cobra.Command{
		Use:   "fix [PATH ...]",
		Short: "Harden manifests in place: print a diff, or apply it with --write",
		Long: `Fix the findings that have a fix, one at a time, editing the YAML text so
that comments, key order, quoting and every untouched line stay as they are.
Fixes that can change how a workload runs (removing privileges, host access
or capabilities it asked for) are made only with --breaking; the others are
listed. Without --write, the changes are printed as a unified diff.`,
		Example: `  rampart fix k8s/                       # show the diff
  rampart fix --write --breaking k8s/    # apply every fix`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			if o.benchmark != "" {
				return fixBenchmark(s, o, args)
			}
			level, err := api.ParseLevel(o.level)
			if err != nil || level == api.LevelPrivileged {
				return usageError("--level: want baseline or restricted, got %q", o.level)
			}
			// .rampart.yaml as scan reads it: checks switched off are not
			// fixed, exceptions (and annotations) silence findings, which
			// are then not fixed either, and fix.defaultResources.
			plan, err := scan.New(scan.Options{Paths: args, Helm: o.helm, PSS: api.LevelVersion{Level: level, Version: api.LatestVersion()}})
			if err != nil {
				return usageError("%v", err)
			}
			for _, id := range append(append([]string{}, o.only...), o.skip...) {
				if _, ok := plan.Registry.Get(id); !ok {
					return usageError("unknown check %q (see `rampart checks`)", id)
				}
			}
			cfg := plan.Config
			spec := o.resources
			if spec == "" {
				spec = cfg.Fix.DefaultResources
			}
			resources, err := fix.ParseResources(spec)
			if err != nil {
				return usageError("--default-resources: %v", err)
			}
			var confirm func(fix.Applied) fix.Answer
			if o.interactive {
				if !isTerminal(s.in) || !o.write {
					return usageError("--interactive needs a terminal on standard input, and --write")
				}
				confirm = askEach(s)
			}
			res, err := fix.Files(args, plan.Checks, plan.Engine,
				fix.Options{Breaking: o.breaking, Only: o.only, Skip: o.skip, GeneratedFile: o.generated, NoGenerate: o.noGenerate, Resources: resources, Confirm: confirm, Helm: o.helm})
			if err != nil {
				return usageError("%v", err)
			}
			var failed []string
			for _, f := range res.Files {
				if o.write {
					// Atomically, one file at a time: a failure costs that
					// file only, and an interrupt leaves each file whole.
					if err := writeFixed(f.Name, []byte(f.After), args); err != nil {
						failed = append(failed, err.Error())
						fmt.Fprintf(s.err, "not written %s: %v\n", f.Name, err)
					}
					continue
				}
				_, statErr := os.Lstat(f.Name)
				if err := writeUnifiedDiff(s.out, f.Name, f.Before, f.After, statErr == nil); err != nil {
					return err
				}
			}
			breaking := 0
			for _, a := range res.Applied {
				if a.Breaking {
					breaking++
				}
				fmt.Fprintf(s.err, "fixed   %s %s: %s\n", a.Object, a.CheckID, a.Message)
			}
			for _, g := range res.Generated {
				fmt.Fprintf(s.err, "generate %s\n", g)
			}
			for _, p := range res.Pending {
				fmt.Fprintf(s.err, "not fixed %s %s: %s\n", p.Object, p.CheckID, p.Reason)
			}
			verb := "would change"
			if o.write {
				verb = "changed"
			}
			fmt.Fprintf(s.err, "%d fixes (%d breaking) %s %d files; %d not made\n", len(res.Applied), breaking, verb, len(res.Files)-len(failed), len(res.Pending))
			if len(failed) > 0 {
				return &exitError{code: ExitError, err: fmt.Errorf("%d files could not be written; the others were", len(failed))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.write, "write", false, "write the fixed files instead of printing a diff")
	f.BoolVarP(&o.interactive, "interactive", "i", false, "with --write: ask before each fix (y: yes, n: no, a: this and all the rest, q: stop)")
	f.StringVar(&o.level, "level", "restricted", "Pod Security level to fix for: baseline or restricted")
	f.BoolVar(&o.breaking, "breaking", false, "also make fixes that can change how a workload runs")
	f.StringSliceVar(&o.only, "only", nil, "fix only these check IDs")
	f.StringSliceVar(&o.skip, "skip", nil, "do not fix these check IDs")
	f.StringVar(&o.generated, "generated-file", "", "where generated NetworkPolicies and ServiceAccounts go (default: "+fix.DefaultGeneratedFile+" beside the first path)")
	f.StringVar(&o.resources, "default-resources", "", "values for missing resources, e.g. cpu=100m,memory=128Mi or requests.cpu=100m,limits.memory=256Mi")
	addHelmFlags(f, &o.helm)
	f.StringVarP(&o.helm.Namespace, "namespace", "n", "", "where objects that name no namespace land (default: default), the Helm release namespace")
	f.BoolVar(&o.noGenerate, "no-generate", false, "do not generate NetworkPolicies and ServiceAccounts")
	f.StringVar(&o.benchmark, "benchmark", "", "fix node files for this CIS benchmark (cis-1.12) instead of the catalog: static pod manifests of the control plane, kubelet and kube-proxy configuration files")
	return cmd
}

// askEach prompts on stderr and reads answers from stdin.
func askEach(s *streams) func(fix.Applied) fix.Answer {
	in := bufio.NewReader(s.in)
	return func(a fix.Applied) fix.Answer {
		for {
			breaking := ""
			if a.Breaking {
				breaking = " [breaking]"
			}
			fmt.Fprintf(s.err, "%s %s: %s%s? [y,n,a,q] ", a.Object, a.CheckID, a.Message, breaking)
			line, err := in.ReadString('\n')
			if err != nil {
				return fix.Quit
			}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "y", "yes":
				return fix.Yes
			case "n", "no":
				return fix.No
			case "a", "all":
				return fix.All
			case "q", "quit":
				return fix.Quit
			}
		}
	}
}

// writeFixed writes a fixed file atomically. A file reached through a
// symbolic link is written only when the link's target lies inside one of
// the paths given on the command line: fix never edits a file outside what
// it was asked to fix.
func writeFixed(name string, data []byte, paths []string) error {
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		target = name // a new file (generated policies, values, patches)
	}
	if target != name && !insideAny(target, paths) {
		return fmt.Errorf("a link to %s, outside the paths given; not written through", target)
	}
	return file.WriteAtomic(name, data, 0o644)
}

func insideAny(target string, paths []string) bool {
	abs, err := filepath.Abs(target)
	if err != nil {
		return false
	}
	for _, p := range paths {
		root, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if root, err = filepath.Abs(root); err != nil {
			continue
		}
		if rel, err := filepath.Rel(root, abs); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return true
		}
	}
	return false
}

// fixBenchmark fixes node files for a CIS benchmark: each file given (a
// folder: its .yaml, .yml, .conf and .manifest files) that is a
// control-plane static pod manifest or a kubelet or kube-proxy
// configuration. Files keep their mode and owner (file.WriteAtomic), and a
// link is written through only to a target inside the paths given.
func fixBenchmark(s *streams, o *fixOptions, args []string) error {
	b, err := cis.Load(o.benchmark)
	if err != nil {
		return usageError("--benchmark: %v", err)
	}
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return usageError("%v", err)
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return usageError("%v", err)
		}
		for _, e := range ents {
			ext := filepath.Ext(e.Name())
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".conf" || ext == ".manifest") {
				files = append(files, filepath.Join(a, e.Name()))
			}
		}
	}
	applied, skipped, changed, bad := 0, 0, 0, 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(s.err, "error: %v\n", err)
			bad++
			continue
		}
		res, err := b.FixText(name, string(data), o.breaking)
		if err != nil {
			fmt.Fprintf(s.err, "error: %s\n", report.Clean(err.Error()))
			bad++
			continue
		}
		if res.Kind == "" {
			fmt.Fprintf(s.err, "skipped %s: not a control-plane static pod manifest nor a kubelet or kube-proxy configuration\n", name)
			continue
		}
		for _, a := range res.Applied {
			fmt.Fprintf(s.err, "fixed   %s (%s) cis-%s\n", name, res.Kind, a)
		}
		for _, k := range res.Skipped {
			fmt.Fprintf(s.err, "not fixed %s cis-%s\n", name, k)
		}
		applied += len(res.Applied)
		skipped += len(res.Skipped)
		if res.Text == string(data) {
			continue
		}
		changed++
		if !o.write {
			if err := writeUnifiedDiff(s.out, name, string(data), res.Text, true); err != nil {
				return err
			}
			continue
		}
		if err := writeFixed(name, []byte(res.Text), args); err != nil {
			fmt.Fprintf(s.err, "not written %s: %v\n", name, err)
			bad++
		}
	}
	verb := "would change"
	if o.write {
		verb = "changed"
	}
	fmt.Fprintf(s.err, "%d fixes %s %d files; %d not made\n", applied, verb, changed, skipped)
	if bad > 0 {
		return &exitError{code: ExitError}
	}
	return nil
}
