package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"
)

// SBOM formats.
const (
	CycloneDX = "cyclonedx"
	SPDX      = "spdx"
)

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxComponent struct {
	// Components are nested components (read from other producers' SBOMs).
	Components []cdxComponent `json:"components,omitempty"`
	Type       string         `json:"type"`
	BOMRef     string         `json:"bom-ref,omitempty"`
	Name       string         `json:"name"`
	Version    string         `json:"version,omitempty"`
	PURL       string         `json:"purl,omitempty"`
	Properties []cdxProperty  `json:"properties,omitempty"`
}

type cdxBOM struct {
	BOMFormat    string `json:"bomFormat"`
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber,omitempty"`
	Version      int    `json:"version"`
	Metadata     struct {
		Timestamp string `json:"timestamp,omitempty"`
		Tools     struct {
			Components []cdxComponent `json:"components"`
		} `json:"tools"`
		Component *cdxComponent `json:"component,omitempty"`
	} `json:"metadata"`
	Components []cdxComponent `json:"components"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxPackage struct {
	Name             string    `json:"name"`
	SPDXID           string    `json:"SPDXID"`
	VersionInfo      string    `json:"versionInfo,omitempty"`
	DownloadLocation string    `json:"downloadLocation"`
	FilesAnalyzed    bool      `json:"filesAnalyzed"`
	SourceInfo       string    `json:"sourceInfo,omitempty"`
	ExternalRefs     []spdxRef `json:"externalRefs,omitempty"`
	PrimaryPurpose   string    `json:"primaryPackagePurpose,omitempty"`
}

type spdxDoc struct {
	SPDXVersion       string `json:"spdxVersion"`
	DataLicense       string `json:"dataLicense"`
	SPDXID            string `json:"SPDXID"`
	Name              string `json:"name"`
	DocumentNamespace string `json:"documentNamespace"`
	CreationInfo      struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	} `json:"creationInfo"`
	Packages      []spdxPackage `json:"packages"`
	Relationships []struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	} `json:"relationships"`
}

// created is the image's creation time (deterministic), or the epoch.
func (r *Report) created() time.Time {
	if r.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return r.Created.UTC()
}

// WriteSBOM writes the report's packages as a CycloneDX 1.5 or SPDX 2.3
// JSON document: the image as the subject, every package with its PURL,
// and Rampart's properties (the layer and the file that lists it). The same
// image gives the same bytes.
func (r *Report) WriteSBOM(w io.Writer, format, toolVersion string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	sum := sha256.Sum256([]byte(r.Digest + r.Image))
	switch format {
	case CycloneDX:
		var bom cdxBOM
		bom.BOMFormat, bom.SpecVersion, bom.Version = "CycloneDX", "1.5", 1
		u := hex.EncodeToString(sum[:16])
		bom.SerialNumber = fmt.Sprintf("urn:uuid:%s-%s-5%s-8%s-%s", u[:8], u[8:12], u[13:16], u[17:20], u[20:32])
		bom.Metadata.Timestamp = r.created().Format(time.RFC3339)
		bom.Metadata.Tools.Components = []cdxComponent{{Type: "application", Name: "rampart", Version: toolVersion}}
		bom.Metadata.Component = &cdxComponent{Type: "container", BOMRef: r.Image, Name: r.Image, Version: r.Digest}
		bom.Components = []cdxComponent{}
		refs := map[string]int{}
		for _, p := range r.Packages {
			ref := p.PURL + "#" + p.Path
			if n := refs[ref]; n > 0 {
				ref = fmt.Sprintf("%s:%d", ref, n) // the same package twice in one file (nested lockfile entries)
			}
			refs[p.PURL+"#"+p.Path]++
			c := cdxComponent{Type: "library", BOMRef: ref, Name: p.Name, Version: p.Version, PURL: p.PURL,
				Properties: []cdxProperty{{"rampart:type", p.Type}, {"rampart:ecosystem", p.Ecosystem}, {"rampart:path", p.Path}, {"rampart:layer", strconv.Itoa(p.Layer)}}}
			if p.Source != "" {
				c.Properties = append(c.Properties, cdxProperty{"rampart:source", p.Source})
			}
			if p.SourceVersion != "" {
				c.Properties = append(c.Properties, cdxProperty{"rampart:sourceVersion", p.SourceVersion})
			}
			bom.Components = append(bom.Components, c)
		}
		return enc.Encode(bom)
	case SPDX:
		var doc spdxDoc
		doc.SPDXVersion, doc.DataLicense, doc.SPDXID, doc.Name = "SPDX-2.3", "CC0-1.0", "SPDXRef-DOCUMENT", r.Image
		doc.DocumentNamespace = "https://rampart.dev/spdx/" + hex.EncodeToString(sum[:])
		doc.CreationInfo.Created = r.created().Format(time.RFC3339)
		doc.CreationInfo.Creators = []string{"Tool: rampart-" + toolVersion}
		doc.Packages = []spdxPackage{{Name: r.Image, SPDXID: "SPDXRef-Image", VersionInfo: r.Digest, DownloadLocation: "NOASSERTION", PrimaryPurpose: "CONTAINER"}}
		rel := func(a, t, b string) {
			doc.Relationships = append(doc.Relationships, struct {
				Element string `json:"spdxElementId"`
				Type    string `json:"relationshipType"`
				Related string `json:"relatedSpdxElement"`
			}{a, t, b})
		}
		rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")
		for i, p := range r.Packages {
			id := fmt.Sprintf("SPDXRef-Package-%d", i+1)
			sp := spdxPackage{Name: p.Name, SPDXID: id, VersionInfo: p.Version, DownloadLocation: "NOASSERTION",
				SourceInfo: fmt.Sprintf("%s, layer %d", p.Path, p.Layer), ExternalRefs: []spdxRef{{"PACKAGE-MANAGER", "purl", p.PURL}}}
			doc.Packages = append(doc.Packages, sp)
			rel("SPDXRef-Image", "CONTAINS", id)
		}
		return enc.Encode(doc)
	}
	return fmt.Errorf("unknown SBOM format %q (want cyclonedx or spdx)", format)
}

// ReadSBOM reads the packages of a CycloneDX or SPDX JSON document (its
// components' or packages' PURLs) into a report, instead of an image.
func ReadSBOM(file string) (*Report, error) {
	f, err := os.Open(file) //nolint:gosec // the document the user names
	if err != nil {
		return nil, fmt.Errorf("--sbom: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("--sbom: %w", err)
	}
	var probe struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("--sbom %s: %w", file, err)
	}
	rep := &Report{Image: "sbom:" + file}
	var purls []struct{ purl, path string }
	switch {
	case probe.BOMFormat == "CycloneDX":
		var bom cdxBOM
		if err := json.Unmarshal(data, &bom); err != nil {
			return nil, fmt.Errorf("--sbom %s: %w", file, err)
		}
		if c := bom.Metadata.Component; c != nil {
			rep.Image, rep.Digest = c.Name, c.Version
		}
		var walk func([]cdxComponent)
		walk = func(cs []cdxComponent) {
			for _, c := range cs {
				walk(c.Components)
				path := ""
				for _, p := range c.Properties {
					if p.Name == "rampart:path" {
						path = p.Value
					}
				}
				if c.PURL != "" {
					purls = append(purls, struct{ purl, path string }{c.PURL, path})
				}
			}
		}
		walk(bom.Components)
	case strings.HasPrefix(probe.SPDXVersion, "SPDX-"):
		var doc spdxDoc
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("--sbom %s: %w", file, err)
		}
		rep.Image = doc.Name
		for _, p := range doc.Packages {
			for _, ref := range p.ExternalRefs {
				if ref.Type == "purl" {
					path, _, _ := strings.Cut(p.SourceInfo, ", layer")
					purls = append(purls, struct{ purl, path string }{ref.Locator, path})
				}
			}
		}
	default:
		return nil, fmt.Errorf("--sbom %s: neither CycloneDX nor SPDX JSON", file)
	}
	for _, x := range purls {
		p, err := FromPURL(x.purl)
		if err != nil {
			continue // a component of a type no advisory database knows
		}
		p.Path = x.path
		rep.Packages = append(rep.Packages, p)
	}
	sort.SliceStable(rep.Packages, func(i, j int) bool { return rep.Packages[i].PURL < rep.Packages[j].PURL })
	return rep, nil
}

// FromPURL turns a PURL into a package with its OSV ecosystem: deb and apk
// with their distro qualifier (distro=debian-12, distro=alpine-3.20.3) and
// source (upstream=openssl), golang, npm, pypi, maven.
func FromPURL(s string) (Package, error) {
	u, err := packageurl.FromString(s)
	if err != nil {
		return Package{}, err
	}
	q := u.Qualifiers.Map()
	p := Package{Name: u.Name, Version: u.Version, PURL: s}
	switch u.Type {
	case "deb":
		p.Type = "deb"
		p.Ecosystem = distroOf(u.Namespace, q["distro"]).ecosystem()
		p.Source, p.SourceVersion = sourceOf(q["upstream"], u.Name)
	case "apk":
		p.Type = "apk"
		p.Ecosystem = distroOf(u.Namespace, q["distro"]).ecosystem()
		p.Source, _ = sourceOf(q["upstream"], u.Name)
	case "golang":
		p.Type, p.Ecosystem = "go-module", "Go"
		if u.Namespace != "" {
			p.Name = u.Namespace + "/" + u.Name
		}
		if p.Name == "stdlib" {
			p.Type = "go-stdlib"
		}
	case "npm":
		p.Type, p.Ecosystem = "npm", "npm"
		if u.Namespace != "" {
			p.Name = u.Namespace + "/" + u.Name
		}
	case "pypi":
		p.Type, p.Ecosystem = "pypi", "PyPI"
	case "maven":
		p.Type, p.Ecosystem = "maven", "Maven"
		p.Name = u.Namespace + ":" + u.Name
	case "rpm":
		p.Type = "rpm"
		p.Ecosystem = distroOf(u.Namespace, q["distro"]).ecosystem()
		if e := q["epoch"]; e != "" && e != "0" {
			p.Version = e + ":" + p.Version
		}
		p.Source = u.Name
		if n := srpmName(q["upstream"]); n != "" {
			p.Source = n
		}
	default:
		return Package{}, errors.New("unsupported PURL type " + u.Type)
	}
	if p.Version == "" {
		return Package{}, errors.New("no version")
	}
	return p, nil
}

// distroOf reads a distro qualifier ("debian-12"), else the namespace.
func distroOf(namespace, qualifier string) Distro {
	if qualifier == "" {
		return Distro{ID: namespace}
	}
	id, v, _ := strings.Cut(qualifier, "-")
	return Distro{ID: id, Version: v}
}

// sourceOf reads an upstream qualifier (source[@version]).
func sourceOf(upstream, name string) (string, string) {
	if upstream == "" {
		return name, ""
	}
	src, version, _ := strings.Cut(upstream, "@")
	return src, version
}
