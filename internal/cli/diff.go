package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/rampart-k8s/rampart/pkg/secret"
)

// writeUnifiedDiff writes a unified diff of one file that git apply and
// patch -p1 accept: a file that did not exist comes from /dev/null, and a
// last line without a newline is marked as such. Credential values on the
// lines shown (context lines included) are redacted: the diff is for
// people to read; the file written keeps them.
func writeUnifiedDiff(w io.Writer, name, before, after string, existed bool) error {
	a, b := splitLines(before), splitLines(after)
	rel := strings.TrimPrefix(name, "/")
	from, to := "a/"+rel, "b/"+rel
	if !existed {
		from = "/dev/null"
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "--- %s\n+++ %s\n", from, to)
	m := difflib.NewMatcher(a, b)
	groups := m.GetGroupedOpCodes(3)
	needA, needB := make([]bool, len(a)), make([]bool, len(b))
	for _, group := range groups {
		for _, op := range group {
			for i := op.I1; i < op.I2; i++ {
				needA[i] = true
			}
			for j := op.J1; j < op.J2; j++ {
				needB[j] = true
			}
		}
	}
	shownA, shownB := secret.ShownLines(a, needA), secret.ShownLines(b, needB)
	writeLines := func(prefix string, lines []string) {
		for _, l := range lines {
			bw.WriteString(prefix)
			bw.WriteString(l)
			if !strings.HasSuffix(l, "\n") {
				bw.WriteString("\n\\ No newline at end of file\n")
			}
		}
	}
	for _, group := range groups {
		first, last := group[0], group[len(group)-1]
		fmt.Fprintf(bw, "@@ -%s +%s @@\n", hunkRange(first.I1, last.I2), hunkRange(first.J1, last.J2))
		for _, op := range group {
			switch op.Tag {
			case 'e':
				writeLines(" ", shownA[op.I1:op.I2])
			case 'd':
				writeLines("-", shownA[op.I1:op.I2])
			case 'i':
				writeLines("+", shownB[op.J1:op.J2])
			case 'r':
				writeLines("-", shownA[op.I1:op.I2])
				writeLines("+", shownB[op.J1:op.J2])
			}
		}
	}
	return bw.Flush()
}

// hunkRange is a hunk's "start,count" (start 0 for an empty range).
func hunkRange(i1, i2 int) string {
	n := i2 - i1
	start := i1 + 1
	if n == 0 {
		start = i1
	}
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// splitLines keeps each line's newline (the last line may have none).
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
