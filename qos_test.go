package vwire_test

import (
	"errors"
	"testing"

	"vwire.dev/vwire"
)

// TestValidateQoS: oVirt's rules for a network QoS, in oVirt's order, each
// with its message; a zero direction is unlimited, three positive values a
// limit.
func TestValidateQoS(t *testing.T) {
	ok := vwire.Rate{Average: 10, Peak: 20, Burst: 5}
	cases := []struct {
		name string
		q    vwire.QoS
		want vwire.MsgKey
	}{
		{"both directions", vwire.QoS{Name: "a", Inbound: ok, Outbound: ok}, ""},
		{"unlimited", vwire.QoS{Name: "a"}, ""},
		{"letters of any script, dot", vwire.QoS{Name: "qualité.1", Outbound: ok}, ""},
		{"largest values", vwire.QoS{Name: "a", Inbound: vwire.Rate{Average: vwire.MaxQoSAverage, Peak: vwire.MaxQoSPeak, Burst: vwire.MaxQoSBurst}}, ""},
		{"peak equal to average", vwire.QoS{Name: "a", Inbound: vwire.Rate{Average: 3, Peak: 3, Burst: 1}}, ""},
		{"cpu type", vwire.QoS{Name: "a", Type: "cpu"}, vwire.MsgQoSTypeNotSupported},
		{"no name", vwire.QoS{}, vwire.MsgQoSNameNotNull},
		{"space in the name", vwire.QoS{Name: "a b"}, vwire.MsgQoSNameInvalid},
		{"peak too high", vwire.QoS{Name: "a", Outbound: vwire.Rate{Average: 1, Peak: vwire.MaxQoSPeak + 1, Burst: 1}}, vwire.MsgQoSOutOfRange},
		{"burst too high", vwire.QoS{Name: "a", Outbound: vwire.Rate{Average: 1, Peak: 1, Burst: vwire.MaxQoSBurst + 1}}, vwire.MsgQoSOutOfRange},
		{"negative average", vwire.QoS{Name: "a", Inbound: vwire.Rate{Average: -1, Peak: 1, Burst: 1}}, vwire.MsgQoSOutOfRange},
		{"inbound without peak", vwire.QoS{Name: "a", Inbound: vwire.Rate{Average: 1, Burst: 1}}, vwire.MsgNetworkQoSMissingValues},
		{"outbound burst only", vwire.QoS{Name: "a", Outbound: vwire.Rate{Burst: 1}}, vwire.MsgNetworkQoSMissingValues},
		{"outbound peak below average", vwire.QoS{Name: "a", Outbound: vwire.Rate{Average: 5, Peak: 4, Burst: 1}}, vwire.MsgNetworkQoSPeakLowerThanAverage},
	}
	for _, tc := range cases {
		q := tc.q
		if q.Type == "" {
			q.Type = vwire.QoSNetwork
		}
		err := vwire.ValidateQoS(vwire.OpAddQoS, &q)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !vwire.IsKey(err, tc.want) {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.want)
		}
	}
	err := vwire.ValidateQoS(vwire.OpAddQoS, &vwire.QoS{Name: "a", Type: vwire.QoSNetwork, Inbound: vwire.Rate{Average: vwire.MaxQoSAverage + 1, Peak: vwire.MaxQoSPeak, Burst: 1}})
	var ve *vwire.Error
	if !errors.As(err, &ve) || vwire.Render(mustText(t, ve.Key), ve.Op, ve.Vars...) != "Cannot add QoS. Values are out of range\n(Legal range is: 0-17179)." {
		t.Errorf("out of range text: %v", err)
	}
}

// TestValidatePassThrough: a pass-through profile has no mirroring, QoS or
// network filter.
func TestValidatePassThrough(t *testing.T) {
	for _, p := range []vwire.VNICProfile{{PassThrough: true, PortMirroring: true}, {PassThrough: true, QoSID: "q"},
		{PassThrough: true, NetworkFilter: vwire.DefaultNWFilter}} {
		if err := vwire.ValidatePassThrough(vwire.OpAddProfile, &p); !vwire.IsKey(err, vwire.MsgPassThroughProfileUnsupportedProperties) {
			t.Errorf("%+v: err = %v", p, err)
		}
	}
	for _, p := range []vwire.VNICProfile{{PassThrough: true}, {PortMirroring: true, QoSID: "q", NetworkFilter: vwire.DefaultNWFilter}} {
		if err := vwire.ValidatePassThrough(vwire.OpAddProfile, &p); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
}

func mustText(t *testing.T, k vwire.MsgKey) string {
	m, ok := vwire.MessageOf(k)
	if !ok {
		t.Fatalf("no text for %s", k)
	}
	return m.Text
}
