package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: "p\e[31mwned"
  namespace: app
spec:
  containers:
    - name: c
      image: nginx:1.27
      securityContext:
        privileged: true
`

// TestFirstHour: what a new user reaches for in the first hour.
func TestFirstHour(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(file, []byte(strings.Repeat("# padding\n", 12000)+privilegedPod), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("min-severity hides, fail-on still counts", func(t *testing.T) {
		r := rampart(t, "", "scan", file, "--min-severity", "critical", "--fail-on", "low")
		if r.code != ExitFindings || strings.Contains(r.stdout, " medium ") || !strings.Contains(r.stdout, "pss-privileged") || !strings.Contains(r.stdout, "not shown") {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("compact", func(t *testing.T) {
		r := rampart(t, "", "scan", file, "-o", "compact", "--fail-on", "none")
		line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(file) + `:12011:9 critical pss-privileged .*$`)
		if r.code != ExitOK || !line.MatchString(r.stdout) {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
		for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(l, file+":") {
				t.Errorf("not one finding per line: %q", l)
			}
		}
	})
	t.Run("quiet", func(t *testing.T) {
		r := rampart(t, "", "scan", file, "--quiet")
		if r.code != ExitFindings || r.stdout != "" {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
	})
	t.Run("5-digit lines keep their columns; control characters escaped; summary per check", func(t *testing.T) {
		r := rampart(t, "", "scan", file, "--fail-on", "none")
		if !strings.Contains(r.stdout, "    12011:9 critical ") {
			t.Errorf("position column overflows:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, "\x1b") || !strings.Contains(r.stdout, `p\x1b[31mwned`) {
			t.Errorf("control character not escaped:\n%q", r.stdout)
		}
		if !regexp.MustCompile(`(?m)^findings by check\n\s+1  critical\s+pss-privileged\s`).MatchString(r.stdout) {
			t.Errorf("no per-check summary:\n%s", r.stdout)
		}
	})
	t.Run("disable all, enable a category", func(t *testing.T) {
		r := rampart(t, "", "scan", file, "--disable", "all", "--enable", "capabilities", "-o", "compact", "--fail-on", "none")
		if r.code != ExitOK || strings.Contains(r.stdout, "pss-") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("same path twice", func(t *testing.T) {
		once := rampart(t, "", "scan", file, "-o", "compact", "--fail-on", "none")
		twice := rampart(t, "", "scan", file, dir, dir+"/./pod.yaml", "-o", "compact", "--fail-on", "none")
		if once.stdout != twice.stdout {
			t.Errorf("scanning the same file through three paths changed the findings")
		}
	})
	t.Run("version", func(t *testing.T) {
		r := rampart(t, "", "version")
		if r.code != ExitOK || !strings.HasPrefix(r.stdout, "rampart ") || !strings.Contains(r.stdout, "commit ") {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})
}
