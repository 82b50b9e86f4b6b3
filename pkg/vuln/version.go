package vuln

import (
	"github.com/google/osv-scalibr/semantic"
)

// Compare orders two versions by the rules of an OSV ecosystem ("Debian",
// "Alpine", "Red Hat", "PyPI", "npm", "Go", "Maven", ...; a distro's
// release suffix such as "Debian:12" is accepted): negative, zero or
// positive, as the ecosystem's own tools order them.
func Compare(ecosystem, a, b string) (int, error) {
	va, err := semantic.Parse(a, base(ecosystem))
	if err != nil {
		return 0, err
	}
	return va.CompareStr(b)
}
