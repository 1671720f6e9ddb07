package restapi

import (
	"errors"
	"net/http"

	"vwire.dev/vwire"
)

// status maps error codes to HTTP statuses; the only such table.
var status = map[vwire.Code]int{
	vwire.EINVALID:      http.StatusBadRequest,
	vwire.EINCOMPLETE:   http.StatusBadRequest,
	vwire.ECONFLICT:     http.StatusConflict,
	vwire.ENOTFOUND:     http.StatusNotFound,
	vwire.EUNAUTHORIZED: http.StatusUnauthorized,
	vwire.EFORBIDDEN:    http.StatusForbidden,
	vwire.ENOTALLOWED:   http.StatusMethodNotAllowed,
	// oVirt answers a failed host call with 400; clients expect that.
	vwire.EHOST:        http.StatusBadRequest,
	vwire.EUNAVAILABLE: http.StatusServiceUnavailable,
	vwire.EINTERNAL:    http.StatusInternalServerError,
}

// faultOf renders err as oVirt's fault, the one place that does: the HTTP
// status from the error's code, the reason and the detail from its message
// key, operation and variables. oVirt prints a detail as its message list,
// "[text]", except for parse and lookup errors, whose messages are bare.
func faultOf(err error) (code int, reason, detail string) {
	var ve *vwire.Error
	if !errors.As(err, &ve) {
		ve = vwire.New(vwire.MsgInternal).Wrap(err)
	}
	code, ok := status[ve.Code]
	if !ok {
		code = http.StatusInternalServerError
	}
	m, known := vwire.MessageOf(ve.Key)
	text := string(ve.Key) // a key without a text: visible, not fatal
	if known {
		text = vwire.Render(m.Text, ve.Op, ve.Vars...)
	}
	if ve.NIC != "" {
		// The rule was checked for one of several vNICs: say which.
		text += " (vNIC " + ve.NIC + ")"
	}
	detail = text
	if !m.Bare {
		detail = "[" + text + "]"
	}
	reason = m.Reason
	if reason == "" {
		reason = "Operation Failed"
		if code == http.StatusNotFound {
			reason = "Not Found"
		}
	}
	return code, reason, detail
}
