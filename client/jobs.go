package client

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// oVirt's /jobs with their steps, and vwire's profile rewire (a bulk job
// with one step per VM), cancel and retry: the SDK's job types lack
// nothing here, but its services have no rewire, cancel or retry, so the
// few fields read are read with encoding/xml.

// Job is a job as the engine reports it.
type Job struct {
	ID          string `xml:"id,attr"`
	Description string `xml:"description"`
	// Status is started, finished, failed or aborted.
	Status      string `xml:"status"`
	StartTime   string `xml:"start_time"`
	EndTime     string `xml:"end_time"`
	LastUpdated string `xml:"last_updated"`
}

// Ended says whether the job is over.
func (j *Job) Ended() bool { return j.Status != "" && j.Status != "started" }

// Step is one step of a job; a rewire's step is one VM.
type Step struct {
	ID          string `xml:"id,attr"`
	Number      int    `xml:"number"`
	Description string `xml:"description"`
	Status      string `xml:"status"`
	StartTime   string `xml:"start_time"`
	EndTime     string `xml:"end_time"`
}

// Ended says whether the step is over (finished, failed or aborted).
func (s *Step) Ended() bool { return s.Status != "" && s.Status != "started" }

// VMResult splits a rewire step's description ("VM <name>: <what>") into
// the VM's name and what happened to it (the reasons when it failed).
func (s *Step) VMResult() (vm, what string) {
	d := strings.TrimPrefix(s.Description, "VM ")
	vm, what, ok := strings.Cut(d, ": ")
	if !ok {
		return "", s.Description
	}
	return vm, what
}

// RewireSpec is a profile rewire: the vNICs of one profile move to ToID,
// optionally only on the VMs of a cluster and/or a VM search selects.
type RewireSpec struct {
	ToID      string
	ClusterID string
	Search    string
}

// actionAnswer is an action's answer that names a job.
type actionAnswer struct {
	Status string `xml:"status"`
	Job    Job    `xml:"job"`
}

// Rewire starts moving every vNIC of profile fromID (vwire's extension
// POST /vnicprofiles/{id}/rewire) and returns the job's id at once.
func (c *Client) Rewire(ctx context.Context, fromID string, s RewireSpec) (string, error) {
	x := struct {
		XMLName xml.Name `xml:"action"`
		Profile idRef    `xml:"vnic_profile"`
		Cluster *idRef   `xml:"cluster,omitempty"`
		Search  string   `xml:"search,omitempty"`
	}{Profile: idRef{s.ToID}, Search: s.Search}
	if s.ClusterID != "" {
		x.Cluster = &idRef{s.ClusterID}
	}
	body, err := xml.Marshal(x)
	if err != nil {
		return "", err
	}
	return c.jobAction(ctx, "/vnicprofiles/"+esc(fromID)+"/rewire", body)
}

// RetryJob starts a new rewire over the VMs whose step failed in job id,
// and returns the new job's id.
func (c *Client) RetryJob(ctx context.Context, id string) (string, error) {
	return c.jobAction(ctx, "/jobs/"+esc(id)+"/retry", []byte("<action/>"))
}

func (c *Client) jobAction(ctx context.Context, path string, body []byte) (string, error) {
	data, err := c.call(ctx, "POST", path, body)
	if err != nil {
		return "", err
	}
	var a actionAnswer
	if err := xml.Unmarshal(data, &a); err != nil || a.Job.ID == "" {
		return "", fmt.Errorf("reading the engine's answer: no job in %q (%v)", data, err)
	}
	return a.Job.ID, nil
}

// CancelJob stops a rewire from starting more VMs; the job ends aborted
// once the VMs being handled finish.
func (c *Client) CancelJob(ctx context.Context, id string) (*Job, error) {
	data, err := c.call(ctx, "POST", "/jobs/"+esc(id)+"/cancel", []byte("<action/>"))
	if err != nil {
		return nil, err
	}
	var a actionAnswer
	if err := xml.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return &a.Job, nil
}

// Job reads a job.
func (c *Client) Job(ctx context.Context, id string) (*Job, error) {
	data, err := c.call(ctx, "GET", "/jobs/"+esc(id), nil)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := xml.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return &j, nil
}

// JobSteps reads a job's steps, in order.
func (c *Client) JobSteps(ctx context.Context, id string) ([]Step, error) {
	data, err := c.call(ctx, "GET", "/jobs/"+esc(id)+"/steps", nil)
	if err != nil {
		return nil, err
	}
	var x struct {
		Steps []Step `xml:"step"`
	}
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("reading the engine's answer: %w", err)
	}
	return x.Steps, nil
}

// WatchJob polls a job and its steps every interval until it ends or ctx
// does, calling seen with each reading (for a progress display); it
// returns the last reading.
func (c *Client) WatchJob(ctx context.Context, id string, interval time.Duration, seen func(*Job, []Step)) (*Job, []Step, error) {
	for {
		// The job first: once it reads ended, every step read after it
		// has ended too (the job ends after its last step).
		j, err := c.Job(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		steps, err := c.JobSteps(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if seen != nil {
			seen(j, steps)
		}
		if j.Ended() {
			return j, steps, nil
		}
		select {
		case <-ctx.Done():
			return j, steps, ctx.Err()
		case <-time.After(interval):
		}
	}
}
