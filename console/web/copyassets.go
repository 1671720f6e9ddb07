//go:build ignore

// copyassets copies the browser dependencies the console ships from
// web/node_modules (npm ci in web/, versions pinned by package-lock.json)
// into static/, where go:embed takes them: run by go generate, its output
// committed, so that building and running vwire needs no Node.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	for src, dst := range map[string]string{
		"web/node_modules/htmx.org/dist/htmx.min.js":           "static/htmx.min.js",
		"web/node_modules/idiomorph/dist/idiomorph-ext.min.js": "static/idiomorph-ext.min.js",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			fmt.Fprintf(os.Stderr, "copyassets: %v (run npm ci in console/web first)\n", err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.FromSlash(dst), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "copyassets:", err)
			os.Exit(1)
		}
	}
}
