package cli

import "github.com/spf13/cobra"

// TODO(owner of this file): replace this stub.
func newAuditCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "audit", Short: "not implemented yet", Hidden: true}
}
