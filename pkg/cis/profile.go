package cis

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is a managed platform's share of a benchmark.
type Profile struct {
	Name     string
	Title    string            `yaml:"title"`
	Provider []ProviderShare   `yaml:"provider"`
	Manual   map[string]string `yaml:"manual"`
}

// ProviderShare is a set of controls (IDs or section prefixes) the
// provider is responsible for.
type ProviderShare struct {
	Controls []string `yaml:"controls"`
	Reason   string   `yaml:"reason"`
}

func loadProfiles(b *Benchmark) (map[string]*Profile, error) {
	data, err := benchmarkFS.ReadFile("benchmarks/" + b.ID + ".profiles.yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ps map[string]*Profile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&ps); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	var errs []error
	for name, p := range ps {
		p.Name = name
		for _, s := range p.Provider {
			for _, id := range s.Controls {
				if !b.hasPrefix(id) {
					errs = append(errs, fmt.Errorf("profile %s: no control or section %s", name, id))
				}
			}
		}
		for id := range p.Manual {
			if b.Control(id) == nil {
				errs = append(errs, fmt.Errorf("profile %s: no control %s", name, id))
			}
		}
	}
	return ps, errors.Join(errs...)
}

func (b *Benchmark) hasPrefix(id string) bool {
	for _, c := range b.Controls {
		if c.ID == id || strings.HasPrefix(c.ID, id+".") {
			return true
		}
	}
	return false
}

// ProfileNames lists the benchmark's profiles ("generic" first).
func (b *Benchmark) ProfileNames() []string {
	names := []string{"generic"}
	var rest []string
	for n := range b.Profiles {
		rest = append(rest, n)
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// Apply rewrites results for a profile: the provider's controls are not
// applicable (with the reason), the platform's manual ones warnings.
func (p *Profile) Apply(b *Benchmark, rs []Result) {
	if p == nil {
		return
	}
	for i := range rs {
		r := &rs[i]
		for _, s := range p.Provider {
			for _, id := range s.Controls {
				if r.ID == id || strings.HasPrefix(r.ID, id+".") {
					r.Status, r.Reason, r.Evidence, r.Findings, r.NodeOnly = NotApplicable, p.Title+": "+s.Reason, nil, nil, false
				}
			}
		}
		if text, ok := p.Manual[r.ID]; ok {
			r.Status, r.Reason, r.Evidence, r.NodeOnly = Warn, text, nil, false
			r.Findings = nil
			b.findings(b.Control(r.ID), r)
		}
	}
}
