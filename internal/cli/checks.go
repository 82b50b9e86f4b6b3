package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/report"
)

func newChecksCmd(s *streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List the check catalog",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			reg, err := checks.Registry()
			if err != nil {
				return err
			}
			if err := report.WriteCatalog(s.out, reg.Checks(), output); err != nil {
				return usageError("%v", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(report.CatalogFormats, ", "))
	return cmd
}
