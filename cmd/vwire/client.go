package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client speaks the engine's REST API in JSON, as oVirt's engine writes it
// (booleans and integers as strings).
type client struct {
	base     string
	user     string
	password string
	http     *http.Client
}

// obj is a JSON object of the API.
type obj map[string]any

func (o obj) str(path string) string {
	var cur any = map[string]any(o)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(int64(v))
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}

func (o obj) list(key string) []obj {
	raw, _ := o[key].([]any)
	out := make([]obj, 0, len(raw))
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok {
			out = append(out, obj(m))
		}
	}
	return out
}

// apiError is the engine's fault.
type apiError struct {
	status int
	reason string
	detail string
}

func (e *apiError) Error() string {
	d := strings.TrimSuffix(strings.TrimPrefix(e.detail, "["), "]")
	if d == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.reason, e.status)
	}
	return fmt.Sprintf("%s (HTTP %d)", d, e.status)
}

func (c *client) do(method, path string, body any) (obj, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.user, c.password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Version", "4")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the engine at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var o obj
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
		}
	}
	if resp.StatusCode >= 300 {
		f := o
		if inner, ok := o["fault"].(map[string]any); ok {
			f = inner
		}
		return nil, &apiError{status: resp.StatusCode, reason: f.str("reason"), detail: f.str("detail")}
	}
	return o, nil
}

func (c *client) get(path string) (obj, error)            { return c.do(http.MethodGet, path, nil) }
func (c *client) post(path string, body any) (obj, error) { return c.do(http.MethodPost, path, body) }
func (c *client) put(path string, body any) (obj, error)  { return c.do(http.MethodPut, path, body) }
func (c *client) delete(path string) (obj, error)         { return c.do(http.MethodDelete, path, nil) }
func newClient(base, user, pw string, timeout time.Duration) *client {
	return &client{base: strings.TrimRight(base, "/"), user: user, password: pw, http: &http.Client{Timeout: timeout}}
}

// findByName resolves a name or id in a collection.
func (c *client) find(collection, tag, nameOrID string) (obj, error) {
	all, err := c.get("/" + collection)
	if err != nil {
		return nil, err
	}
	var hits []obj
	for _, o := range all.list(tag) {
		if o.str("id") == nameOrID {
			return o, nil
		}
		if o.str("name") == nameOrID {
			hits = append(hits, o)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("no %s named %q", tag, nameOrID)
	case 1:
		return hits[0], nil
	}
	return nil, fmt.Errorf("%d %ss are named %q; give an id", len(hits), tag, nameOrID)
}

func (c *client) nic(vmID, nameOrID string) (obj, error) {
	return c.find("vms/"+url.PathEscape(vmID)+"/nics", "nic", nameOrID)
}
