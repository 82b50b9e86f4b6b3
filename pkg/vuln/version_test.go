package vuln

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// debianVersion makes a version from Debian policy's pieces: an epoch, an
// upstream part of digits, letters, dots, pluses and tildes, a revision.
func debianVersion(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(5) == 0 {
		fmt.Fprintf(&b, "%d:", r.IntN(3))
	}
	fmt.Fprintf(&b, "%d", r.IntN(4))
	for i := r.IntN(4); i > 0; i-- {
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(&b, ".%d", r.IntN(12))
		case 1:
			fmt.Fprintf(&b, "~%s%d", []string{"rc", "beta", "", "alpha"}[r.IntN(4)], r.IntN(3))
		case 2:
			fmt.Fprintf(&b, "+%s%d", []string{"dfsg", "really", "b", "git"}[r.IntN(4)], r.IntN(3))
		case 3:
			b.WriteString([]string{"a", "b", "z", "A"}[r.IntN(4)])
		default:
			fmt.Fprintf(&b, ".%d", r.IntN(3))
		}
	}
	if r.IntN(4) != 0 {
		fmt.Fprintf(&b, "-%d", r.IntN(5))
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "+deb%du%d", 11+r.IntN(2), r.IntN(3))
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, "~bpo%d", r.IntN(2))
		}
	}
	return b.String()
}

// TestDebianAgreesWithDpkg compares 400 generated pairs with
// `dpkg --compare-versions`: every answer must agree.
func TestDebianAgreesWithDpkg(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg is not installed (Debian's dpkg package)")
	}
	r := rand.New(rand.NewPCG(1, 2))
	agree := 0
	for i := 0; i < 400; i++ {
		a, b := debianVersion(r), debianVersion(r)
		if i%10 == 0 {
			b = a // equal versions too
		}
		got, err := Compare("Debian:12", a, b)
		if err != nil {
			t.Fatalf("%s vs %s: %v", a, b, err)
		}
		want := 0
		if exec.Command(dpkg, "--compare-versions", a, "lt", b).Run() == nil {
			want = -1
		} else if exec.Command(dpkg, "--compare-versions", a, "gt", b).Run() == nil {
			want = 1
		}
		if sign(got) != want {
			t.Errorf("%s vs %s: %d, dpkg says %d", a, b, sign(got), want)
			continue
		}
		agree++
	}
	t.Logf("%d/400 pairs agree with dpkg", agree)
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// chains are versions in increasing order, built from each ecosystem's
// rules: every earlier item is less than every later one.
var chains = map[string][]string{
	"PyPI": {"0.9", "1.0.dev1", "1.0a1.dev1", "1.0a1", "1.0a2", "1.0b1", "1.0b2.post1", "1.0rc1", "1.0rc2", "1.0",
		"1.0.post1.dev1", "1.0.post1", "1.0.post2", "1.0.1", "1.0.10", "1.1.dev0", "1.1a1", "1.1", "1.1.1", "1.2",
		"2.0", "2.0.1", "10.0", "1!0.1", "1!1.0"},
	"npm": {"0.0.1", "0.1.0", "0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.0.10", "1.1.0", "1.2.0-0", "1.2.0", "2.0.0-rc.1", "2.0.0",
		"2.0.1", "2.1.0", "3.0.0", "10.0.0", "10.0.1", "11.0.0", "100.0.0"},
	"Go": {"0.0.0-20200101000000-abcdef123456", "0.1.0", "0.2.0", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.2.0",
		"1.9.0", "1.10.0", "1.10.1", "1.21.0", "1.21.5", "1.22.0-rc.1", "1.22.0", "1.22.1", "2.0.0", "2.0.1", "2.1.0",
		"2.10.0", "3.0.0", "4.0.0", "5.0.0", "10.0.0", "20.0.0"},
	"Alpine": {"0.1-r0", "1.0_alpha1-r0", "1.0_beta1-r0", "1.0_pre1-r0", "1.0_rc1-r0", "1.0-r0", "1.0-r1", "1.0-r10",
		"1.0_p1-r0", "1.0a-r0", "1.0.1-r0", "1.0.2-r0", "1.1-r0", "1.2-r0", "1.2_git20240101-r0", "1.10-r0", "1.10.1-r0",
		"2.0-r0", "2.0.0.1-r0", "2.1-r0", "3.0-r0", "3.0.1-r0", "10.0-r0", "10.1-r0", "11.0-r0"},
	"Red Hat": {"0.1-1", "1.0~rc1-1", "1.0~rc2-1", "1.0-1", "1.0-1.el9", "1.0-2", "1.0-10", "1.0^20240101-1", "1.0a-1",
		"1.0.1-1", "1.1-1", "1.2-1", "1.10-1", "1.10.1-1", "2.0-1", "2.0.1-1", "3.0-1", "10.0-1", "1:0.1-1", "1:1.0-1",
		"1:2.0-1", "2:0.1-1", "2:1.0-1", "3:0-1", "10:0-1"},
	"Maven": {"1.0-alpha-1", "1.0-beta-1", "1.0-milestone-1", "1.0-rc-1", "1.0-SNAPSHOT", "1.0", "1.0-sp-1", "1.0.1",
		"1.1", "1.1.1", "1.2", "1.10", "2.0", "2.0.1", "2.1", "3.0", "3.1", "4.0", "5.0", "6.0", "7.0", "8.0", "9.0", "10.0", "11.0"},
	"Debian": {"0.1-1", "1.0~rc1-1", "1.0-1", "1.0-1+deb12u1", "1.0-2", "1.0-10", "1.0a-1", "1.0+dfsg-1", "1.0.1-1",
		"1.1-1", "1.2~beta-1", "1.2-1", "1.10-1", "2.0-1", "2.0.1-1", "3.0-1", "10.0-1", "1:0.1-1", "1:1.0-1", "1:2.0-1",
		"2:0.1-1", "2:1.0-1", "3:0-1", "9:0-1", "10:0-1"},
}

// TestVersionChains checks every pair of each chain (300 per ecosystem) in
// both orders, and that each version equals itself.
func TestVersionChains(t *testing.T) {
	for eco, chain := range chains {
		pairs := 0
		for i := range chain {
			for j := range chain {
				c, err := Compare(eco, chain[i], chain[j])
				if err != nil {
					t.Fatalf("%s %s vs %s: %v", eco, chain[i], chain[j], err)
				}
				if sign(c) != sign(i-j) {
					t.Errorf("%s: %s vs %s = %d, want %d", eco, chain[i], chain[j], sign(c), sign(i-j))
				}
				if i < j {
					pairs++
				}
			}
		}
		if pairs < 200 {
			t.Errorf("%s: %d pairs, want at least 200", eco, pairs)
		}
	}
	equal := [][3]string{{"PyPI", "1.0", "1.0.0"}, {"PyPI", "1.0.post1", "1.0-1"}, {"npm", "1.0.0+build.1", "1.0.0"}, {"Debian", "0:1.0-1", "1.0-1"}, {"Alpine", "1.0-r0", "1.0-r0"}}
	for _, e := range equal {
		if c, err := Compare(e[0], e[1], e[2]); err != nil || c != 0 {
			t.Errorf("%s: %s vs %s = %d (%v), want equal", e[0], e[1], e[2], c, err)
		}
	}
}

// rpmVersion makes an [epoch:]version-release from RPM's pieces: digits,
// letters, dots, tildes (pre-releases), carets (snapshots).
func rpmVersion(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(5) == 0 {
		fmt.Fprintf(&b, "%d:", r.IntN(3))
	}
	fmt.Fprintf(&b, "%d", r.IntN(4))
	for i := r.IntN(4); i > 0; i-- {
		switch r.IntN(6) {
		case 0:
			fmt.Fprintf(&b, ".%d", r.IntN(12))
		case 1:
			fmt.Fprintf(&b, "~%s%d", []string{"rc", "beta", "alpha"}[r.IntN(3)], r.IntN(3))
		case 2:
			fmt.Fprintf(&b, "^%d", 20240101+r.IntN(3))
		case 3:
			b.WriteString([]string{"a", "b", "z"}[r.IntN(3)])
		default:
			fmt.Fprintf(&b, ".%d", r.IntN(3))
		}
	}
	fmt.Fprintf(&b, "-%d", r.IntN(5))
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, ".el%d", 8+r.IntN(2))
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "_%d", r.IntN(4))
		}
	}
	return b.String()
}

