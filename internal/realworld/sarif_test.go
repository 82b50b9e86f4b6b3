package realworld

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

type sarifFixLog struct {
	Runs []struct {
		OriginalURIBaseIDs map[string]struct{ URI string } `json:"originalUriBaseIds"`
		Results            []struct {
			RuleID     string                `json:"ruleId"`
			Message    struct{ Text string } `json:"message"`
			Properties struct {
				Field string `json:"field"`
			} `json:"properties"`
			Fixes []struct {
				Description     struct{ Text string } `json:"description"`
				ArtifactChanges []struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Replacements []struct {
						DeletedRegion struct {
							StartLine, StartColumn, EndLine, EndColumn int
						} `json:"deletedRegion"`
						InsertedContent *struct{ Text string } `json:"insertedContent"`
					} `json:"replacements"`
				} `json:"artifactChanges"`
			} `json:"fixes"`
		} `json:"results"`
	} `json:"runs"`
}

// TestSARIFFixesOnCorpus: on the public install bundles and what the public
// charts render to (written to a plain file), every fix scan -o sarif
// offers, made on the file as it is, leaves a document that parses, and the
// check no longer reports the finding on it.
func TestSARIFFixesOnCorpus(t *testing.T) {
	byID := map[string]check.Check{}
	for _, c := range checks.Builtin() {
		byID[c.ID] = c
	}
	opts := engine.Options{PSS: api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}}
	made, bundles := 0, 0 // bundles: the bundles and rendered charts read
	for _, m := range Corpus {
		dir, err := Fetch(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range m.Inputs {
			path := Path(dir, in)
			switch in.Kind {
			case Bundle:
			case Chart:
				// What `helm template` writes, scanned as the plain file CI
				// pipelines often keep.
				text, _, err := helmRender(path)
				if err != nil {
					continue // inputs that do not render are TestCorpus's
				}
				path = filepath.Join(t.TempDir(), "rendered.yaml")
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			default:
				continue
			}
			bundles++
			out, errs, _ := run(t, "scan", path, "-o", "sarif", "--fail-on", "none")
			var log sarifFixLog
			if err := json.Unmarshal([]byte(out), &log); err != nil {
				t.Fatalf("%s: %v\n%s", path, err, errs)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			for _, r := range log.Runs[0].Results {
				for _, fx := range r.Fixes {
					if len(fx.ArtifactChanges) != 1 || len(fx.ArtifactChanges[0].Replacements) != 1 {
						t.Fatalf("%s: want one change of one file: %+v", path, fx)
					}
					ac := fx.ArtifactChanges[0]
					if file := sarifFile(t, ac.ArtifactLocation.URI, ac.ArtifactLocation.URIBaseID); file != filepath.Clean(path) {
						t.Fatalf("fix of %s names %s", path, file)
					}
					rep := ac.Replacements[0]
					start := offsetOf(text, rep.DeletedRegion.StartLine, rep.DeletedRegion.StartColumn)
					end := offsetOf(text, rep.DeletedRegion.EndLine, rep.DeletedRegion.EndColumn)
					if start < 0 || end < start {
						t.Fatalf("%s: region %+v outside the file", path, rep.DeletedRegion)
					}
					inserted := ""
					if rep.InsertedContent != nil {
						inserted = rep.InsertedContent.Text
					}
					after := text[:start] + inserted + text[end:]
					doc := documentAround(after, start)
					objs, perrs := manifest.Parse(path, []byte(doc))
					if len(perrs) > 0 {
						t.Errorf("%s: %q leaves a document that does not parse: %v", path, fx.Description.Text, perrs[0])
						continue
					}
					c, ok := byID[r.RuleID]
					if !ok {
						t.Fatalf("unknown rule %s", r.RuleID)
					}
					for _, f := range engine.Run([]check.Check{c}, inventory.New(objs), opts).Findings {
						if f.Field == r.Properties.Field && strings.HasSuffix(r.Message.Text, ": "+f.Message) {
							t.Errorf("%s: %q made, %s still reports %s", path, fx.Description.Text, r.RuleID, f.Field)
						}
					}
					made++
				}
			}
		}
	}
	if made < 40 { // 54 when written: public charts are mostly hardened
		t.Fatalf("only %d fixes made on %d files", made, bundles)
	}
	t.Logf("%d SARIF fixes made and checked on %d public bundles and rendered charts", made, bundles)
}

// sarifFile is the path a SARIF artifact URI names.
func sarifFile(t *testing.T, uri, base string) string {
	t.Helper()
	if strings.HasPrefix(uri, "file:") {
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Clean(filepath.FromSlash(u.Path))
	}
	if base != "%SRCROOT%" {
		t.Fatalf("relative URI %s without %%SRCROOT%%", uri)
	}
	p, err := url.PathUnescape(uri)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.FromSlash(p))
}

// offsetOf is the byte offset of a 1-based line and column (columns of
// ASCII text), or -1.
func offsetOf(text string, line, col int) int {
	o := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(text[o:], '\n')
		if i < 0 {
			return -1
		}
		o += i + 1
	}
	if o+col-1 > len(text) {
		return -1
	}
	return o + col - 1
}

// documentAround is the YAML document of text that holds offset.
func documentAround(text string, offset int) string {
	start := strings.LastIndex(text[:offset], "\n---")
	if start < 0 {
		start = 0
	} else {
		start++
	}
	end := strings.Index(text[offset:], "\n---")
	if end < 0 {
		return text[start:]
	}
	return text[start : offset+end+1]
}
