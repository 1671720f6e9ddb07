package testenv

import "testing"

func TestParseGuestLine(t *testing.T) {
	l, ok := ParseGuestLine("VW up=12.34 eth0=52:54:00:00:00:01,carrier=1,downs=1,rx=4012,tx=17 eth1=52:54:00:00:00:02,carrier=-,downs=-,rx=-,tx=- ping=198.19.16.1:ok")
	if !ok {
		t.Fatal("not a status line")
	}
	if i := l.Ifaces["52:54:00:00:00:01"]; i != (GuestIface{Name: "eth0", Carrier: "1", Downs: "1", Rx: 4012, Tx: 17}) {
		t.Errorf("eth0: %+v", i)
	}
	if i := l.Ifaces["52:54:00:00:00:02"]; i != (GuestIface{Name: "eth1", Carrier: "-", Downs: "-", Rx: -1, Tx: -1}) {
		t.Errorf("eth1: %+v", i)
	}
	if l.Pings["198.19.16.1"] != "ok" {
		t.Errorf("pings: %v", l.Pings)
	}
	// A line of the guest before it counted packets.
	l, _ = ParseGuestLine("VW up=1.00 eth0=52:54:00:00:00:01,carrier=0,downs=1")
	if i := l.Ifaces["52:54:00:00:00:01"]; i.Carrier != "0" || i.Rx != -1 || i.Tx != -1 {
		t.Errorf("old format: %+v", i)
	}
	if _, ok := ParseGuestLine("VW-UP eth0 52:54:00:00:00:01"); ok {
		t.Error("VW-UP read as a status line")
	}
}
