package engine

import (
	"context"

	"vwire.dev/vwire"
)

// fanOut brings every plugged vNIC of a running VM that uses one of the
// profiles to what its profile now says (mirroring, QoS, filter): one host
// update per VM, one event per VM, and the vNICs a host could not update
// left unsynced with the host's reason. It runs after the change that
// caused it committed. (Being written: issue 15.)
func (e *Engine) fanOut(ctx context.Context, op vwire.Op, profileIDs []string) {
	_, _, _ = ctx, op, profileIDs
}
