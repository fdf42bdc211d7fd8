package cli

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/internal/accounts"
	"github.com/panicbutton/panicbutton/playbooks"
)

func newPlaybooksCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "playbooks",
		Short: "List, show and validate playbooks",
		Long: `List the built-in playbooks, print a playbook's YAML, or validate playbook files.

The playbook format is documented in playbooks/FORMAT.md.`,
		Example: `  panicbutton playbooks list
  panicbutton playbooks show suspicious-call > my-playbook.yaml
  panicbutton playbooks validate my-playbook.yaml`,
	}
	cmd.AddCommand(newPlaybooksListCmd(f), newPlaybooksShowCmd(f), newPlaybooksValidateCmd(f))
	return cmd
}

// localPlaybookDir is where `playbooks list` also looks for *.yaml files.
const localPlaybookDir = "playbooks"

func newPlaybooksListCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the built-in playbooks (and ./playbooks/*.yaml)",
		Example: `  panicbutton playbooks list`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runPlaybooksList(f) },
	}
}

func runPlaybooksList(f *Factory) error {
	tw := tabwriter.NewWriter(f.Out, 0, 0, 2, ' ', 0)
	for _, name := range playbooks.Builtins() {
		pb, err := playbooks.Builtin(name)
		if err != nil {
			return fmt.Errorf("built-in playbook %s: %w", name, err)
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, firstSentence(pb.Description))
	}
	files, _ := filepath.Glob(filepath.Join(localPlaybookDir, "*.yaml"))
	sort.Strings(files)
	for _, path := range files {
		pb, err := playbooks.Load(path)
		if err != nil {
			fmt.Fprintf(tw, "%s\t(invalid: run panicbutton playbooks validate %s)\n", path, path)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\n", path, firstSentence(pb.Description))
	}
	return tw.Flush()
}

// firstSentence shortens a description for a one-line listing.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func newPlaybooksShowCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME|FILE",
		Short: "Print a playbook's YAML source",
		Example: `  # read what a built-in does before running it
  panicbutton playbooks show suspected-key-leak

  # start your own from a built-in
  panicbutton playbooks show freeze-trading > playbooks/bots.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pb, err := playbooks.Load(args[0])
			if err != nil {
				return usageError(err)
			}
			_, err = f.Out.Write(pb.Source)
			return err
		},
	}
}

// PlaybooksValidateOptions are the flags of `playbooks validate`.
type PlaybooksValidateOptions struct {
	Files  []string
	Config string
	Inputs []string // name=value
}

func newPlaybooksValidateCmd(f *Factory) *cobra.Command {
	o := &PlaybooksValidateOptions{}
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check playbook files and report every problem with its position",
		Long: `Parse every FILE (or built-in name) and report every problem as file:line:col: message.

With --config, also check each playbook against that accounts file: targets
that match no account, actions an account's exchange does not support, and
required inputs (give them with --input). Exits 2 when any file has a problem.`,
		Example: `  panicbutton playbooks validate playbooks/*.yaml

  # also check targets, exchange support and required inputs
  panicbutton playbooks validate --config ./accounts.yaml --input service=3commas third-party-breach`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Files = args
			return runPlaybooksValidate(f, o)
		},
	}
	cmd.Flags().StringVar(&o.Config, "config", "", "also check against this accounts file")
	cmd.Flags().StringArrayVar(&o.Inputs, "input", nil, "playbook input as `name=value` for the --config check (repeatable)")
	return cmd
}

func runPlaybooksValidate(f *Factory, o *PlaybooksValidateOptions) error {
	var env *playbooks.Env
	if o.Config != "" {
		file, err := accounts.Load(o.Config, f.Registry.Exchanges())
		if err != nil {
			return usageError(fmt.Errorf("accounts file: %w", err))
		}
		inputs := map[string]string{}
		for _, kv := range o.Inputs {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return usageError(fmt.Errorf("--input %q: want name=value", kv))
			}
			inputs[k] = v
		}
		env = &playbooks.Env{Supports: f.Registry.Supports, Inputs: inputs}
		for _, e := range file.Accounts {
			env.Accounts = append(env.Accounts, playbooks.AccountRef{Name: e.Name, Exchange: e.Exchange, Tags: e.Tags})
		}
	}
	bad := 0
	for _, name := range o.Files {
		pb, err := playbooks.Load(name)
		if err == nil && env != nil {
			err = pb.Check(*env)
		}
		if err != nil {
			bad++
			fmt.Fprintln(f.ErrOut, err.Error())
			continue
		}
		fmt.Fprintf(f.Out, "ok: %s (%d steps)\n", name, len(pb.Steps))
	}
	if bad > 0 {
		return usageError(fmt.Errorf("%d of %d playbooks invalid", bad, len(o.Files)))
	}
	return nil
}
