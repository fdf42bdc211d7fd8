package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/spf13/cobra"

	"github.com/panicbutton/panicbutton/executors"
	"github.com/panicbutton/panicbutton/internal/accounts"
	"github.com/panicbutton/panicbutton/internal/secret"
)

func newAccountsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List configured accounts and check their credentials",
		Long: `The accounts file (accounts.yaml) lists the exchange accounts panicbutton acts
on. It is looked up at --config, then $PANICBUTTON_CONFIG, then
$XDG_CONFIG_HOME/panicbutton/accounts.yaml (default ~/.config/...).

It never holds a secret: each credential says where to read it —
{env: VAR}, {file: PATH} (must be chmod 600) or {command: [argv...]} (run
without a shell; its stdout is the value). A literal value is refused.`,
		Example: `  # what is configured, and where each credential comes from
  panicbutton accounts list

  # probe every account and flag risky keys (withdrawals enabled, no IP limit)
  panicbutton accounts check --config ./accounts.yaml`,
	}
	cmd.AddCommand(newAccountsListCmd(f), newAccountsCheckCmd(f))
	return cmd
}

// accountsListOptions are the flags of "accounts list".
type accountsListOptions struct {
	Config string
	JSON   bool
}

func newAccountsListCmd(f *Factory) *cobra.Command {
	var o accountsListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show configured accounts and where each credential comes from",
		Long: `List shows every configured account: exchange, key type or version, tags,
endpoint, and where each credential comes from (never its value). It reads no
secret, so it works without any credential available.

Exit status: 0 ok, 2 no accounts file or an invalid one (every problem is
printed as file:line:col: message).`,
		Example: `  panicbutton accounts list
  panicbutton accounts list --config ./accounts.yaml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAccountsList(f, o) },
	}
	cmd.Flags().StringVar(&o.Config, "config", "", "accounts file (default $PANICBUTTON_CONFIG, then $XDG_CONFIG_HOME/panicbutton/accounts.yaml)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

// accountsCheckOptions are the flags of "accounts check".
type accountsCheckOptions struct {
	Config      string
	Names, Tags []string
	JSON        bool
	Timeout     time.Duration
	Concurrency int
}

func newAccountsCheckCmd(f *Factory) *cobra.Command {
	var o accountsCheckOptions
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Probe each account's credentials and report its API keys' posture",
		Long: `Check resolves each selected account's credentials and runs the read-only
keys.inventory action: it prints every API key it can see (masked id,
permissions, IP restriction) and each risk with its fix (withdrawals enabled,
no IP restriction, …). Accounts are probed concurrently; one failing account
does not stop the others. Nothing is changed on any exchange.

Exit status: 0 every account checked, 1 some account failed, 2 bad
arguments or accounts file.`,
		Example: `  panicbutton accounts check
  panicbutton accounts check --tag prod --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAccountsCheck(cmd.Context(), f, o) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Config, "config", "", "accounts file (default $PANICBUTTON_CONFIG, then $XDG_CONFIG_HOME/panicbutton/accounts.yaml)")
	fl.StringArrayVar(&o.Names, "account", nil, "only this account (repeatable)")
	fl.StringArrayVar(&o.Tags, "tag", nil, "only accounts with this tag (repeatable)")
	fl.BoolVar(&o.JSON, "json", false, "print JSON")
	fl.DurationVar(&o.Timeout, "timeout", time.Minute, "time limit per account")
	fl.IntVar(&o.Concurrency, "concurrency", 8, "accounts probed at once")
	return cmd
}

// loadAccountsFile locates and parses the accounts file. An invalid file
// prints every problem to stderr and returns an exit-2 error.
func loadAccountsFile(f *Factory, config string) (*accounts.File, error) {
	path, err := accounts.Locate(config, f.Getenv)
	if err != nil {
		return nil, usageError(err)
	}
	exchanges := slices.Clone(accounts.Exchanges)
	for _, ex := range f.Registry.Exchanges() {
		if !slices.Contains(exchanges, ex) {
			exchanges = append(exchanges, ex)
		}
	}
	file, err := accounts.Load(path, exchanges)
	var me *multierror.Error
	switch {
	case errors.As(err, &me):
		for _, e := range me.Errors {
			fmt.Fprintln(f.ErrOut, e.Error())
		}
		problems := "problems"
		if len(me.Errors) == 1 {
			problems = "problem"
		}
		return nil, &ExitError{Code: ExitUsage, Msg: fmt.Sprintf("invalid accounts file %s (%d %s)", path, len(me.Errors), problems)}
	case err != nil:
		return nil, usageError(err)
	}
	return file, nil
}

