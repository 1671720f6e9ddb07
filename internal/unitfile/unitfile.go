// Package unitfile reads a systemd unit file as INI, for the tests that
// hold deploy/systemd's units to the binaries they start.
package unitfile

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Unit is a unit file: section → key → values (a key may repeat).
type Unit map[string]map[string][]string

// Read parses a unit file. Continuation lines are not used in vwire's
// units, so one is an error, as is a key outside a section.
func Read(path string) (Unit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := Unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				return nil, fmt.Errorf("%s:%d: not a key=value in a section: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out, sc.Err()
}

// ParseExec checks that the unit's ExecStart runs bin (any directory) and
// parses its arguments with fs, so that a unit naming a flag the binary
// lacks fails.
func (u Unit) ParseExec(bin string, fs *flag.FlagSet) error {
	exec := strings.Fields(strings.Join(u["Service"]["ExecStart"], ""))
	if len(exec) == 0 || filepath.Base(exec[0]) != bin {
		return fmt.Errorf("ExecStart %v does not run %s", exec, bin)
	}
	if err := fs.Parse(exec[1:]); err != nil {
		return fmt.Errorf("ExecStart's arguments %v: %w", exec[1:], err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("ExecStart's arguments %v: %v left over", exec[1:], fs.Args())
	}
	return nil
}