// TestRPMAgreesWithRpm compares 400 generated pairs with rpm's own
// rpm.vercmp (Debian's rpm package), in one rpm process.
func TestRPMAgreesWithRpm(t *testing.T) {
	bin, err := exec.LookPath("rpm")
	if err != nil {
		t.Skip("rpm is not installed (Debian's rpm package: apt-get install rpm)")
	}
	r := rand.New(rand.NewPCG(3, 4))
	var pairs [][2]string
	var script strings.Builder
	script.WriteString("%{lua:")
	for i := 0; i < 400; i++ {
		a, b := rpmVersion(r), rpmVersion(r)
		if i%10 == 0 {
			b = a
		}
		pairs = append(pairs, [2]string{a, b})
		fmt.Fprintf(&script, " print(rpm.vercmp(%q, %q)) print('\\n')", a, b)
	}
	script.WriteString("}")
	out, err := exec.Command(bin, "--eval", script.String()).Output()
	if err != nil {
		t.Fatalf("rpm --eval: %v", err)
	}
	answers := strings.Fields(string(out))
	if len(answers) != len(pairs) {
		t.Fatalf("%d answers for %d pairs", len(answers), len(pairs))
	}
	agree := 0
	for i, p := range pairs {
		got, err := Compare("Red Hat", p[0], p[1])
		if err != nil {
			t.Fatalf("%s vs %s: %v", p[0], p[1], err)
		}
		want := map[string]int{"-1": -1, "0": 0, "1": 1}[answers[i]]
		if sign(got) != want {
			t.Errorf("%s vs %s: %d, rpm says %s", p[0], p[1], sign(got), answers[i])
			continue
		}
		agree++
	}
	t.Logf("%d/400 pairs agree with rpm", agree)
}
