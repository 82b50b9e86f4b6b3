package report

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

// SARIF writes SARIF 2.1.0: one rule per check that ran, results with file
// URIs relative to the scan root (%SRCROOT%) and line/column regions, and
// input errors as tool notifications.
type SARIF struct{}

const sarifSchema = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	Invocations        []sarifInvocation           `json:"invocations"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string          `json:"id"`
	Name                 string          `json:"name"`
	ShortDescription     sarifText       `json:"shortDescription"`
	FullDescription      sarifText       `json:"fullDescription"`
	Help                 sarifText       `json:"help"`
	HelpURI              string          `json:"helpUri,omitempty"`
	DefaultConfiguration sarifRuleConfig `json:"defaultConfiguration"`
	Properties           sarifRuleProps  `json:"properties"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
	Precision        string   `json:"precision"`
	ProblemSeverity  string   `json:"problem.severity"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           *sarifRegion     `json:"region,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations"`
	RelatedLocations    []sarifRelated     `json:"relatedLocations,omitempty"`
	PartialFingerprints sarifFingerprints  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Fixes               []sarifFix         `json:"fixes,omitempty"`
	Properties          sarifResultProps   `json:"properties"`
}

// sarifFix is one way to resolve a result (SARIF 2.1.0 §3.55): the text
// changes that make it, for code-scanning tools to offer.
type sarifFix struct {
	Description     sarifText             `json:"description"`
	ArtifactChanges []sarifArtifactChange `json:"artifactChanges"`
}

type sarifArtifactChange struct {
	ArtifactLocation sarifArtifactLoc   `json:"artifactLocation"`
	Replacements     []sarifReplacement `json:"replacements"`
}

type sarifReplacement struct {
	DeletedRegion   sarifSpan  `json:"deletedRegion"`
	InsertedContent *sarifText `json:"insertedContent,omitempty"`
}

// sarifSpan is a region with an end: the end column is that of the first
// character after the region; start equal to end is an insertion point.
type sarifSpan struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

type sarifRelated struct {
	ID               int            `json:"id"`
	PhysicalLocation *sarifPhysical `json:"physicalLocation"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

type sarifFingerprints struct {
	Rampart string `json:"rampart/v1"`
}

type sarifResultProps struct {
	Field       string `json:"field,omitempty"`
	Severity    string `json:"severity"`
	Remediation string `json:"remediation"`
}

func sarifLevel(s check.Severity) string {
	switch {
	case s >= check.High:
		return "error"
	case s == check.Medium:
		return "warning"
	default:
		return "note"
	}
}

// Write implements Reporter.
func (SARIF) Write(w io.Writer, res *engine.Result, opts Options) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           "rampart",
			Version:        opts.Version,
			InformationURI: "https://github.com/rampart-k8s/rampart",
			Rules:          []sarifRule{},
		}},
		Results: []sarifResult{},
	}
	if opts.Root != "" {
		root := filepath.ToSlash(opts.Root)
		if !strings.HasSuffix(root, "/") {
			root += "/"
		}
		if !strings.HasPrefix(root, "/") {
			root = "/" + root
		}
		run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{"%SRCROOT%": {URI: (&url.URL{Scheme: "file", Path: root}).String()}}
	}
	paths := pathCache{root: opts.Root, rel: map[string]sarifArtifactLoc{}}
	ruleIndex := map[string]int{}
	for _, c := range res.Checks {
		ruleIndex[c.ID] = len(run.Tool.Driver.Rules)
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(c))
	}
	add := func(f check.Finding, sup *sarifSuppression) {
		r := sarifResult{
			RuleID:              f.CheckID,
			RuleIndex:           ruleIndex[f.CheckID],
			Level:               sarifLevel(f.Severity),
			Message:             sarifText{Text: f.Object.String() + ": " + f.Message},
			Locations:           []sarifLocation{paths.locationFor(f.Location, f.Object)},
			PartialFingerprints: sarifFingerprints{Rampart: fingerprint(f.CheckID, f.Object.String(), f.Field, f.Message)},
			Properties:          sarifResultProps{Field: f.Field, Severity: f.Severity.String(), Remediation: f.Remediation},
		}
		if sup != nil {
			r.Suppressions = []sarifSuppression{*sup}
		}
		r.Fixes = sarifFixes(f, paths)
		for i, rel := range f.Related {
			phys := &sarifPhysical{ArtifactLocation: paths.artifact(rel.File)}
			if rel.Line > 0 {
				phys.Region = &sarifRegion{StartLine: rel.Line, StartColumn: rel.Column}
			}
			r.RelatedLocations = append(r.RelatedLocations, sarifRelated{ID: i + 1, PhysicalLocation: phys})
		}
		run.Results = append(run.Results, r)
	}
	for _, f := range res.Findings {
		add(f, nil)
	}
	for _, s := range res.Suppressed {
		add(s.Finding, &sarifSuppression{Kind: s.Kind, Justification: s.Justification + " (" + s.By + ")"})
	}
	inv := sarifInvocation{ExecutionSuccessful: len(res.Errors) == 0 && len(res.NotEvaluated) == 0}
	for _, n := range res.NotEvaluated {
		inv.Notifications = append(inv.Notifications, sarifNotification{Level: "error", Message: sarifText{Text: "not evaluated: cannot " + n.Verb + " " + n.Resource + ": " + n.Reason}})
	}
	for i, e := range append(append([]manifest.InputError{}, res.Errors...), res.Notices...) {
		level := "error"
		if i >= len(res.Errors) {
			level = "note"
		}
		n := sarifNotification{Level: level, Message: sarifText{Text: e.Message}}
		if e.File != "" {
			p := &sarifPhysical{ArtifactLocation: paths.artifact(e.File)}
			if e.Line > 0 {
				p.Region = &sarifRegion{StartLine: e.Line}
			}
			n.Locations = []sarifLocation{{PhysicalLocation: p}}
		}
		inv.Notifications = append(inv.Notifications, n)
	}
	run.Invocations = []sarifInvocation{inv}
	// Compact: SARIF logs are read by tools, and indenting tens of thousands
	// of results costs more than computing them.
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := json.NewEncoder(bw).Encode(sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}}); err != nil {
		return err
	}
	return bw.Flush()
}

