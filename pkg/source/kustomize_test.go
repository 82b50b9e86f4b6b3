package source

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCaptureStderr: what a build prints to stderr comes back as distinct
// lines, however long, and os.Stderr is restored even when the build panics.
func TestCaptureStderr(t *testing.T) {
	saved := os.Stderr
	done := make(chan []string)
	go func() {
		done <- captureStderr(func() {
			fmt.Fprintln(os.Stderr, "# Warning: 'bases' is deprecated.")
			fmt.Fprintln(os.Stderr, "# Warning: 'bases' is deprecated.")
			fmt.Fprintln(os.Stderr, strings.Repeat("x", 200<<10)) // longer than a pipe and a Scanner line
			fmt.Fprintln(os.Stderr, "last")
		})
	}()
	select {
	case lines := <-done:
		if len(lines) != 3 || lines[0] != "'bases' is deprecated." || len(lines[1]) > 1100 || lines[2] != "last" {
			t.Errorf("lines %d: %.40q", len(lines), lines)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("captureStderr blocked")
	}
	func() {
		defer func() { _ = recover() }()
		captureStderr(func() { panic("boom") })
	}()
	if os.Stderr != saved {
		t.Error("os.Stderr not restored after a panic")
	}
}
