package libvirt

import (
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/uuid"
	"libvirt.org/go/libvirtxml"

	"vwire.dev/vwire/hypervisor"
)

// TestNWFilterCatalogue: vwire defines exactly the catalogue's filters,
// each named as its key, each after the filters it refers to.
func TestNWFilterCatalogue(t *testing.T) {
	if !slices.Equal(slices.Sorted(slices.Values(nwfilterOrder)), slices.Sorted(slices.Values(hypervisor.NWFilterNames))) {
		t.Fatalf("nwfilterOrder %v is not the catalogue %v", nwfilterOrder, hypervisor.NWFilterNames)
	}
	for i, name := range nwfilterOrder {
		var f libvirtxml.NWFilter
		if err := f.Unmarshal(nwfilterXML[name]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Name != name {
			t.Errorf("filter under %s is named %s", name, f.Name)
		}
		for _, e := range f.Entries {
			if e.Ref != nil && !slices.Contains(nwfilterOrder[:i], e.Ref.Filter) {
				t.Errorf("%s refers to %s, which is not defined before it", name, e.Ref.Filter)
			}
		}
		if _, err := nwfilterDef(name); err != nil {
			t.Error(err)
		}
	}
	a, _ := nwfilterDef("no-mac-spoofing")
	b, _ := nwfilterDef("no-arp-mac-spoofing")
	if !sameNWFilter(a, a) || sameNWFilter(a, b) {
		t.Error("sameNWFilter does not tell filters apart")
	}
}

// TestNWFiltersAsLibvirtKeepsThem: libvirt accepts every filter, and reads
// each back as vwire wrote it, so an agent start redefines nothing (each
// is defined under a test name, then removed).
func TestNWFiltersAsLibvirtKeepsThem(t *testing.T) {
	if _, err := os.Stat("/run/libvirt/libvirt-sock"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("libvirt is required under CI=true")
		}
		t.Skip("no libvirtd here")
	}
	u, _ := url.Parse(string(golibvirt.QEMUSystem))
	l, err := golibvirt.ConnectToURI(u)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Disconnect()
	if _, err := defineNWFilters(l); err != nil { // what they refer to
		t.Fatal(err)
	}
	prefix := "vwt-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:8] + "-"
	for _, name := range nwfilterOrder {
		var f libvirtxml.NWFilter
		if err := f.Unmarshal(nwfilterXML[name]); err != nil {
			t.Fatal(err)
		}
		f.Name, f.UUID = prefix+name, uuid.NewString()
		want, _ := f.Marshal()
		got, err := l.NwfilterDefineXML(want)
		if err != nil {
			t.Errorf("libvirt refuses %s: %v", name, err)
			continue
		}
		back, err := l.NwfilterGetXMLDesc(got, 0)
		l.NwfilterUndefine(got)
		if err != nil {
			t.Fatal(err)
		}
		if !sameNWFilter(back, want) {
			t.Errorf("libvirt reads %s back otherwise:\n%s\nwrote:\n%s", name, back, want)
		}
	}
}
