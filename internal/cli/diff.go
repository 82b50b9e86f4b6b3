package cli

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
	groups := groupOpCodes(opCodes(a, b), 3)
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

// opCodes are the edits that turn a into b. Files fix edits keep their
// documents, so when both have the same number of documents they are
// compared document by document: difflib's matcher grows faster than
// linearly with the lines it compares (a 5 MB file took 50 s whole, 0.2 s
// per document).
func opCodes(a, b []string) []difflib.OpCode {
	da, db := documentStarts(a), documentStarts(b)
	if len(da) != len(db) || len(da) < 2 {
		return difflib.NewMatcher(a, b).GetOpCodes()
	}
	// Documents are compared in parallel (one worker a processor), then
	// their edits joined in order.
	per := make([][]difflib.OpCode, len(da))
	parallel(len(da), func(k int) {
		ai, bi := da[k], db[k]
		aj, bj := len(a), len(b)
		if k+1 < len(da) {
			aj, bj = da[k+1], db[k+1]
		}
		if slices.Equal(a[ai:aj], b[bi:bj]) {
			per[k] = []difflib.OpCode{{Tag: 'e', I1: 0, I2: aj - ai, J1: 0, J2: bj - bi}}
			return
		}
		per[k] = difflib.NewMatcher(a[ai:aj], b[bi:bj]).GetOpCodes()
	})
	var out []difflib.OpCode
	for k := range da {
		ai, bi := da[k], db[k]
		for _, op := range per[k] {
			op.I1, op.I2, op.J1, op.J2 = op.I1+ai, op.I2+ai, op.J1+bi, op.J2+bi
			if n := len(out); n > 0 && op.Tag == 'e' && out[n-1].Tag == 'e' {
				out[n-1].I2, out[n-1].J2 = op.I2, op.J2
				continue
			}
			if op.I1 == op.I2 && op.J1 == op.J2 {
				continue
			}
			out = append(out, op)
		}
	}
	return out
}

// parallel calls fn(0..n-1), spread over the processors.
func parallel(n int, fn func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(n, runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n {
					return
				}
				fn(k)
			}
		}()
	}
	wg.Wait()
}

// documentStarts returns the first line of each YAML document: 0 and every
// "---" line.
func documentStarts(lines []string) []int {
	out := []int{0}
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if i > 0 && (t == "---" || strings.HasPrefix(t, "--- ")) {
			out = append(out, i)
		}
	}
	return out
}

// groupOpCodes groups edits into hunks with n lines of context, as
// difflib's GetGroupedOpCodes does.
func groupOpCodes(codes []difflib.OpCode, n int) [][]difflib.OpCode {
	if len(codes) == 0 {
		return nil
	}
	codes = append([]difflib.OpCode{}, codes...)
	if c := codes[0]; c.Tag == 'e' {
		codes[0] = difflib.OpCode{Tag: 'e', I1: max(c.I1, c.I2-n), I2: c.I2, J1: max(c.J1, c.J2-n), J2: c.J2}
	}
	if c := codes[len(codes)-1]; c.Tag == 'e' {
		codes[len(codes)-1] = difflib.OpCode{Tag: 'e', I1: c.I1, I2: min(c.I2, c.I1+n), J1: c.J1, J2: min(c.J2, c.J1+n)}
	}
	var groups [][]difflib.OpCode
	var group []difflib.OpCode
	for _, c := range codes {
		i1, i2, j1, j2 := c.I1, c.I2, c.J1, c.J2
		if c.Tag == 'e' && i2-i1 > 2*n {
			group = append(group, difflib.OpCode{Tag: 'e', I1: i1, I2: min(i2, i1+n), J1: j1, J2: min(j2, j1+n)})
			groups = append(groups, group)
			group = nil
			i1, j1 = max(i1, i2-n), max(j1, j2-n)
		}
		group = append(group, difflib.OpCode{Tag: c.Tag, I1: i1, I2: i2, J1: j1, J2: j2})
	}
	if len(group) > 0 && !(len(group) == 1 && group[0].Tag == 'e') {
		groups = append(groups, group)
	}
	return groups
}
