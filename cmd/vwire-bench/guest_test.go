package main

import (
	"testing"
	"time"
)

// The offset is the smallest arrival − guest time within the window: the
// line that waited least in the console; lines outside the window (the
// guest's clock may drift) do not count.
func TestOffsetNear(t *testing.T) {
	pairs := []clockPair{
		{g: 1000, h: 6000},  // 5000
		{g: 2000, h: 6500},  // 4500: the best within the window
		{g: 3000, h: 9000},  // 6000
		{g: 90000, h: 9000}, // outside
	}
	if off, ok := offsetNear(pairs, 2500, 2000); !ok || off != 4500 {
		t.Fatalf("offset %d, %v; want 4500", off, ok)
	}
	if _, ok := offsetNear(pairs, 50000, 100); ok {
		t.Fatal("an offset from no line in the window")
	}
}

func TestConsoleLines(t *testing.T) {
	c := &console{base: time.Unix(100, 0)}
	at := time.Unix(101, 0)
	c.line("VW up=12.00 eth0=52:54:00:00:00:01,carrier=1,downs=1", at) // a status line: no clock
	c.line("VW-T t=5000000", at)
	c.line("VW-CAR t=5100000 52:54:00:00:00:01=0 52:54:00:00:00:02=1", at)
	c.line("VW-T t=105000000", at)
	if len(c.pairs) != 3 || len(c.cars) != 1 {
		t.Fatalf("pairs %v cars %v", c.pairs, c.cars)
	}
	if p := c.pairs[0]; p.g != 5000000 || p.h != int64(time.Second) || !p.tick {
		t.Errorf("clock line: %+v", p)
	}
	if e := c.cars[0]; e.g != 5100000 || e.state["52:54:00:00:00:01"] != "0" || e.state["52:54:00:00:00:02"] != "1" {
		t.Errorf("carrier line: %+v", e)
	}
	// Two clock lines 100 ms apart on the guest's clock, 20 polls: 5 ms each.
	if p := watchPeriods(c.pairs); len(p) != 1 || p[0] != 5*time.Millisecond {
		t.Errorf("periods %v", p)
	}
}
