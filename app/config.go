package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"sigs.k8s.io/yaml"
)

// ConfigFlag registers --config on fs; the function it returns, called
// after fs.Parse, sets from that file (if one was named) every flag not
// given on the command line. It walks the flag set rather than a struct
// of its own, so that a flag added later to either binary can be set
// from the file without an edit here.
func ConfigFlag(fs *flag.FlagSet) func() error {
	path := fs.String("config", "", "a YAML file setting flags by their names (listen: 127.0.0.1:8080, poll-interval: 3s); flags on the command line win over it")
	return func() error {
		if *path == "" {
			return nil
		}
		return LoadConfig(fs, *path)
	}
}

// LoadConfig sets fs's flags from the YAML file at path: each key names a
// flag (as on the command line, without dashes), each value is what the
// flag would take; a list sets a repeatable flag once per element. Flags
// already set (on the command line, parsed before) keep their values. A
// key that names no flag is an error naming it, as a misspelt flag is: a
// typo in a unit file's configuration must not pass silently.
func LoadConfig(fs *flag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	values, err := parseConfig(data)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // errors in a stable order
	for _, k := range keys {
		if fs.Lookup(k) == nil || k == "config" {
			return fmt.Errorf("config %s: unknown key %q (not a flag of %s)", path, k, filepath.Base(fs.Name()))
		}
		if given[k] {
			continue
		}
		for _, v := range values[k] {
			if err := fs.Set(k, v); err != nil {
				return fmt.Errorf("config %s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}

// parseConfig reads a YAML mapping of flag names to scalars or lists of
// scalars, each value as the flag's text.
func parseConfig(data []byte) (map[string][]string, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber() // 1024 stays "1024", not "1.024e+03"
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.New("not a mapping of flag names to values")
	}
	out := map[string][]string{}
	for k, v := range raw {
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		for _, e := range list {
			s, err := scalar(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = append(out[k], s)
		}
	}
	return out, nil
}

func scalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return v.String(), nil
	case nil:
		return "", nil
	}
	return "", errors.New("a flag takes a string, a number, a boolean or a list of them")
}
