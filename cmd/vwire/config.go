package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"vwire.dev/vwire/client"
)

// The CLI's own state: which engine it talks to, the CA it trusts for it
// (saved on first use), and the SSO token of "vwire login". It lives in
// $VWIRE_CONFIG, else in the user's configuration directory
// (~/.config/vwire/config.json), mode 0600: the token is a credential.

type config struct {
	Current string                 `json:"current,omitempty"`
	Engines map[string]*engineConf `json:"engines,omitempty"`
	path    string
}

// engineConf is what the CLI keeps of one engine, keyed by its API URL.
type engineConf struct {
	CAFile  string    `json:"ca_file,omitempty"`
	User    string    `json:"user,omitempty"`
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

func configPath() (string, error) {
	if p := os.Getenv("VWIRE_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no place for the CLI's configuration (set VWIRE_CONFIG): %w", err)
	}
	return filepath.Join(dir, "vwire", "config.json"), nil
}

// loadConfig reads the configuration; a missing file is an empty one.
func loadConfig() (*config, error) {
	p, err := configPath()
	if err != nil {
		return nil, err
	}
	c := &config{path: p}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		c.Engines = map[string]*engineConf{}
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if c.Engines == nil {
		c.Engines = map[string]*engineConf{}
	}
	return c, nil
}

// save writes the configuration atomically, readable by its owner only.
func (c *config) save() error {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), c.path)
}

// engine is the entry of an engine URL, created empty if needed.
func (c *config) engine(apiURL string) *engineConf {
	e := c.Engines[apiURL]
	if e == nil {
		e = &engineConf{}
		c.Engines[apiURL] = e
	}
	return e
}

// caPath is where the CA trusted on first use of an engine is kept.
func (c *config) caPath(apiURL string) string {
	host := apiURL
	if u, err := url.Parse(apiURL); err == nil {
		host = u.Host
	}
	name := strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(host)
	return filepath.Join(filepath.Dir(c.path), "ca-"+name+".pem")
}

// stdin is where prompts and --password-stdin read (tests replace it).
var stdin io.Reader = os.Stdin

// interactive says whether stdin is a terminal a person can answer on.
func interactive() bool {
	f, ok := stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readSecret reads a password: without echo from a terminal, else the
// first line of stdin.
func readSecret(out io.Writer, prompt string) (string, error) {
	if interactive() {
		fmt.Fprint(out, prompt)
		b, err := term.ReadPassword(int(stdin.(*os.File).Fd()))
		fmt.Fprintln(out)
		return string(b), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", errors.New("no password on stdin")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// trustOnFirstUse fetches the CA an engine publishes, shows its fingerprint
// and keeps it only if the administrator confirms it: with
// --accept-fingerprint (compared, for scripts) or on the terminal.
func trustOnFirstUse(ctx context.Context, cfg *config, apiURL, accept string, out io.Writer) (string, error) {
	fc, err := client.FetchCA(ctx, apiURL, 30*time.Second)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(out, "The engine at %s presents a certificate of the CA %q,\nSHA-256 fingerprint %s\n",
		apiURL, fc.CA.Subject.CommonName, fc.Fingerprint)
	switch {
	case accept != "":
		if !client.SameFingerprint(accept, fc.Fingerprint) {
			return "", withCode(exitAuth, fmt.Errorf("not trusted: the engine's CA has fingerprint %s, not %s", fc.Fingerprint, accept))
		}
	case interactive():
		fmt.Fprint(out, "Compare it with the one the engine printed at start. Trust it? [y/N] ")
		ans, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(ans)); a != "y" && a != "yes" {
			return "", withCode(exitAuth, errors.New("not trusted"))
		}
	default:
		return "", withCode(exitAuth, errors.New("not trusted: compare the fingerprint with the one the engine printed at start, "+
			"then run again with --accept-fingerprint "+fc.Fingerprint+" (or give --ca-file)"))
	}
	p := cfg.caPath(apiURL)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, fc.PEM, 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "Trusted; the CA is kept in %s\n", p)
	return p, nil
}

// loginCmd and logoutCmd are the session's commands.
func (s *session) loginCmd() *cobra.Command {
	var accept string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "login",
		Short: "trust the engine (its CA given, kept, or trusted on first use by its fingerprint) and keep a token",
		Args:  nargs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.loadConfig(); err != nil {
				return err
			}
			return s.g.login(cmd.Context(), accept, pwStdin, s.out)
		},
	}
	cmd.Flags().StringVar(&accept, "accept-fingerprint", "", "the SHA-256 fingerprint of the engine's CA to trust (as the engine prints it at start)")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from stdin's first line")
	return cmd
}

