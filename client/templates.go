package client

import (
	"context"

	ovirtsdk4 "github.com/ovirt/go-ovirt"
)

// Templates lists the templates (Blank among them).
func (c *Client) Templates(ctx context.Context) ([]*ovirtsdk4.Template, error) {
	return list(c, ctx, "/templates", ovirtsdk4.XMLTemplateReadMany)
}

// Template reads a template.
func (c *Client) Template(ctx context.Context, id string) (*ovirtsdk4.Template, error) {
	data, err := c.call(ctx, "GET", "/templates/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	return decode(data, ovirtsdk4.XMLTemplateReadOne)
}

// TemplateNICs lists a template's vNICs (copied to each VM made from it).
func (c *Client) TemplateNICs(ctx context.Context, templateID string) ([]*ovirtsdk4.Nic, error) {
	return list(c, ctx, "/templates/"+esc(templateID)+"/nics", ovirtsdk4.XMLNicReadMany)
}

// RemoveTemplate removes a template.
func (c *Client) RemoveTemplate(ctx context.Context, id string) error {
	return c.remove(ctx, "/templates/"+esc(id))
}
