package vuln

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/package-url/packageurl-go"
)

// VEX is a set of OpenVEX statements: what a vendor or a team says of a
// vulnerability in a product (not affected, fixed) silences its findings,
// with the statement's words as the reason.
type VEX struct {
	statements []vexStatement
}

type vexStatement struct {
	source        string
	vulnerability []string // the name and its aliases
	products      []vexProduct
	status        string
	justification string
	impact        string
	action        string
}

type vexProduct struct {
	id            string
	subcomponents []string
}

// openVEX reads both the current form (objects with @id) and the early
// one (plain strings).
type openVEX struct {
	Context    string `json:"@context"`
	Statements []struct {
		Vulnerability   json.RawMessage   `json:"vulnerability"`
		Products        []json.RawMessage `json:"products"`
		Status          string            `json:"status"`
		Justification   string            `json:"justification"`
		ImpactStatement string            `json:"impact_statement"`
		ActionStatement string            `json:"action_statement"`
	} `json:"statements"`
}

// LoadVEX reads OpenVEX documents.
func LoadVEX(files ...string) (*VEX, error) {
	v := &VEX{}
	for _, f := range files {
		data, err := readBounded(f)
		if err != nil {
			return nil, fmt.Errorf("--vex: %w", err)
		}
		var doc openVEX
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("--vex %s: %w", f, err)
		}
		if !strings.Contains(doc.Context, "openvex") {
			return nil, fmt.Errorf("--vex %s: not an OpenVEX document (@context %q)", f, doc.Context)
		}
		for i, s := range doc.Statements {
			st := vexStatement{source: fmt.Sprintf("%s statement %d", f, i), status: s.Status, justification: s.Justification, impact: s.ImpactStatement, action: s.ActionStatement}
			var name string
			var obj struct {
				Name    string   `json:"name"`
				ID      string   `json:"@id"`
				Aliases []string `json:"aliases"`
			}
			if json.Unmarshal(s.Vulnerability, &name) == nil {
				st.vulnerability = []string{name}
			} else if json.Unmarshal(s.Vulnerability, &obj) == nil {
				st.vulnerability = append([]string{obj.Name, obj.ID}, obj.Aliases...)
			}
			for _, raw := range s.Products {
				var id string
				var p struct {
					ID            string `json:"@id"`
					Subcomponents []struct {
						ID string `json:"@id"`
					} `json:"subcomponents"`
				}
				switch {
				case json.Unmarshal(raw, &id) == nil:
					st.products = append(st.products, vexProduct{id: id})
				case json.Unmarshal(raw, &p) == nil:
					vp := vexProduct{id: p.ID}
					for _, sc := range p.Subcomponents {
						vp.subcomponents = append(vp.subcomponents, sc.ID)
					}
					st.products = append(st.products, vp)
				}
			}
			switch st.status {
			case "not_affected", "affected", "fixed", "under_investigation":
			default:
				return nil, fmt.Errorf("--vex %s: statement %d: unknown status %q", f, i, st.status)
			}
			if st.status == "not_affected" && st.justification == "" && st.impact == "" {
				return nil, fmt.Errorf("--vex %s: statement %d: not_affected needs a justification or an impact statement", f, i)
			}
			v.statements = append(v.statements, st)
		}
	}
	return v, nil
}

// Silences reports whether a statement says a vulnerability (its ID and
// aliases) does not affect a package (its PURL) in an image (its
// reference or digest): not_affected or fixed, for that package or for the
// whole image. The reason quotes the statement. A later statement about the
// same vulnerability and product wins, as OpenVEX orders them.
func (v *VEX) Silences(ids []string, purl, imageRef, imageDigest string) (reason string, ok bool) {
	if v == nil {
		return "", false
	}
	for i := len(v.statements) - 1; i >= 0; i-- {
		s := v.statements[i]
		if !overlaps(s.vulnerability, ids) || !s.covers(purl, imageRef, imageDigest) {
			continue
		}
		if s.status != "not_affected" && s.status != "fixed" {
			return "", false
		}
		reason = "VEX " + s.status
		if s.justification != "" {
			reason += " (" + s.justification + ")"
		}
		if s.impact != "" {
			reason += ": " + s.impact
		}
		return reason + " [" + s.source + "]", true
	}
	return "", false
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x != "" && strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// covers: the statement names the package (its PURL, qualifiers aside), or
// the image (by reference, digest or pkg:oci PURL) with the package among
// its subcomponents or none listed.
func (s vexStatement) covers(purl, imageRef, digest string) bool {
	for _, p := range s.products {
		if samePURL(p.id, purl) {
			return true
		}
		if isImage(p.id, imageRef, digest) {
			if len(p.subcomponents) == 0 {
				return true
			}
			for _, sc := range p.subcomponents {
				if samePURL(sc, purl) {
					return true
				}
			}
		}
	}
	return false
}

// samePURL: the same package and version, qualifiers and subpath aside; a
// product PURL without a version names every version.
func samePURL(product, pkg string) bool {
	if product == "" || pkg == "" {
		return false
	}
	if product == pkg {
		return true
	}
	a, err1 := packageurl.FromString(product)
	b, err2 := packageurl.FromString(pkg)
	if err1 != nil || err2 != nil {
		return false
	}
	return a.Type == b.Type && a.Namespace == b.Namespace && a.Name == b.Name && (a.Version == "" || a.Version == b.Version)
}

// isImage: the product is the image, by its reference, its digest, or a
// pkg:oci PURL whose version is the digest.
func isImage(id, ref, digest string) bool {
	if id == "" {
		return false
	}
	if id == ref || (digest != "" && id == digest) {
		return true
	}
	if u, err := packageurl.FromString(id); err == nil && u.Type == "oci" && digest != "" {
		return u.Version == digest
	}
	return false
}
