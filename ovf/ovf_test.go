package ovf

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sample() *VM {
	return &VM{ID: "6b9c0b5e-0000-4000-8000-000000000001", Name: "vm1", Description: "a <test> & more", TemplateID: "00000000-0000-0000-0000-000000000000",
		TemplateName: "Blank", ClusterVersion: "4.8", MemoryMiB: 1024, OSType: "other",
		NICs: []NIC{
			{ID: "n1", Name: "nic1", MAC: "56:6f:00:00:00:01", Interface: "virtio", Network: "red", Profile: "red", Linked: true, Plugged: true},
			{ID: "n2", Name: "nic2", MAC: "56:6f:00:00:00:02", Interface: "e1000", Network: "", Profile: "", Linked: false, Plugged: false},
			{ID: "n3", Name: "nic3", MAC: "56:6f:00:00:00:03", Interface: "rtl8139", Network: "blue", Profile: "mirror", Linked: true, Plugged: false},
		}}
}

func TestRoundTrip(t *testing.T) {
	for _, tmpl := range []bool{false, true} {
		v := sample()
		v.Template = tmpl
		data, err := Write(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`<ovf:Envelope`, `xmlns:rasd=`, `<rasd:ResourceType>10</rasd:ResourceType>`, `<rasd:Linked>false</rasd:Linked>`,
			`<IsPlugged>false</IsPlugged>`, `<rasd:Connection>red</rasd:Connection>`, `<rasd:ResourceSubType>3</rasd:ResourceSubType>`} {
			if !strings.Contains(string(data), want) {
				t.Errorf("OVF lacks %s:\n%s", want, data)
			}
		}
		got, err := Read(data)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(v, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

func TestHostileInput(t *testing.T) {
	good, _ := Write(sample())
	cases := map[string]string{
		"empty":            "",
		"not XML":          "hello",
		"external entity":  `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Envelope><Content><Name>&e;</Name></Content></Envelope>`,
		"billion laughs":   `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Envelope><Content><Name>&b;</Name></Content></Envelope>`,
		"deep":             strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100),
		"huge":             "<Envelope>" + strings.Repeat("<x/>", MaxSize/4) + "</Envelope>",
		"two roots":        "<Envelope/><Envelope/>",
		"no name":          `<Envelope><Content/></Envelope>`,
		"bad subtype":      strings.Replace(string(good), "<rasd:ResourceSubType>3</rasd:ResourceSubType>", "<rasd:ResourceSubType>x</rasd:ResourceSubType>", 1),
		"unknown type":     strings.Replace(string(good), "<rasd:ResourceSubType>3</rasd:ResourceSubType>", "<rasd:ResourceSubType>42</rasd:ResourceSubType>", 1),
		"bad linked":       strings.Replace(string(good), "<rasd:Linked>true</rasd:Linked>", "<rasd:Linked>maybe</rasd:Linked>", 1),
		"bad memory":       strings.Replace(string(good), "<rasd:VirtualQuantity>1024</rasd:VirtualQuantity>", "<rasd:VirtualQuantity>-5</rasd:VirtualQuantity>", 1),
		"nic without name": strings.Replace(string(good), "<rasd:Name>nic1</rasd:Name>", "", 1),
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if v, err := Read([]byte(doc)); err == nil {
				t.Fatalf("accepted: %+v", v)
			} else if !strings.HasPrefix(err.Error(), "invalid OVF") {
				t.Fatalf("error %q does not say the OVF is invalid", err)
			}
		})
	}
}

// FuzzRead: no input panics, and what Read accepts survives a round trip.
func FuzzRead(f *testing.F) {
	good, _ := Write(sample())
	f.Add(good)
	f.Add([]byte(`<Envelope><Content><Name>x</Name></Content></Envelope>`))
	f.Add([]byte(`<!DOCTYPE x><Envelope/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Read(data)
		if err != nil {
			return
		}
		out, err := Write(v)
		if err != nil {
			return // e.g. a name XML cannot carry
		}
		again, err := Read(out)
		if err != nil {
			t.Fatalf("re-reading what was written: %v", err)
		}
		if d := cmp.Diff(v, again); d != "" {
			t.Fatalf("round trip changed the model:\n%s", d)
		}
	})
}