func sarifRuleFor(c check.Check) sarifRule {
	help := c.Remediation
	md := "**" + c.Title + "**\n\n" + c.Description + "\n\n**Remediation:** " + c.Remediation
	helpURI := ""
	var refs []string
	for _, r := range c.References {
		if r.URL != "" && helpURI == "" {
			helpURI = r.URL
		}
		label := r.Title
		if label == "" {
			label = r.ID
		}
		if r.URL != "" {
			refs = append(refs, "- ["+label+"]("+r.URL+")")
		} else {
			refs = append(refs, "- "+label)
		}
	}
	if len(refs) > 0 {
		md += "\n\n**References:**\n" + strings.Join(refs, "\n")
	}
	return sarifRule{
		ID:                   c.ID,
		Name:                 ruleName(c.Title),
		ShortDescription:     sarifText{Text: c.Title},
		FullDescription:      sarifText{Text: c.Description},
		Help:                 sarifText{Text: help, Markdown: md},
		HelpURI:              helpURI,
		DefaultConfiguration: sarifRuleConfig{Level: sarifLevel(c.Severity)},
		Properties: sarifRuleProps{
			Tags:             []string{"security", "kubernetes", string(c.Category)},
			SecuritySeverity: c.Severity.SecurityScore(),
			Precision:        "very-high",
			ProblemSeverity:  map[string]string{"error": "error", "warning": "warning", "note": "recommendation"}[sarifLevel(c.Severity)],
		},
	}
}

// ruleName turns a title into the PascalCase identifier SARIF suggests.
func ruleName(title string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(title, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// pathCache computes each file's artifact location once.
type pathCache struct {
	root string
	rel  map[string]sarifArtifactLoc
}

func (c *pathCache) artifact(file string) sarifArtifactLoc {
	if a, ok := c.rel[file]; ok {
		return a
	}
	a := artifact(file, c.root)
	c.rel[file] = a
	return a
}

func artifact(file, root string) sarifArtifactLoc {
	rel := relPath(root, file)
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return sarifArtifactLoc{URI: (&url.URL{Scheme: "file", Path: rel}).String()}
	}
	return sarifArtifactLoc{URI: (&url.URL{Path: rel}).String(), URIBaseID: "%SRCROOT%"}
}

func (c *pathCache) locationFor(p *manifest.Location, obj check.ObjectRef) sarifLocation {
	l := sarifLocation{LogicalLocations: []sarifLogical{{FullyQualifiedName: obj.String(), Kind: "object"}}}
	if p != nil && p.File != "" {
		phys := &sarifPhysical{ArtifactLocation: c.artifact(p.File)}
		if p.Line > 0 {
			phys.Region = &sarifRegion{StartLine: p.Line, StartColumn: p.Column}
		}
		l.PhysicalLocation = phys
	}
	return l
}

func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// sarifFixes are the fixes of f that carry text edits (scan computes them
// for SARIF on plain manifest files); a breaking fix says so.
func sarifFixes(f check.Finding, paths pathCache) []sarifFix {
	var out []sarifFix
	for _, fx := range f.Fixes {
		if len(fx.TextEdits) == 0 {
			continue
		}
		desc := fx.Message
		if fx.Breaking {
			desc += " (breaking: the workload may stop working; check before applying)"
		}
		sf := sarifFix{Description: sarifText{Text: desc}}
		byFile := map[string]int{}
		for _, te := range fx.TextEdits {
			i, ok := byFile[te.File]
			if !ok {
				i = len(sf.ArtifactChanges)
				byFile[te.File] = i
				sf.ArtifactChanges = append(sf.ArtifactChanges, sarifArtifactChange{ArtifactLocation: paths.artifact(te.File)})
			}
			rep := sarifReplacement{DeletedRegion: sarifSpan{StartLine: te.Line, StartColumn: te.Column, EndLine: te.EndLine, EndColumn: te.EndColumn}}
			if te.NewText != "" {
				rep.InsertedContent = &sarifText{Text: te.NewText}
			}
			sf.ArtifactChanges[i].Replacements = append(sf.ArtifactChanges[i].Replacements, rep)
		}
		out = append(out, sf)
	}
	return out
}
