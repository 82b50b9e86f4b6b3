package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			commit, when, dirty := "unknown", "", false
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, kv := range bi.Settings {
					switch kv.Key {
					case "vcs.revision":
						commit = kv.Value
					case "vcs.time":
						when = kv.Value
					case "vcs.modified":
						dirty = kv.Value == "true"
					}
				}
			}
			if dirty {
				commit += " (modified)"
			}
			if when != "" {
				commit += " " + when
			}
			_, err := fmt.Fprintf(s.out, "rampart %s\ncommit %s\n%s %s/%s\n", toolVersion(), commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
