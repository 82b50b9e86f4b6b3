package vuln

import (
	"math"
	"strings"
)

// CVSS3 computes a CVSS v3.0 or v3.1 vector's base score, by the
// specification's formulas ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
// is 9.8). ok is false for a vector that is not a complete v3 base vector.
func CVSS3(vector string) (float64, bool) {
	parts := strings.Split(vector, "/")
	if len(parts) < 9 || !strings.HasPrefix(parts[0], "CVSS:3") {
		return 0, false
	}
	m := map[string]string{}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			return 0, false
		}
		m[k] = v
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"UI": {"N": 0.85, "R": 0.62},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	get := func(k string) (float64, bool) {
		w, ok := weights[k][m[k]]
		return w, ok
	}
	av, ok1 := get("AV")
	ac, ok2 := get("AC")
	ui, ok3 := get("UI")
	c, ok4 := get("C")
	i, ok5 := get("I")
	a, ok6 := get("A")
	scope := m["S"]
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || (scope != "U" && scope != "C") {
		return 0, false
	}
	var pr float64
	switch m["PR"] {
	case "N":
		pr = 0.85
	case "L":
		pr = 0.62
		if scope == "C" {
			pr = 0.68
		}
	case "H":
		pr = 0.27
		if scope == "C" {
			pr = 0.5
		}
	default:
		return 0, false
	}
	iss := 1 - (1-c)*(1-i)*(1-a)
	var impact float64
	if scope == "U" {
		impact = 6.42 * iss
	} else {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	exploit := 8.22 * av * ac * pr * ui
	if impact <= 0 {
		return 0, true
	}
	if scope == "U" {
		return roundUp(math.Min(impact+exploit, 10)), true
	}
	return roundUp(math.Min(1.08*(impact+exploit), 10)), true
}

// roundUp is CVSS 3.1's Roundup: the smallest one-decimal number not
// below x, computed on integers to avoid floating-point drift.
func roundUp(x float64) float64 {
	n := int64(math.Round(x * 100000))
	if n%10000 == 0 {
		return float64(n) / 100000
	}
	return float64(n/10000+1) / 10
}
