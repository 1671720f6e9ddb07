// Package ovf reads and writes oVirt's OVF: an Envelope whose
// VirtualHardwareSection lists a VM's or a template's devices. vwire uses
// the network items (name, MAC, type, network, profile, linked, plugged);
// other hardware it writes for oVirt's readers and ignores on input.
//
// Reading is defensive: a document larger than MaxSize, deeper than
// maxDepth, with more than maxElements elements, or with a DOCTYPE (the door
// to external and expanding entities) is refused before it is decoded.
package ovf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on a document to read.
const (
	MaxSize     = 1 << 20
	maxDepth    = 32
	maxElements = 50000
)

// VM is what an OVF says of a VM or template.
type VM struct {
	ID             string
	Name           string
	Description    string
	Template       bool
	TemplateID     string
	TemplateName   string
	ClusterVersion string
	MemoryMiB      int64
	OSType         string
	NICs           []NIC
}

// NIC is a network item of the hardware section.
type NIC struct {
	ID        string
	Name      string
	MAC       string
	Interface string // oVirt's REST name: virtio, e1000, …
	Network   string // "" is the empty network
	Profile   string // vNIC profile name
	Linked    bool
	Plugged   bool
}

// oVirt's VmInterfaceType values, as OVF's ResourceSubType carries them.
var subTypes = map[string]int{"rtl8139_virtio": 0, "rtl8139": 1, "e1000": 2, "virtio": 3, "spapr_vlan": 4, "pci_passthrough": 5, "e1000e": 6}

var speeds = map[string]int{"rtl8139_virtio": 1000, "rtl8139": 100, "e1000": 1000, "virtio": 10000, "spapr_vlan": 1000, "pci_passthrough": 1000, "e1000e": 1000}

const (
	nsOVF  = "http://schemas.dmtf.org/ovf/envelope/1/"
	nsRASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
	nsVSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
	nsXSI  = "http://www.w3.org/2001/XMLSchema-instance"
)

// ---- writing: element names carry their prefixes literally.

type wEnvelope struct {
	XMLName xml.Name  `xml:"ovf:Envelope"`
	OVF     string    `xml:"xmlns:ovf,attr"`
	RASD    string    `xml:"xmlns:rasd,attr"`
	VSSD    string    `xml:"xmlns:vssd,attr"`
	XSI     string    `xml:"xmlns:xsi,attr"`
	Version string    `xml:"ovf:version,attr"`
	Refs    struct{}  `xml:"References"`
	Nets    wNetworks `xml:"Section"`
	Content wContent  `xml:"Content"`
}

type wNetworks struct {
	Type     string `xml:"xsi:type,attr"`
	Info     string `xml:"Info"`
	Networks []struct {
		Name string `xml:"ovf:name,attr"`
	} `xml:"Network"`
}

type wContent struct {
	ID             string     `xml:"ovf:id,attr"`
	Type           string     `xml:"xsi:type,attr"`
	Name           string     `xml:"Name"`
	Description    string     `xml:"Description"`
	TemplateID     string     `xml:"TemplateId,omitempty"`
	TemplateName   string     `xml:"TemplateName,omitempty"`
	ClusterVersion string     `xml:"ClusterCompatibilityVersion,omitempty"`
	IsTemplate     bool       `xml:"IsTemplate,omitempty"`
	Sections       []wSection `xml:"Section"`
}

type wSection struct {
	ID          string  `xml:"ovf:id,attr,omitempty"`
	Type        string  `xml:"xsi:type,attr"`
	Info        string  `xml:"Info"`
	Description string  `xml:"Description,omitempty"`
	Items       []wItem `xml:"Item"`
}

