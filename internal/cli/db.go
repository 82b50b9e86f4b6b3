package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/vuln"
)

func newDBCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "The local vulnerability database (OSV exports) that image scans read",
	}
	var dir, source string
	var ecosystems []string
	update := &cobra.Command{
		Use:   "update",
		Short: "Download OSV's per-ecosystem exports into the database folder",
		Long: `Download each ecosystem's OSV export (<source>/<Ecosystem>/all.zip) into
--db DIR, atomically, asking the server whether it changed since the last
download; the date of each is recorded in DIR/rampart-db.json. An ecosystem
that fails keeps its previous export; the exit code is then 2.

For air-gapped use, run it where the network is and copy the folder.`,
		Example: `  rampart db update --db ~/.cache/rampart/osv
  rampart db update --db osv/ --ecosystem Debian,Go`,
		RunE: func(*cobra.Command, []string) error {
			if dir == "" {
				return usageError("--db: give the database folder")
			}
			res, err := vuln.Update(s.context(), dir, source, ecosystems, nil, nil)
			if err != nil {
				return usageError("%v", err)
			}
			for _, e := range res.Updated {
				fmt.Fprintf(s.out, "updated   %s\n", e)
			}
			for _, e := range res.Unchanged {
				fmt.Fprintf(s.out, "unchanged %s\n", e)
			}
			var failed []string
			for e := range res.Failed {
				failed = append(failed, e)
			}
			sort.Strings(failed)
			for _, e := range failed {
				fmt.Fprintf(s.err, "failed    %s: %v\n", e, res.Failed[e])
			}
			if len(failed) > 0 {
				return &exitError{code: ExitError}
			}
			return nil
		},
	}
	update.Flags().StringVar(&dir, "db", "", "the database folder")
	update.Flags().StringVar(&source, "source", vuln.DefaultSource, "where the exports are published")
	update.Flags().StringSliceVar(&ecosystems, "ecosystem", vuln.DefaultEcosystems, "ecosystems to download")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show what the database folder holds and when each export was downloaded",
		RunE: func(*cobra.Command, []string) error {
			if dir == "" {
				return usageError("--db: give the database folder")
			}
			meta, err := vuln.ReadMetadata(dir)
			if err != nil {
				return usageError("%v", err)
			}
			start := time.Now()
			db, err := vuln.Load(dir)
			if err != nil {
				return usageError("%v", err)
			}
			var names []string
			for n := range meta.Ecosystems {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				e := meta.Ecosystems[n]
				fmt.Fprintf(s.out, "%-12s downloaded %s (%d MB)\n", n, e.Downloaded.Format(time.RFC3339), e.Size>>20)
			}
			fmt.Fprintf(s.out, "%d advisories (%d withdrawn), newest modified %s, loaded in %s\n", db.Count, db.Withdrawn, db.Updated.Format("2006-01-02"), time.Since(start).Round(time.Millisecond))
			if len(db.Errors) > 0 {
				fmt.Fprintf(s.out, "%d files could not be read: %s\n", len(db.Errors), strings.SplitN(db.Errors[0].Error(), "\n", 2)[0])
			}
			return nil
		},
	}
	status.Flags().StringVar(&dir, "db", "", "the database folder")
	cmd.AddCommand(update, status)
	return cmd
}