// accountJSON is one account in "accounts list --json".
type accountJSON struct {
	Name           string            `json:"name"`
	Exchange       string            `json:"exchange"`
	KeyType        string            `json:"key_type,omitempty"`
	KeyVersion     int               `json:"key_version,omitempty"`
	Tags           []string          `json:"tags"`
	Endpoint       string            `json:"endpoint"`
	BaseURL        string            `json:"base_url,omitempty"`
	FuturesBaseURL string            `json:"futures_base_url,omitempty"`
	Credentials    map[string]string `json:"credentials"`
	SubKeys        []subKeyJSON      `json:"sub_keys,omitempty"`
}

type subKeyJSON struct {
	Sub        string `json:"sub"`
	APIKey     string `json:"api_key"` // masked
	Passphrase string `json:"passphrase,omitempty"`
}

// accountEndpoint is the base URL, or "production".
func accountEndpoint(e accounts.Entry) string {
	if e.BaseURL == "" {
		return "production"
	}
	return e.BaseURL
}

// accountCredentials lists where each configured credential comes from.
func accountCredentials(e accounts.Entry) [][2]string {
	var out [][2]string
	for _, c := range []struct {
		field string
		src   *accounts.Source
	}{{"api_key", e.APIKey}, {"secret", e.Secret}, {"passphrase", e.Passphrase}} {
		if c.src != nil {
			out = append(out, [2]string{c.field, c.src.Describe()})
		}
	}
	return out
}

func runAccountsList(f *Factory, o accountsListOptions) error {
	file, err := loadAccountsFile(f, o.Config)
	if err != nil {
		return err
	}
	if o.JSON {
		out := struct {
			File     string        `json:"file"`
			Accounts []accountJSON `json:"accounts"`
		}{File: file.Path, Accounts: []accountJSON{}}
		for _, e := range file.Accounts {
			a := accountJSON{Name: e.Name, Exchange: e.Exchange, KeyType: e.KeyType, KeyVersion: e.KeyVersion,
				Tags: e.Tags, Endpoint: accountEndpoint(e), BaseURL: e.BaseURL, FuturesBaseURL: e.FuturesBaseURL,
				Credentials: map[string]string{}}
			if a.Tags == nil {
				a.Tags = []string{}
			}
			for _, c := range accountCredentials(e) {
				a.Credentials[c[0]] = c[1]
			}
			for _, sk := range e.SubKeys {
				s := subKeyJSON{Sub: sk.Sub, APIKey: secret.Mask(sk.APIKey)}
				if sk.Passphrase != nil {
					s.Passphrase = sk.Passphrase.Describe()
				}
				a.SubKeys = append(a.SubKeys, s)
			}
			out.Accounts = append(out.Accounts, a)
		}
		return writeJSON(f.Out, out)
	}
	w := f.Out
	fmt.Fprintf(w, "%s in %s\n", accountsCount(len(file.Accounts)), file.Path)
	for _, e := range file.Accounts {
		fmt.Fprintln(w)
		key := e.KeyType
		if e.KeyVersion != 0 {
			key = fmt.Sprintf("key v%d", e.KeyVersion)
		}
		head := []string{e.Name, e.Exchange}
		if key != "" {
			head = append(head, key)
		}
		if len(e.Tags) > 0 {
			head = append(head, "tags "+strings.Join(e.Tags, ","))
		}
		fmt.Fprintf(w, "%s\n", strings.Join(head, "  "))
		endpoint := accountEndpoint(e)
		if e.FuturesBaseURL != "" && e.BaseURL != "" {
			endpoint += " (futures " + e.FuturesBaseURL + ")"
		}
		fmt.Fprintf(w, "  %-12s %s\n", "endpoint", endpoint)
		for _, c := range accountCredentials(e) {
			fmt.Fprintf(w, "  %-12s %s\n", c[0], c[1])
		}
		for _, sk := range e.SubKeys {
			pass := "no passphrase"
			if sk.Passphrase != nil {
				pass = "passphrase " + sk.Passphrase.Describe()
			}
			fmt.Fprintf(w, "  %-12s key %s, %s\n", "sub "+sk.Sub, secret.Mask(sk.APIKey), pass)
		}
	}
	return nil
}

// accountCheck is the outcome of checking one account.
type accountCheck struct {
	Name     string              `json:"name"`
	Exchange string              `json:"exchange"`
	OK       bool                `json:"ok"`
	Class    string              `json:"class,omitempty"` // credentials, config, or an executors.ClassOf class
	Error    string              `json:"error,omitempty"`
	Summary  string              `json:"summary,omitempty"`
	Keys     []executors.Key     `json:"keys"`
	Findings []executors.Finding `json:"findings"`
}