type wItem struct {
	Caption      string `xml:"rasd:Caption"`
	InstanceID   string `xml:"rasd:InstanceId"`
	ResourceType int    `xml:"rasd:ResourceType"`
	Quantity     int64  `xml:"rasd:VirtualQuantity,omitempty"`
	Units        string `xml:"rasd:AllocationUnits,omitempty"`
	OtherType    string `xml:"rasd:OtherResourceType,omitempty"`
	SubType      string `xml:"rasd:ResourceSubType,omitempty"`
	Connection   string `xml:"rasd:Connection,omitempty"`
	Linked       string `xml:"rasd:Linked,omitempty"`
	Name         string `xml:"rasd:Name,omitempty"`
	ElementName  string `xml:"rasd:ElementName,omitempty"`
	MAC          string `xml:"rasd:MACAddress,omitempty"`
	Speed        int    `xml:"rasd:speed,omitempty"`
	Type         string `xml:"Type,omitempty"`
	Device       string `xml:"Device,omitempty"`
	Plugged      string `xml:"IsPlugged,omitempty"`
}

// Write renders v as oVirt's OVF.
func Write(v *VM) ([]byte, error) {
	e := wEnvelope{OVF: nsOVF, RASD: nsRASD, VSSD: nsVSSD, XSI: nsXSI, Version: "4.5.0.0"}
	e.Nets = wNetworks{Type: "ovf:NetworkSection_Type", Info: "The list of logical networks"}
	seen := map[string]bool{}
	hw := wSection{Type: "ovf:VirtualHardwareSection_Type", Info: fmt.Sprintf("1 CPU, %d Memory", v.MemoryMiB)}
	if v.MemoryMiB > 0 {
		hw.Items = append(hw.Items, wItem{Caption: fmt.Sprintf("%d MB of memory", v.MemoryMiB), InstanceID: "memory", ResourceType: 4,
			Quantity: v.MemoryMiB, Units: "MegaBytes"})
	}
	for _, n := range v.NICs {
		if _, ok := subTypes[n.Interface]; !ok {
			return nil, fmt.Errorf("vNIC %s: unknown interface type %q", n.Name, n.Interface)
		}
		if n.Network != "" && !seen[n.Network] {
			seen[n.Network] = true
			e.Nets.Networks = append(e.Nets.Networks, struct {
				Name string `xml:"ovf:name,attr"`
			}{n.Network})
		}
		caption := "Ethernet adapter on [No Network]"
		if n.Network != "" {
			caption = "Ethernet adapter on " + n.Network
		}
		hw.Items = append(hw.Items, wItem{Caption: caption, InstanceID: n.ID, ResourceType: 10, OtherType: n.Profile,
			SubType: strconv.Itoa(subTypes[n.Interface]), Connection: n.Network, Linked: strconv.FormatBool(n.Linked),
			Name: n.Name, ElementName: n.Name, MAC: n.MAC, Speed: speeds[n.Interface], Type: "interface", Device: "bridge",
			Plugged: strconv.FormatBool(n.Plugged)})
	}
	e.Content = wContent{ID: "out", Type: "ovf:VirtualSystem_Type", Name: v.Name, Description: v.Description, TemplateID: v.TemplateID,
		TemplateName: v.TemplateName, ClusterVersion: v.ClusterVersion, IsTemplate: v.Template,
		Sections: []wSection{
			{ID: v.ID, Type: "ovf:OperatingSystemSection_Type", Info: "Guest Operating System", Description: v.OSType},
			hw,
		}}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ---- reading: local names, whatever the prefixes.

type rEnvelope struct {
	XMLName xml.Name `xml:"Envelope"`
	Content struct {
		Name           string     `xml:"Name"`
		Description    string     `xml:"Description"`
		TemplateID     string     `xml:"TemplateId"`
		TemplateName   string     `xml:"TemplateName"`
		ClusterVersion string     `xml:"ClusterCompatibilityVersion"`
		IsTemplate     string     `xml:"IsTemplate"`
		Sections       []rSection `xml:"Section"`
	} `xml:"Content"`
}

type rSection struct {
	ID          string  `xml:"id,attr"`
	Type        string  `xml:"type,attr"`
	Description string  `xml:"Description"`
	Items       []rItem `xml:"Item"`
}

type rItem struct {
	InstanceID   string `xml:"InstanceId"`
	ResourceType string `xml:"ResourceType"`
	Quantity     string `xml:"VirtualQuantity"`
	OtherType    string `xml:"OtherResourceType"`
	SubType      string `xml:"ResourceSubType"`
	Connection   string `xml:"Connection"`
	Linked       string `xml:"Linked"`
	Name         string `xml:"Name"`
	MAC          string `xml:"MACAddress"`
	Plugged      string `xml:"IsPlugged"`
}

// check refuses documents that are too large, too deep, too wide, or that
// declare a DOCTYPE, before anything is decoded.
func check(data []byte) error {
	if len(data) > MaxSize {
		return fmt.Errorf("the OVF is larger than %d bytes", MaxSize)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth, count, roots := 0, 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.Directive:
			return errors.New("document type declarations are not accepted")
		case xml.StartElement:
			depth++
			count++
			if depth == 1 {
				roots++
			}
			if depth > maxDepth || count > maxElements {
				return fmt.Errorf("the OVF is deeper than %d levels or has more than %d elements", maxDepth, maxElements)
			}
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return errors.New("the OVF must have one root element")
	}
	return nil
}

func parseBool(field, s string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s %q is not a boolean", field, s)
}

// Read parses an OVF. Errors say what is wrong, for a 400 to the client.
func Read(data []byte) (*VM, error) {
	if err := check(data); err != nil {
		return nil, fmt.Errorf("invalid OVF: %w", err)
	}
	var e rEnvelope
	if err := xml.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("invalid OVF: %w", err)
	}
	c := e.Content
	v := &VM{Name: strings.TrimSpace(c.Name), Description: c.Description, TemplateID: strings.TrimSpace(c.TemplateID),
		TemplateName: strings.TrimSpace(c.TemplateName), ClusterVersion: strings.TrimSpace(c.ClusterVersion)}
	var err error
	if v.Template, err = parseBool("IsTemplate", c.IsTemplate, false); err != nil {
		return nil, fmt.Errorf("invalid OVF: %w", err)
	}
	if v.Name == "" {
		return nil, errors.New("invalid OVF: the Content has no Name")
	}
	byType := map[int]string{}
	for k, t := range subTypes {
		byType[t] = k
	}
	for _, s := range c.Sections {
		switch {
		case strings.HasSuffix(s.Type, "OperatingSystemSection_Type"):
			v.ID, v.OSType = strings.TrimSpace(s.ID), strings.TrimSpace(s.Description)
		case strings.HasSuffix(s.Type, "VirtualHardwareSection_Type"):
			for i, it := range s.Items {
				switch strings.TrimSpace(it.ResourceType) {
				case "4":
					if v.MemoryMiB, err = strconv.ParseInt(strings.TrimSpace(it.Quantity), 10, 64); err != nil || v.MemoryMiB <= 0 {
						return nil, fmt.Errorf("invalid OVF: memory item: VirtualQuantity %q is not a positive number", it.Quantity)
					}
				case "10":
					n, err := readNIC(it, byType)
					if err != nil {
						return nil, fmt.Errorf("invalid OVF: network item %d: %w", i+1, err)
					}
					v.NICs = append(v.NICs, n)
				}
			}
		}
	}
	return v, nil
}

func readNIC(it rItem, byType map[int]string) (NIC, error) {
	n := NIC{ID: strings.TrimSpace(it.InstanceID), Name: strings.TrimSpace(it.Name), MAC: strings.TrimSpace(it.MAC),
		Network: strings.TrimSpace(it.Connection), Profile: strings.TrimSpace(it.OtherType)}
	if n.Name == "" {
		return n, errors.New("no Name")
	}
	st, err := strconv.Atoi(strings.TrimSpace(it.SubType))
	if err != nil {
		return n, fmt.Errorf("ResourceSubType %q is not a number", it.SubType)
	}
	var ok bool
	if n.Interface, ok = byType[st]; !ok {
		return n, fmt.Errorf("ResourceSubType %d is not a known interface type", st)
	}
	if n.Linked, err = parseBool("Linked", it.Linked, true); err != nil {
		return n, err
	}
	if n.Plugged, err = parseBool("IsPlugged", it.Plugged, true); err != nil {
		return n, err
	}
	return n, nil
}
