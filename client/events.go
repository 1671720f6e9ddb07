package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The engine's audit event stream (GET /events, Accept: text/event-stream)
// is vwire's, not oVirt's: the SDK has no service for it. Each frame is
//
//	id: 42
//	event: event
//	data: {"id":"42","code":"1012",…}   (the event as the JSON API renders it)
//
// oldest first; ": keepalive" comment lines keep a quiet stream open.

// StreamEvent is one event of the stream.
type StreamEvent struct {
	ID          int64
	Code        int64
	Severity    string
	Description string
	Time        time.Time
}

// text is a JSON value the engine writes as a string, or as a number or
// boolean (oVirt's JSON writes most literals as strings).
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*t = text(s)
		return nil
	}
	if string(b) == "null" {
		*t = ""
		return nil
	}
	*t = text(b) // a number or a boolean, as written
	return nil
}

// streamData is the JSON of one event in the stream.
type streamData struct {
	ID          text `json:"id"`
	Code        text `json:"code"`
	Severity    text `json:"severity"`
	Description text `json:"description"`
	Time        text `json:"time"` // milliseconds since the epoch
}

// EventStream is an open event stream; Close it.
type EventStream struct {
	body io.ReadCloser
	rd   *bufio.Reader
}

// StreamEvents opens the event stream: the events with ids above from,
// then each new one; with from < 0 only the new ones.
func (c *Client) StreamEvents(ctx context.Context, from int64) (*EventStream, error) {
	path := "/events"
	if from >= 0 {
		path += "?from=" + strconv.FormatInt(from, 10)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	c.header(req, "text/event-stream")
	// The stream lives as long as ctx: the client's overall timeout, meant
	// for one answer, must not end it.
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the engine at %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, parseFault("GET", path, resp.StatusCode, data)
	}
	return &EventStream{body: resp.Body, rd: bufio.NewReaderSize(resp.Body, 64<<10)}, nil
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// Next reads the next event; io.EOF when the engine ended the stream.
func (s *EventStream) Next() (*StreamEvent, error) {
	var data []byte
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" {
				return nil, io.EOF
			}
			if err != io.EOF {
				return nil, err
			}
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != nil {
				return parseStreamEvent(data)
			}
			if err == io.EOF {
				return nil, io.EOF
			}
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
		// id:, event: and comment lines carry nothing the data lacks.
	}
}

func parseStreamEvent(data []byte) (*StreamEvent, error) {
	var d streamData
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("event stream: %w", err)
	}
	e := &StreamEvent{Severity: string(d.Severity), Description: string(d.Description)}
	e.ID, _ = strconv.ParseInt(string(d.ID), 10, 64)
	e.Code, _ = strconv.ParseInt(string(d.Code), 10, 64)
	if ms, err := strconv.ParseInt(string(d.Time), 10, 64); err == nil {
		e.Time = time.UnixMilli(ms)
	} else if t, err := time.Parse(time.RFC3339Nano, string(d.Time)); err == nil {
		e.Time = t
	}
	return e, nil
}

// Count counts the stream's events into n until it ends, without decoding
// them: a vectorised search per read, so that hundreds of subscribers in
// the benchmark's process cost little next to the engine they measure.
func (s *EventStream) Count(n *atomic.Int64) error {
	const sep = "\nid: "
	buf := make([]byte, 64<<10)
	// Frames start with "id: "; the first has no newline before it.
	if head, err := s.rd.Peek(4); err == nil && string(head) == "id: " {
		n.Add(1)
	}
	keep := 0 // bytes of the last read kept, for a separator split across reads
	for {
		m, err := s.rd.Read(buf[keep:])
		chunk := buf[:keep+m]
		n.Add(int64(bytes.Count(chunk, []byte(sep))))
		keep = min(len(sep)-1, len(chunk))
		copy(buf, chunk[len(chunk)-keep:])
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
