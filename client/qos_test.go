package client_test

import (
	"context"
	"net/http"
	"testing"

	ovirtsdk4 "github.com/ovirt/go-ovirt"

	"vwire.dev/vwire/client"
)

// TestQoSAndProfileAttributes: a data center's QoS entities made, found,
// changed (-1 clears a value) and removed through the client, and a
// profile given and cleared QoS, mirroring, a filter and pass-through.
func TestQoSAndProfileAttributes(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	dcs, err := c.DataCenters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dc := dcs[0].MustId()
	q, err := c.AddQoS(ctx, dc, ovirtsdk4.NewQosBuilder().Name("gold").OutboundAverage(1).OutboundPeak(2).OutboundBurst(3).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if q.MustType() != ovirtsdk4.QOSTYPE_NETWORK || q.MustOutboundPeak() != 2 {
		t.Errorf("added %v", q)
	}
	if found, err := c.FindQoS(ctx, dc, "gold"); err != nil || found.MustId() != q.MustId() {
		t.Errorf("FindQoS: %v", err)
	}
	u, err := c.UpdateQoS(ctx, dc, q.MustId(), ovirtsdk4.NewQosBuilder().OutboundAverage(-1).OutboundPeak(-1).OutboundBurst(-1).
		InboundAverage(5).InboundPeak(5).InboundBurst(5).MustBuild())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.OutboundAverage(); ok || u.MustInboundBurst() != 5 {
		t.Errorf("updated %v", u)
	}
	_, err = c.AddQoS(ctx, dc, ovirtsdk4.NewQosBuilder().Name("bad").InboundAverage(5).InboundPeak(4).InboundBurst(1).MustBuild())
	if client.Status(err) != http.StatusBadRequest {
		t.Errorf("peak below average: %v", err)
	}

	nets, err := c.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	none := ""
	p, err := c.AddProfile(ctx, nets[0].MustId(), client.ProfileSpec{Name: "limited", QoSID: q.MustId(), PortMirroring: true, NetworkFilter: &none})
	if err != nil {
		t.Fatal(err)
	}
	if pq, ok := p.Qos(); !ok || pq.MustId() != q.MustId() || !p.MustPortMirroring() {
		t.Errorf("added profile %v", p)
	}
	if _, ok := p.NetworkFilter(); ok {
		t.Error("a profile added with no filter has one")
	}
	off, clean := false, "clean-traffic"
	p, err = c.UpdateProfile(ctx, p.MustId(), client.ProfileUpdate{QoSID: &none, PortMirroring: &off, NetworkFilter: &clean})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Qos(); ok || p.MustPortMirroring() {
		t.Errorf("updated profile %v", p)
	}
	filters, err := c.NetworkFilters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, f := range filters {
		names[f.MustId()] = f.MustName()
	}
	if f, ok := p.NetworkFilter(); !ok || names[f.MustId()] != "clean-traffic" {
		t.Errorf("profile's filter = %v", f)
	}
	on := true
	if _, err := c.UpdateProfile(ctx, p.MustId(), client.ProfileUpdate{PassThrough: &on}); client.Status(err) != http.StatusBadRequest {
		t.Errorf("pass-through with a filter: %v", err)
	}
	p, err = c.UpdateProfile(ctx, p.MustId(), client.ProfileUpdate{PassThrough: &on, NetworkFilter: &none})
	if err != nil || p.MustPassThrough().MustMode() != ovirtsdk4.VNICPASSTHROUGHMODE_ENABLED {
		t.Fatalf("pass-through: %v", err)
	}
	if err := c.RemoveQoS(ctx, dc, q.MustId()); err != nil {
		t.Fatal(err)
	}
	if qs, err := c.QoSs(ctx, dc); err != nil || len(qs) != 0 {
		t.Errorf("after remove: %d, %v", len(qs), err)
	}
}