func runAccountsCheck(ctx context.Context, f *Factory, o accountsCheckOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	file, err := loadAccountsFile(f, o.Config)
	if err != nil {
		return err
	}
	entries, err := file.Select(o.Names, o.Tags)
	if err != nil {
		return usageError(err)
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	res := accounts.Resolver{Getenv: f.Getenv, Home: f.Getenv("HOME")}
	results := make([]accountCheck, len(entries))
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for i, e := range entries {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = checkAccount(ctx, f, res, file, e, o.Timeout)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if o.JSON {
		out := struct {
			Accounts []accountCheck `json:"accounts"`
			Failed   int            `json:"failed"`
		}{results, failed}
		if err := writeJSON(f.Out, out); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			printAccountCheck(f.Out, r)
		}
		fmt.Fprintf(f.Out, "\n%s checked, %d failed\n", accountsCount(len(results)), failed)
	}
	if failed > 0 {
		return silentExit(ExitFailed)
	}
	return nil
}

// checkAccount resolves e and runs keys.inventory on it.
func checkAccount(ctx context.Context, f *Factory, res accounts.Resolver, file *accounts.File, e accounts.Entry, timeout time.Duration) accountCheck {
	out := accountCheck{Name: e.Name, Exchange: e.Exchange, Keys: []executors.Key{}, Findings: []executors.Finding{}}
	fail := func(class string, err error) accountCheck {
		out.Class, out.Error = class, err.Error()
		return out
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	acct, err := res.Resolve(ctx, file, e)
	if err != nil {
		return fail("credentials", err)
	}
	if !f.Registry.Supports(e.Exchange, executors.KeysInventory) {
		if _, ok := f.Registry.Driver(e.Exchange); !ok {
			return fail("config", fmt.Errorf("account %s: no driver for exchange %q (known: %s)", e.Name, e.Exchange, strings.Join(f.Registry.Exchanges(), ", ")))
		}
		return fail(executors.ClassOf(executors.ErrUnsupported), fmt.Errorf("account %s: exchange %s does not support %s", e.Name, e.Exchange, executors.KeysInventory))
	}
	exec, err := f.Registry.New(acct, f.Env())
	if err != nil {
		return fail("config", err)
	}
	r, err := exec.Do(ctx, executors.Request{
		Action: executors.KeysInventory,
		Params: executors.WithDefaults(executors.KeysInventory, nil),
		Hooks:  executors.NopHooks{},
	})
	if err != nil {
		return fail(executors.ClassOf(err), fmt.Errorf("account %s: %s: %w", e.Name, executors.KeysInventory, err))
	}
	out.Summary = r.Summary
	if keys, ok := r.Data.([]executors.Key); ok {
		out.Keys = keys
	}
	for i := range out.Keys {
		out.Keys[i].APIKey = maskKeyID(out.Keys[i].APIKey)
	}
	if r.Findings != nil {
		out.Findings = r.Findings
	}
	if r.Status == executors.StatusFailed {
		out.Class, out.Error = "failed", fmt.Sprintf("account %s: %s failed: %s", e.Name, executors.KeysInventory, r.Summary)
		return out
	}
	out.OK = true
	return out
}

// maskKeyID masks a key id unless the executor already did.
func maskKeyID(id string) string {
	if strings.Contains(id, "…") || strings.Contains(id, "*") {
		return id
	}
	return secret.Mask(id)
}

func printAccountCheck(w io.Writer, r accountCheck) {
	fmt.Fprintln(w)
	if !r.OK {
		fmt.Fprintf(w, "%s (%s): FAILED [%s]\n", r.Name, r.Exchange, r.Class)
		for _, line := range strings.Split(r.Error, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
		return
	}
	status := "ok"
	if r.Summary != "" {
		status += ": " + r.Summary
	}
	fmt.Fprintf(w, "%s (%s): %s\n", r.Name, r.Exchange, status)
	for _, k := range r.Keys {
		owner := "master"
		if k.Sub {
			owner = "sub " + k.Owner
		}
		ip := "none (any IP)"
		if k.IPRestricted {
			ip = strings.Join(k.IPs, ",")
			if ip == "" {
				ip = "restricted"
			}
		}
		perms := strings.Join(k.Permissions, ",")
		if perms == "" {
			perms = "-"
		}
		fmt.Fprintf(w, "  key %s  %s  permissions %s  ip %s\n", k.APIKey, owner, perms, ip)
	}
	for _, fd := range r.Findings {
		fmt.Fprintf(w, "  risk [%s] %s: %s\n", fd.Severity, fd.Subject, fd.Message)
		if fd.Fix != "" {
			fmt.Fprintf(w, "    fix: %s\n", fd.Fix)
		}
	}
}

// accountsCount returns "1 account" or "N accounts".
func accountsCount(n int) string {
	if n == 1 {
		return "1 account"
	}
	return fmt.Sprintf("%d accounts", n)
}
