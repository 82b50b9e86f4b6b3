package cli

import (
	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/report"
)

func newExplainCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "explain CHECK-ID",
		Short: "Describe one check: what it looks for, why, and how to fix it",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			reg, err := checks.Registry()
			if err != nil {
				return err
			}
			c, ok := reg.Get(args[0])
			if !ok {
				return usageError("unknown check %q (see `rampart checks`)", args[0])
			}
			return report.WriteExplain(s.out, c)
		},
	}
}