func (s *session) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "end the kept token",
		Args:  nargs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.loadConfig(); err != nil {
				return err
			}
			if s.g.url == "" {
				s.g.url = cmp.Or(s.g.cfg.Current, defaultURL)
			}
			return s.g.logout(s.out)
		},
	}
}

// loadConfig marks the command run and reads the CLI's configuration for
// the session commands, which work without credentials.
func (s *session) loadConfig() error {
	s.ran = true
	cfg, err := loadConfig()
	s.g.cfg = cfg
	return err
}

// login trusts the engine (its CA given, kept, or trusted on first use),
// trades the password for an SSO token and keeps the token.
func (g *globals) login(ctx context.Context, accept string, pwStdin bool, out io.Writer) error {
	if g.url == "" {
		g.url = cmp.Or(g.cfg.Current, defaultURL)
	}
	e := g.cfg.Engines[g.url]
	if e != nil && g.caFile == "" {
		g.caFile = e.CAFile
	}
	if e != nil && g.user == "" {
		g.user = e.User
	}
	g.user = cmp.Or(g.user, defaultUser)
	if g.caFile == "" && strings.HasPrefix(g.url, "https://") {
		p, err := trustOnFirstUse(ctx, g.cfg, g.url, accept, out)
		if err != nil {
			return err
		}
		g.caFile = p
	} else if accept != "" {
		// Already trusted (a script logging in again): the kept CA must be
		// the one named.
		fp, err := fileFingerprint(g.caFile)
		if err != nil {
			return err
		}
		if !client.SameFingerprint(accept, fp) {
			return withCode(exitAuth, fmt.Errorf("the CA trusted for %s (%s) has fingerprint %s, not %s", g.url, g.caFile, fp, accept))
		}
	}
	if g.password == "" || pwStdin {
		pw, err := readSecret(out, "Password for "+g.user+": ")
		if err != nil {
			return err
		}
		g.password = pw
	}
	c, err := client.New(client.Options{URL: g.url, User: g.user, Password: g.password, Timeout: time.Minute, CAFile: g.caFile})
	if err != nil {
		return err
	}
	s, err := c.Login(ctx)
	if err != nil {
		return err
	}
	e = g.cfg.engine(g.url)
	e.User, e.Token, e.Expires = g.user, s.Token, s.Expires
	if g.caFile != "" {
		if abs, err := filepath.Abs(g.caFile); err == nil {
			e.CAFile = abs
		}
	}
	g.cfg.Current = g.url
	if err := g.cfg.save(); err != nil {
		return err
	}
	fmt.Fprintf(out, "Logged in to %s as %s; the session ends when unused for the engine's idle timeout, at the latest %s.\n",
		g.url, g.user, s.Expires.Local().Format(time.RFC3339))
	return nil
}

// logout ends the kept token on the engine and forgets it.
func (g *globals) logout(out io.Writer) error {
	e := g.cfg.Engines[g.url]
	if e == nil || e.Token == "" {
		fmt.Fprintf(out, "Not logged in to %s.\n", g.url)
		return nil
	}
	c, err := client.New(client.Options{URL: g.url, Token: e.Token, Timeout: time.Minute, CAFile: e.CAFile})
	if err != nil {
		return err
	}
	if err := c.Logout(context.Background()); err != nil {
		return err
	}
	e.Token, e.Expires = "", time.Time{}
	if err := g.cfg.save(); err != nil {
		return err
	}
	fmt.Fprintf(out, "Logged out of %s.\n", g.url)
	return nil
}

// fileFingerprint is the SHA-256 fingerprint of the first certificate of a
// PEM file.
func fileFingerprint(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return client.Fingerprint(c), nil
}
