package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/credentials"
)

// rotateKeysReport is what `starter rotate-keys` did, for the table and for
// --json.
type rotateKeysReport struct {
	ActiveKeyID string `json:"activeKeyID"`
	Store       struct {
		Reencrypted int `json:"reencrypted"`
		Current     int `json:"current"`
		Changed     int `json:"changed"`
		Remaining   int `json:"remaining"`
	} `json:"store"`
	Vault struct {
		Dir         string `json:"dir"`
		Files       int    `json:"files"`
		Rewritten   int    `json:"rewritten"`
		Reencrypted int    `json:"reencrypted"`
		Current     int    `json:"current"`
	} `json:"vault"`
	// OtherKeys are the configured keys other than the active one: the
	// store and the vault no longer need them, Temporal history may.
	OtherKeys []string `json:"otherKeys"`
}

// rotateKeysCommand re-encrypts everything kept at rest — the store's sealed
// secrets and the credential vault's files — under encryption.activeKeyID.
// It talks to neither Temporal nor Graph: payloads in history cannot be
// rewritten, so old keys stay configured for them (see the README's
// "Rotating keys").
func (c *cli) rotateKeysCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rotate-keys",
		Short: "Re-encrypt the store's secrets and the credential vault under encryption.activeKeyID (after adding a new key and making it active)",
		Long: `Re-encrypt every secret kept at rest under the active key.

Add the new key to encryption.keys, make it encryption.activeKeyID, restart the
worker, then run this command. Every secret in the store (users' token caches,
pending sign-ins) and every version in credentials.dir is sealed again under
the active key; running it again does nothing. It refuses, changing nothing, if
something is sealed with a key that is no longer in encryption.keys.

Payloads in Temporal history are not touched (history is immutable): keep the
old keys in encryption.keys until the namespace's retention has passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.loadConfig(); err != nil {
				return err
			}
			report, err := c.rotateKeys()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.stdout, report)
			}
			return c.printRotateKeys(report)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func (c *cli) rotateKeys() (rotateKeysReport, error) {
	var report rotateKeysReport
	sealer, err := credentials.NewSealer(c.ring)
	if err != nil {
		return report, err
	}
	report.ActiveKeyID = sealer.ActiveKeyID()
	for id := range c.ring.Keys {
		if id != report.ActiveKeyID {
			report.OtherKeys = append(report.OtherKeys, id)
		}
	}
	sort.Strings(report.OtherKeys)
	vault, err := app.OpenVault(c.cfg, c.ring)
	if err != nil {
		return report, err
	}
	report.Vault.Dir = vault.Dir()
	st, err := app.OpenStore(c.ctx, c.cfg.Store)
	if err != nil {
		return report, fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()

	// Check both before changing either: a key missing anywhere stops the
	// whole rotation, so the operator fixes the configuration once.
	storeKeys, err := st.SealedSecretKeyIDs(c.ctx)
	if err != nil {
		return report, err
	}
	vaultKeys, err := vault.KeyIDs()
	if err != nil {
		return report, err
	}
	var missing []string
	for _, keys := range []map[string]int{storeKeys, vaultKeys} {
		for id := range keys {
			if !sealer.HasKey(id) && !slices.Contains(missing, id) {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return report, fmt.Errorf("nothing was re-encrypted: secrets at rest are sealed with %s, not in encryption.keys (configured: %s). Add the missing key(s) back to encryption.keys, run rotate-keys, then remove them",
			quoteAll(missing), strings.Join(append([]string{report.ActiveKeyID}, report.OtherKeys...), ", "))
	}

	sr, err := credentials.NewSecretStore(st, sealer).Reencrypt(c.ctx)
	report.Store.Reencrypted, report.Store.Current, report.Store.Changed, report.Store.Remaining = sr.Reencrypted, sr.Current, sr.Changed, sr.Remaining
	if err != nil {
		return report, fmt.Errorf("re-encrypting the store's secrets (%d done, run again to finish): %w", sr.Reencrypted, err)
	}
	vr, err := vault.Reencrypt()
	report.Vault.Files, report.Vault.Rewritten, report.Vault.Reencrypted, report.Vault.Current = vr.Files, vr.Rewritten, vr.Reencrypted, vr.Current
	if err != nil {
		return report, fmt.Errorf("re-encrypting the credential vault in %s (%d files rewritten, run again to finish): %w", vault.Dir(), vr.Rewritten, err)
	}
	if sr.Remaining > 0 {
		return report, errorf(exitFailure, "%d store secrets were sealed under an older key while rotating: a worker or starter still runs with the old encryption.activeKeyID. Restart it with the new configuration and run rotate-keys again", sr.Remaining)
	}
	return report, nil
}

func (c *cli) printRotateKeys(r rotateKeysReport) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "WHERE\tRE-ENCRYPTED\tALREADY UNDER %s\tDETAIL\n", r.ActiveKeyID)
	detail := "-"
	if r.Store.Changed > 0 {
		detail = fmt.Sprintf("%d changed while rotating (left to the newer write)", r.Store.Changed)
	}
	fmt.Fprintf(tw, "store\t%d\t%d\t%s\n", r.Store.Reencrypted, r.Store.Current, detail)
	fmt.Fprintf(tw, "vault\t%d\t%d\t%d of %d files rewritten in %s\n", r.Vault.Reencrypted, r.Vault.Current, r.Vault.Rewritten, r.Vault.Files, r.Vault.Dir)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Everything at rest is sealed with key %q.\n", r.ActiveKeyID)
	if len(r.OtherKeys) > 0 {
		fmt.Fprintf(c.stdout, "The store and the vault no longer need %s; Temporal history written before the rotation does: keep them in encryption.keys until the namespace's retention has passed.\n", quoteAll(r.OtherKeys))
	}
	return nil
}

func quoteAll(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return strings.Join(q, ", ")
}
