package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMigrateCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit",
		Long:  "Applies the embedded, numbered schema migrations (each in its own transaction) and exits. serve does the same at start-up; run this alone to migrate ahead of a deploy.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, desc, err := sf.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			// Opening applies everything pending; report what it did.
			v, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			applied := []string{}
			for _, m := range st.Applied() {
				applied = append(applied, fmt.Sprintf("%04d_%s", m.Version, m.Name))
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]any{"store": desc, "schemaVersion": v, "applied": applied})
			}
			for _, a := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %s\n", a)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: schema at version %d (up to date)\n", desc, v)
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
