package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/config"
)

func newConfigCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with .rampart.yaml"}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate [FILE]",
		Short: "Validate a configuration file against its JSON schema and the catalog",
		Long:  "Validate FILE, or the .rampart.yaml found walking up from the current folder. Problems are printed as file:line: message; the exit code is 2 when there are any.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			} else if file = config.Find("."); file == "" {
				return usageError("no .rampart.yaml found in this folder or above it")
			}
			reg, err := checks.Registry()
			if err != nil {
				return err
			}
			cfg, err := config.Load(file, reg)
			if err != nil {
				var cerr *config.Error
				if errors.As(err, &cerr) {
					fmt.Fprintln(s.out, cerr.Error())
					return &exitError{code: ExitError, err: fmt.Errorf("%s: %d problem(s)", file, len(cerr.Problems))}
				}
				return usageError("%v", err)
			}
			fmt.Fprintf(s.out, "%s: valid (%d exception(s), %d check(s) disabled, %d allowed registries)\n", file, len(cfg.Exceptions), len(cfg.Checks.Disable), len(cfg.Images.AllowedRegistries))
			return nil
		},
	})
	return cmd
}
