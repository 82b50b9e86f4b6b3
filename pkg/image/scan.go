package image

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

// CheckVulnerability is the check ID of a vulnerable package's finding.
const CheckVulnerability = "image-vulnerability"

// ScanOptions tune a scan.
type ScanOptions struct {
	// DB is the advisory database; nil lists packages only.
	DB *vuln.DB
	// IgnoreUnfixed leaves out advisories with no fixed version.
	IgnoreUnfixed bool
	// Now is the day end-of-life dates are judged against.
	Now time.Time
	// VEX statements silence advisories that do not affect the image.
	VEX *vuln.VEX
}

// Report is what an image holds and what affects it.
type Report struct {
	Image  string  `json:"image"`
	Digest string  `json:"digest"`
	OS     Distro  `json:"os"`
	Layers []Layer `json:"layers"`
	// Created is when the image was built (its configuration's).
	Created  time.Time `json:"created,omitzero"`
	Size     int64     `json:"size"`
	Packages []Package `json:"packages"`
	// Vulnerabilities pair a package with an advisory that affects it.
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	// Findings are the vulnerabilities and hygiene problems as findings.
	Findings []finding.Finding `json:"findings"`
	// Silenced are the advisories a VEX statement says do not apply.
	Silenced []Silenced `json:"suppressed,omitempty"`
}

// Silenced is a finding a VEX statement silences, with the statement.
type Silenced struct {
	Finding finding.Finding `json:"finding"`
	Reason  string          `json:"justification"`
}

// Vulnerability is a package affected by an advisory.
type Vulnerability struct {
	Package Package    `json:"package"`
	Match   vuln.Match `json:"advisory"`
}

// Scan reads, flattens, inventories and matches one image.
func Scan(ctx context.Context, src Source, opts ScanOptions) (*Report, error) {
	img, err := Open(ctx, src)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	fsys, err := Flatten(img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	rep := &Report{Image: src.String(), Digest: digest.String(), OS: fsys.OS(), Layers: fsys.Layers, Size: fsys.Size, Packages: fsys.Packages(),
		Vulnerabilities: []Vulnerability{}, Findings: []finding.Finding{}}
	if rep.Packages == nil {
		rep.Packages = []Package{}
	}
	if fsys.Config != nil {
		rep.Created = fsys.Config.Created.Time
	}
	rep.Match(opts)
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep.Hygiene(fsys, now)
	return rep, nil
}

// Match pairs each package with the advisories that affect it (none
// without a database): distro packages by their source package and the
// distro release, language packages by their ecosystem.
func (r *Report) Match(opts ScanOptions) {
	if opts.DB == nil {
		return
	}
	for _, p := range r.Packages {
		if p.Ecosystem == "" {
			continue // a distribution OSV has no advisories for
		}
		name := p.Name
		version := p.Version
		if p.Type == "deb" || p.Type == "apk" {
			name = p.Source
			if p.SourceVersion != "" && p.Type == "deb" {
				version = p.SourceVersion
			}
		}
		for _, m := range opts.DB.Match(vuln.Query{Ecosystem: p.Ecosystem, Name: name, Version: version}) {
			if opts.IgnoreUnfixed && m.Fixed == "" {
				continue
			}
			if reason, ok := opts.VEX.Silences(append([]string{m.ID}, m.Aliases...), p.PURL, r.Image, r.Digest); ok {
				r.Silenced = append(r.Silenced, Silenced{Finding: r.finding(Vulnerability{Package: p, Match: m}), Reason: reason})
				continue
			}
			r.Vulnerabilities = append(r.Vulnerabilities, Vulnerability{Package: p, Match: m})
		}
	}
	sort.SliceStable(r.Vulnerabilities, func(i, j int) bool {
		a, b := r.Vulnerabilities[i], r.Vulnerabilities[j]
		if a.Match.ID != b.Match.ID {
			return a.Match.ID < b.Match.ID
		}
		return a.Package.PURL < b.Package.PURL
	})
	for _, v := range r.Vulnerabilities {
		r.Findings = append(r.Findings, r.finding(v))
	}
}

// finding is a vulnerable package as a finding: on the image, the field
// naming the package and the advisory, with the layer that added it.
func (r *Report) finding(v Vulnerability) finding.Finding {
	p, m := v.Package, v.Match
	sev := finding.Medium // an advisory without a severity: not less
	if s, err := finding.ParseSeverity(m.Severity); err == nil && m.Severity != "" {
		sev = s
	}
	ids := m.ID
	if len(m.Aliases) > 0 {
		ids += " (" + strings.Join(m.Aliases, ", ") + ")"
	}
	msg := fmt.Sprintf("%s %s: %s", p.Name, p.Version, ids)
	if m.Summary != "" {
		msg += ": " + m.Summary
	}
	rem := "No fixed version is known yet: watch the advisory, or remove the package if the image does not need it."
	if m.Fixed != "" {
		msg += "; fixed in " + m.Fixed
		rem = fmt.Sprintf("Upgrade %s to %s or later", p.Name, m.Fixed)
		if p.Type == "deb" || p.Type == "apk" {
			rem += " (rebuild on an updated base image, or upgrade the package in the Dockerfile)"
		}
		rem += "."
	}
	if p.Layer < len(r.Layers) {
		l := r.Layers[p.Layer]
		msg += fmt.Sprintf(" [layer %d", l.Index)
		if l.CreatedBy != "" {
			msg += ": " + shorten(l.CreatedBy, 80)
		}
		msg += "]"
	}
	return finding.Finding{
		CheckID: CheckVulnerability, Category: finding.CategoryImages, Severity: sev,
		Title:       "Image package with a known vulnerability",
		Message:     msg,
		Object:      finding.ObjectRef{Kind: "Image", Name: r.Image},
		Field:       "packages[" + p.PURL + "].vulnerabilities[" + m.ID + "]",
		Remediation: rem,
	}
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
