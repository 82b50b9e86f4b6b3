package source

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// KustomizationFiles are the names kustomize recognises.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// KustomizationFile returns the kustomization file of dir, or "".
func KustomizationFile(dir string) string {
	for _, n := range KustomizationFiles {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

const originAnnotation = "config.kubernetes.io/origin"

// originFS reads the top kustomization with buildMetadata: [originAnnotations]
// added, so that every built object says which file it came from.
type originFS struct {
	filesys.FileSystem
	top string
}

func (f originFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil || filepath.Clean(path) != f.top {
		return data, err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil // kustomize reports what is wrong with it
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "buildMetadata" {
			m.Content[i+1].Content = append(m.Content[i+1].Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "originAnnotations"})
			return yaml.Marshal(&doc)
		}
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: "buildMetadata"},
		&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "originAnnotations"}}})
	return yaml.Marshal(&doc)
}

// Kustomize builds the kustomization in dir in-process (overlays, patches,
// components) and returns its objects, each pointing at the resource file it
// came from (kustomize's origin annotation): positions are those of the field
// in that file, or of its nearest ancestor there when a patch added it.
// What kustomize warns about (deprecated fields) comes back as notices.
func Kustomize(dir string) (objs []*manifest.Object, errs, notices []manifest.InputError) {
	kfile := KustomizationFile(dir)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, []manifest.InputError{{File: kfile, Message: err.Error()}}, nil
	}
	fs := originFS{FileSystem: filesys.MakeFsOnDisk(), top: filepath.Join(abs, filepath.Base(kfile))}
	var m resmap.ResMap
	warnings := captureStderr(func() {
		m, err = krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, abs)
	})
	for _, w := range warnings {
		notices = append(notices, manifest.InputError{File: kfile, Message: "kustomize: " + w})
	}
	if err != nil {
		return nil, []manifest.InputError{{File: kfile, Line: 1, Message: "kustomize build failed: " + err.Error()}}, notices
	}
	sources := map[string][]*manifest.Object{}
	for _, r := range m.Resources() {
		origin := r.GetAnnotations()[originAnnotation]
		if origin != "" {
			anns := r.GetAnnotations()
			delete(anns, originAnnotation)
			if err := r.SetAnnotations(anns); err != nil {
				errs = append(errs, manifest.InputError{File: kfile, Message: err.Error()})
				continue
			}
		}
		data, err := r.AsYAML()
		if err != nil {
			errs = append(errs, manifest.InputError{File: kfile, Message: fmt.Sprintf("rendering %s: %v", r.CurId(), err)})
			continue
		}
		file := originPath(origin, abs)
		display := kfile
		if file != "" {
			display = relTo(dir, abs, file)
		}
		built, perrs := manifest.Parse(display, data)
		errs = append(errs, perrs...)
		for _, o := range built {
			if file != "" {
				if _, ok := sources[file]; !ok {
					raw, err := os.ReadFile(file) //nolint:gosec // a file the kustomization names
					if err == nil {
						sources[file], _ = manifest.Parse(display, raw)
					}
				}
				if src := matchSource(sources[file], o); src != nil {
					o.UseSourceOf(src)
				}
			}
			objs = append(objs, o)
		}
	}
	return objs, errs, notices
}

// originPath reads the path of an origin annotation, absolute.
func originPath(origin, root string) string {
	if origin == "" {
		return ""
	}
	var o struct {
		Path         string `yaml:"path"`
		ConfiguredIn string `yaml:"configuredIn"`
	}
	if yaml.Unmarshal([]byte(origin), &o) != nil {
		return ""
	}
	p := o.Path
	if p == "" {
		p = o.ConfiguredIn
	}
	if p == "" || strings.Contains(p, "://") {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	return filepath.Clean(p)
}

// relTo shows file relative to the scanned dir's parent as the user typed it.
func relTo(dir, abs, file string) string {
	rel, err := filepath.Rel(abs, file)
	if err != nil {
		return file
	}
	return filepath.Join(dir, rel)
}

// matchSource finds the object a built object came from: same kind and name,
// or the one object of that kind whose name a prefix or suffix changed.
func matchSource(srcs []*manifest.Object, o *manifest.Object) *manifest.Object {
	var candidates []*manifest.Object
	for _, s := range srcs {
		if s.Kind != o.Kind {
			continue
		}
		if s.Name == o.Name {
			return s
		}
		if s.Name != "" && strings.Contains(o.Name, s.Name) {
			candidates = append(candidates, s)
		}
	}
	if len(candidates) == 1 {
		return candidates[0]
	}
	return nil
}

// stderrMu serialises captureStderr: os.Stderr is one variable per process.
var stderrMu sync.Mutex

// captureStderr runs f with os.Stderr redirected and returns the distinct
// lines written to it: kustomize prints its deprecation warnings there,
// once per kustomization and root, which would bury a scan's own output.
// Lines are read whatever their length, so kustomize never blocks on a full
// pipe; at most 100 distinct lines of 1 KiB are kept.
func captureStderr(f func()) (lines []string) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		f()
		return nil
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan []string, 1)
	go func() {
		var got []string
		seen := map[string]bool{}
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			l = strings.TrimSpace(strings.TrimPrefix(l, "# Warning:"))
			if len(l) > 1024 {
				l = l[:1024] + "…"
			}
			if l != "" && !seen[l] && len(got) < 100 {
				seen[l] = true
				got = append(got, l)
			}
			if err != nil {
				break
			}
		}
		done <- got
	}()
	// Restored, closed and drained even if f panics.
	defer func() {
		os.Stderr = saved
		_ = w.Close()
		lines = <-done
		_ = r.Close()
	}()
	f()
	return nil
}
